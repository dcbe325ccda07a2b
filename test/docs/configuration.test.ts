import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { loadConfig, type ResolvedConfig } from "../../src/config/load";
import { CONFIG_DOC, configurationReference, FLAGS } from "../../src/config/reference";
import { configSchema } from "../../src/config/schema";

const root = new URL("../../", import.meta.url).pathname;
const page = () => readFileSync(join(root, CONFIG_DOC), "utf8");
const dir = mkdtempSync(join(tmpdir(), "bunbound-docs-"));
const resolv = join(dir, "resolv.conf");
writeFileSync(resolv, "nameserver 192.0.2.53\n");

/** The ```toml blocks of a markdown text, with the heading they stand under. */
function tomlBlocks(md: string): { heading: string; text: string }[] {
  const out: { heading: string; text: string }[] = [];
  let heading = "";
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith("#")) heading = lines[i]!;
    if (lines[i] !== "```toml") continue;
    const end = lines.indexOf("```", i + 1);
    out.push({ heading, text: lines.slice(i + 1, end).join("\n") + "\n" });
    i = end;
  }
  return out;
}

function loadText(name: string, text: string, env: Record<string, string> = {}): ResolvedConfig {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadConfig({ config: file }, env, resolv);
}

const withoutSource = ({ source: _s, ...c }: ResolvedConfig) => c;

/** Every property of a JSON Schema, with its dotted path. */
function properties(node: { properties?: Record<string, unknown>; items?: unknown }, prefix = ""): [string, { description?: string }][] {
  const out: [string, { description?: string }][] = [];
  for (const [k, v] of Object.entries(node.properties ?? {})) {
    const n = v as { description?: string; properties?: Record<string, unknown>; items?: { properties?: Record<string, unknown> } };
    out.push([prefix + k, n]);
    if (n.properties) out.push(...properties(n, `${prefix}${k}.`));
    if (n.items?.properties) out.push(...properties(n.items, `${prefix}${k}[].`));
  }
  return out;
}

describe("docs/configuration.md", () => {
  test("is what the generator makes from the schema now", () => {
    const fresh = configurationReference();
    if (page() !== fresh) throw new Error(`${CONFIG_DOC} is stale: run bun run docs:config`);
  });

  test("every setting in the schema has a description", () => {
    const js = z.toJSONSchema(configSchema, { io: "input" }) as Parameters<typeof properties>[0];
    const missing = properties(js).filter(([, n]) => !n.description).map(([k]) => k);
    expect(missing).toEqual([]);
  });

  test("its every-default file loads with the real loader to exactly the defaults", () => {
    const block = tomlBlocks(page()).find((b) => b.heading === "## Every default");
    expect(block).toBeDefined();
    expect(withoutSource(loadText("defaults.toml", block!.text))).toEqual(withoutSource(loadConfig({}, {}, resolv)));
  });

  test("every TOML block on the page loads with the real loader", () => {
    const blocks = tomlBlocks(page());
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const [i, b] of blocks.entries()) {
      try {
        loadText(`block-${i}.toml`, b.text);
      } catch (e) {
        throw new Error(`the TOML under "${b.heading}" does not load: ${(e as Error).message}`);
      }
    }
  });

  test("every environment variable the loader reads is on the page", () => {
    const source = readFileSync(join(root, "src/config/load.ts"), "utf8");
    const read = [...new Set(source.match(/BUNBOUND_[A-Z_]+/g))];
    const listed = FLAGS.map((f) => f.env).filter(Boolean);
    for (const v of read) expect(page()).toContain(v);
    expect(read.filter((v) => v !== "BUNBOUND_UPSTREAM").sort()).toEqual((listed as string[]).sort());
  });

  test("each documented environment variable sets the setting the page names", () => {
    const samples: Record<string, [string, unknown]> = {
      listen: ["127.0.0.1:5301", ["127.0.0.1:5301"]],
      listen_tls: ["127.0.0.1:8853", ["127.0.0.1:8853"]],
      listen_https: ["127.0.0.1:8443,[::1]:8443", ["127.0.0.1:8443", "[::1]:8443"]],
      upstreams: ["192.0.2.9,tls://192.0.2.10#dns.example", ["192.0.2.9", "tls://192.0.2.10#dns.example"]],
      http: ["off", "off"],
      records: ["a.lan 60 A 10.0.0.1", ["a.lan 60 A 10.0.0.1"]],
      data_dir: ["/var/lib/bunbound", "/var/lib/bunbound"],
      log_level: ["debug", "debug"],
      processes: ["2", 2],
      mode: ["recursive", "recursive"],
    };
    for (const f of FLAGS) {
      if (!f.env || !f.key) continue;
      const [value, expected] = samples[f.key]!;
      const c = loadConfig({}, { [f.env]: value }, resolv) as unknown as Record<string, unknown>;
      expect([f.env, c[f.key]]).toEqual([f.env, expected]);
    }
    const file = join(dir, "from-env.toml");
    writeFileSync(file, "log_level = \"warn\"\n");
    expect(loadConfig({}, { BUNBOUND_CONFIG: file }, resolv).log_level).toBe("warn");
  });

  test("every flag src/cli.ts accepts is on the page", () => {
    const cli = readFileSync(join(root, "src/cli.ts"), "utf8");
    const options = cli.slice(cli.indexOf("options: {"), cli.indexOf("},\n    }));"));
    const flags = [...options.matchAll(/^\s+"?([a-z-]+)"?: \{ type: "/gm)].map((m) => `--${m[1]}`);
    expect(flags.length).toBeGreaterThanOrEqual(10);
    const documented = FLAGS.map((f) => f.flag.split(/[ ,]/)[0]);
    expect(flags.filter((f) => !documented.includes(f))).toEqual([]);
  });

  test("the settings it says need a restart are the ones App.reload keeps (RESTART_KEYS)", () => {
    const files = (readdirSync(join(root, "src"), { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    const found = files
      .map((f) => join(root, "src", f))
      .filter((f) => statSync(f).isFile())
      .map((f) => /RESTART_KEYS = \[([^\]]*)\]/.exec(readFileSync(f, "utf8")))
      .find((m) => m !== null);
    if (!found) throw new Error("RESTART_KEYS (the settings a reload keeps) not found under src/");
    const keys = [...found[1]!.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!);
    const js = z.toJSONSchema(configSchema, { io: "input" }) as { properties: Record<string, { description?: string }> };
    const marked = Object.entries(js.properties).filter(([, n]) => /need(s)? a restart/.test(n.description ?? "")).map(([k]) => k);
    expect(marked.sort()).toEqual(keys.sort());
  });
});
