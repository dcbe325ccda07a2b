// docs/configuration.md, generated from the schema: `bun run docs:config` writes it, and a test fails when the
// file differs from what this module makes now. Types, defaults, limits and descriptions come from
// configSchema through zod's own JSON Schema (z.toJSONSchema), so a setting is still written once; only the
// flags, the environment and the example values below are written here.
import { z } from "zod";
import { configSchema } from "./schema";

/** The part of a JSON Schema node this page reads. */
interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Node[];
  items?: Node;
  properties?: Record<string, Node>;
  required?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
}

export const CONFIG_DOC = "docs/configuration.md";

/** Flags (src/cli.ts) and environment variables (src/config/load.ts), with the setting each one sets. */
export const FLAGS: { flag: string; env: string | null; key: string | null; meaning: string }[] = [
  { flag: "--config FILE", env: "BUNBOUND_CONFIG", key: null, meaning: "the TOML file to read" },
  { flag: "--listen ADDR:PORT", env: "BUNBOUND_LISTEN", key: "listen", meaning: "UDP+TCP listener; repeatable. `[::1]:5300` for IPv6; port 0 picks a free port" },
  { flag: "--listen-tls ADDR[:PORT]", env: "BUNBOUND_LISTEN_TLS", key: "listen_tls", meaning: "DNS over TLS listener (port 853 by default); repeatable" },
  { flag: "--listen-https ADDR[:PORT]", env: "BUNBOUND_LISTEN_HTTPS", key: "listen_https", meaning: "DNS over HTTPS listener (port 443 by default, path `doh.path`); repeatable" },
  { flag: "--upstream ADDR[:PORT]", env: "BUNBOUND_UPSTREAMS", key: "upstreams", meaning: "upstream server (port 53 by default), or `tls://ADDR[:PORT][#auth-name]`, `https://HOST[:PORT]/PATH[#ADDR]`; repeatable; tried in order (`BUNBOUND_UPSTREAM` works too)" },
  { flag: "--http ADDR:PORT|off", env: "BUNBOUND_HTTP", key: "http", meaning: "HTTP listener" },
  { flag: "--recursive", env: "BUNBOUND_MODE", key: "mode", meaning: "resolve from the root servers (`mode = \"recursive\"`); the variable takes `forward` or `recursive`" },
  { flag: "--record 'NAME [TTL] [IN] TYPE DATA'", env: "BUNBOUND_RECORDS", key: "records", meaning: "local record; repeatable. Types A, AAAA, CNAME, MX, NS, PTR, SRV, TXT, CAA" },
  { flag: "--zone NAME=FILE", env: null, key: "zone", meaning: "authoritative zone from an RFC 1035 master file; repeatable (the other `[[zone]]` keys at their defaults)" },
  { flag: "--data-dir DIR", env: "BUNBOUND_DATA_DIR", key: "data_dir", meaning: "state directory" },
  { flag: "--log-level debug|info|warn|error", env: "BUNBOUND_LOG_LEVEL", key: "log_level", meaning: "log threshold" },
  { flag: "--processes N", env: "BUNBOUND_PROCESSES", key: "processes", meaning: "N processes answer on the listen ports (SO_REUSEPORT)" },
  { flag: "--version", env: null, key: null, meaning: "print the version and exit 0" },
  { flag: "--help, -h", env: null, key: null, meaning: "print the usage and exit 0" },
];

/** A config that sets what has no default, for the example on this page (every TOML block here must load). */
const EXAMPLE = `listen = ["127.0.0.1:5300", "[::1]:5300"]
http = "127.0.0.1:8053"
http_token = "change-me-to-a-long-random-secret"
upstreams = ["192.0.2.1:53", "[2001:db8::53]"]
records = [
  "printer.lan 300 A 192.168.1.20",
  "www.lan 300 CNAME printer.lan",
  'txt.lan 60 TXT "quoted strings" "several"',
]
hosts = ["/etc/hosts"]

[[forward]]
zone = "corp.example"
upstreams = ["10.1.1.53:53"]

[[zone]]
name = "example.lan"
file = "zones/example.lan.zone"
dnssec = true
transfer_acl = ["127.0.0.0/8", "::1/128", "192.168.1.0/24"]

[discovery]
leases = [{ format = "dnsmasq", file = "/var/lib/misc/dnsmasq.leases" }]
`;

/** Values for the keys of an array-of-tables entry that have no default, so its example block loads. */
const ENTRY_EXAMPLE: Record<string, Record<string, unknown>> = {
  forward: { zone: "corp.example", upstreams: ["10.1.1.53:53"] },
  stub: { zone: "lab.example", servers: ["10.1.2.53"] },
  zone: { name: "example.lan", file: "zones/example.lan.zone" },
};

/** A value as TOML (strings as basic strings: JSON's escapes are TOML's). */
export function toToml(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(toToml).join(", ")}]`;
  if (v && typeof v === "object") return `{ ${Object.entries(v).map(([k, x]) => `${k} = ${toToml(x)}`).join(", ")} }`;
  throw new Error(`no TOML for ${String(v)}`);
}

const isTable = (n: Node) => n.type === "object" && n.properties !== undefined;
const isTableArray = (n: Node) => n.type === "array" && n.items !== undefined && isTable(n.items);
const cell = (s: string) => s.replace(/\|/g, "\\|");

function typeOf(n: Node): string {
  if (n.anyOf) return n.anyOf.map(typeOf).join(" \\| ");
  if (n.const !== undefined) return `\`${toToml(n.const)}\``;
  if (n.enum) return n.enum.map((v) => `\`${toToml(v)}\``).join(" \\| ");
  if (n.type === "array") return isTableArray(n) ? "array of tables" : `array of ${typeOf(n.items ?? {})}`;
  return n.type ?? "any";
}

function limitsOf(n: Node): string {
  const out: string[] = [];
  if (n.minimum !== undefined && n.maximum !== undefined) out.push(`${n.minimum} – ${n.maximum}`);
  else if (n.minimum !== undefined) out.push(`≥ ${n.minimum}`);
  else if (n.maximum !== undefined) out.push(`≤ ${n.maximum}`);
  if (n.minLength !== undefined) out.push(n.minLength === 1 ? "not empty" : `at least ${n.minLength} characters`);
  if (n.minItems !== undefined) out.push(`at least ${n.minItems} ${n.minItems === 1 ? "entry" : "entries"}`);
  if (n.type === "array" && n.items && !isTable(n.items)) {
    const inner = limitsOf(n.items);
    if (inner) out.push(`each ${inner}`);
  }
  return out.join(", ");
}

function defaultOf(n: Node, required: boolean): string {
  if (n.default !== undefined) return `\`${toToml(n.default)}\``;
  return required ? "required" : "none";
}

/** One table of keys: name, type, default, limits, description. */
function keyTable(props: Record<string, Node>, required: string[], prefix = ""): string[] {
  const rows = ["| key | type | default | limits | description |", "|---|---|---|---|---|"];
  for (const [k, n] of Object.entries(props)) {
    rows.push(`| \`${prefix}${k}\` | ${typeOf(n)} | ${cell(defaultOf(n, required.includes(k)))} | ${limitsOf(n)} | ${cell(n.description ?? "")} |`);
    if (isTableArray(n)) {
      const item = n.items!;
      for (const [ik, inode] of Object.entries(item.properties!)) {
        rows.push(`| \`${prefix}${k}[].${ik}\` | ${typeOf(inode)} | ${cell(defaultOf(inode, (item.required ?? []).includes(ik)))} | ${limitsOf(inode)} | ${cell(inode.description ?? "")} |`);
      }
    }
  }
  return rows;
}

/** `key = value` lines for every key that has a default; tables and [[arrays]] of the top level have sections. */
function defaultLines(props: Record<string, Node>, top: boolean): string[] {
  return Object.entries(props)
    .filter(([, n]) => n.default !== undefined && !(top && (isTable(n) || isTableArray(n))))
    .map(([k, n]) => `${k} = ${toToml(n.default)}`);
}

function fence(lang: string, text: string): string[] {
  return ["```" + lang, text.replace(/\n$/, ""), "```"];
}

/** The whole page. */
export function configurationReference(): string {
  const root = z.toJSONSchema(configSchema, { io: "input" }) as Node;
  const props = root.properties!;
  const top = Object.fromEntries(Object.entries(props).filter(([, n]) => !isTable(n) && !isTableArray(n)));
  const tables = Object.entries(props).filter(([, n]) => isTable(n) || isTableArray(n));
  const noDefault = [...Object.entries(top).filter(([, n]) => n.default === undefined).map(([k]) => k), ...tables.filter(([, n]) => isTableArray(n)).map(([k]) => `[[${k}]]`)];
  const restart = Object.entries(props)
    .filter(([, n]) => /need(s)? a restart/.test(n.description ?? ""))
    .map(([k]) => `\`${k}\``);

  const defaults = defaultLines(top, true);
  for (const [k, n] of tables) if (isTable(n)) defaults.push("", `[${k}]`, ...defaultLines(n.properties!, false));

  const out: string[] = [
    "# Configuration reference",
    "",
    "<!-- Generated from src/config/schema.ts by src/config/reference.ts (`bun run docs:config`). Edit the schema's",
    "     .describe() texts, not this file: a test fails when this page is stale. -->",
    "",
    "bunbound reads one TOML file (`--config FILE` or `BUNBOUND_CONFIG`). Every key is optional; unknown keys are",
    "errors. Without a file it runs on the defaults below: UDP and TCP on 127.0.0.1:5300 and [::1]:5300, HTTP on",
    "127.0.0.1:8053, forwarding to the nameservers of /etc/resolv.conf.",
    "",
    "## Where settings come from",
    "",
    "Precedence, lowest first: defaults < config file < `BUNBOUND_*` environment < flags. A list given by the",
    "environment or a flag replaces the file's list (it is not appended to). The same flags work for",
    "`bun run start -- …`, `bun src/cli.ts …` and `dist/bunbound …`.",
    "",
    "| flag | environment | setting | meaning |",
    "|---|---|---|---|",
    ...FLAGS.map((f) => `| \`${cell(f.flag)}\` | ${f.env ? `\`${f.env}\`` : "—"} | ${f.key ? `\`${f.key}\`` : "—"} | ${cell(f.meaning)} |`),
    "",
    "In the environment, `BUNBOUND_LISTEN`, `BUNBOUND_LISTEN_TLS`, `BUNBOUND_LISTEN_HTTPS` and `BUNBOUND_UPSTREAMS` are comma- (or space-) separated and",
    "`BUNBOUND_RECORDS` is separated by `;` or newlines (records contain spaces). Other settings exist only in the file.",
    "",
    "A bad file, flag or variable prints every bad field with its path and the problem, and exits with status 2;",
    "nothing is half-applied:",
    "",
    ...fence("", "$ bunbound --config bad.toml\nbunbound: invalid configuration (bad.toml + flags):\n  records[0]: A needs one IPv4 address, got \"10.0.0\"\n  tcp.max_connections: Too small: expected number to be >=1"),
    "",
    "`SIGHUP` re-reads every source. A valid configuration is swapped in atomically (in-flight queries finish with",
    "the one they started with); a bad one is logged and the running one stays. Some settings need a restart: on",
    "SIGHUP their running values are kept and the log names the changed ones. They are:",
    restart.join(", ") + ".",
    "",
    "## Every default",
    "",
    "Every setting at its default, as a file. These have none (see the example below and their sections):",
    noDefault.map((k) => `\`${k}\``).join(", ") + ".",
    "",
    ...fence("toml", defaults.join("\n")),
    "",
    "## An example",
    "",
    ...fence("toml", EXAMPLE),
    "",
    "## Top-level keys",
    "",
    ...keyTable(top, root.required ?? []),
  ];
  for (const [k, n] of tables) {
    out.push("", isTable(n) ? `## \`[${k}]\`` : `## \`[[${k}]]\``, "");
    if (n.description) out.push(n.description, "");
    if (isTable(n)) {
      out.push(...keyTable(n.properties!, n.required ?? []));
      continue;
    }
    const item = n.items!;
    out.push(`Each \`[[${k}]]\` entry is one table; repeat the header for the next.`, "", ...keyTable(item.properties!, item.required ?? []), "");
    const entry = { ...ENTRY_EXAMPLE[k] };
    for (const [ik, inode] of Object.entries(item.properties!)) if (inode.default !== undefined && !(ik in entry)) entry[ik] = inode.default;
    out.push(...fence("toml", [`[[${k}]]`, ...Object.entries(entry).map(([ik, v]) => `${ik} = ${toToml(v)}`)].join("\n")));
  }
  return out.join("\n") + "\n";
}

if (import.meta.main) {
  const file = new URL(`../../${CONFIG_DOC}`, import.meta.url);
  await Bun.write(file, configurationReference());
  console.log(`wrote ${CONFIG_DOC}`);
}
