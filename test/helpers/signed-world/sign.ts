// A zone of the plan as master-file text, signed by ldns (ldns-keygen, ldns-signzone, ldns-key2ds), each tool
// with a deadline, then broken as the plan says. Returns the text NSD serves and the DS lines for the parent.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nameWire } from "../../conformance/query";
import type { Signing, ZonePlan } from "./plan";

export const LDNS_TOOLS = ["ldns-keygen", "ldns-signzone", "ldns-key2ds"];

/** Every tool gets this long; RSA key generation is the slowest step, well under it. */
const TOOL_MS = 20_000;

/** Finds tools in /usr/sbin too (nsd, unbound), which a non-root PATH may lack. */
export function which(tool: string): string | null {
  return Bun.which(tool) ?? Bun.which(tool, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
}

/** A tool's standard output; throws when it fails or is still running at the deadline (then it is killed). */
export async function tool(cmd: string[], cwd: string): Promise<string> {
  const p = Bun.spawn([which(cmd[0]!) ?? cmd[0]!, ...cmd.slice(1)], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), TOOL_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  if (p.signalCode) throw new Error(`${cmd.join(" ")}: killed (${p.signalCode}) after ${TOOL_MS} ms or by a signal`);
  if (code !== 0) throw new Error(`${cmd.join(" ")}: exit ${code}: ${stderr}`);
  return stdout;
}

const ALGORITHM_NAMES: Record<Signing["algorithm"], string> = { 8: "RSASHA256", 13: "ECDSAP256SHA256", 15: "ED25519", 16: "ED448" };

export interface Key {
  /** ldns's base name (K<origin>+<alg>+<tag>), for ldns-signzone. */
  base: string;
  keyFile: string;
}

async function makeKey(dir: string, origin: string, algorithm: Signing["algorithm"], ksk: boolean): Promise<Key> {
  const bits = algorithm === 8 ? ["-b", "2048"] : [];
  const base = (await tool(["ldns-keygen", "-a", ALGORITHM_NAMES[algorithm], ...bits, ...(ksk ? ["-k"] : []), origin], dir)).trim();
  return { base, keyFile: join(dir, `${base}.key`) };
}

/** The SHA-256 DS of a key file, as a master-file line. */
async function dsOf(key: Key, dir: string): Promise<string> {
  return (await tool(["ldns-key2ds", "-n", "-2", key.keyFile], dir)).trim();
}

/** RFC 4034 appendix B. */
function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/**
 * A DNSKEY of algorithm 253 (RFC 4034 A.1.1: the key starts with a domain name naming the private algorithm)
 * and its SHA-256 DS, computed here since no tool signs with or digests an algorithm it does not know.
 */
function privateKey(origin: string): { dnskey: string; ds: string } {
  const pub = new Uint8Array([...nameWire("alg.bunbound.test."), ...new Array(32).fill(0).map((_, i) => i)]);
  const rdata = new Uint8Array([1, 1, 3, 253, ...pub]);
  const digest = createHash("sha256").update(new Uint8Array([...nameWire(origin), ...rdata])).digest("hex").toUpperCase();
  return {
    dnskey: `${origin} 3600 IN DNSKEY 257 3 253 ${Buffer.from(pub).toString("base64")}`,
    ds: `${origin} 3600 IN DS ${keyTag(rdata)} 253 2 ${digest}`,
  };
}

/** What a parent publishes for a child: NS, glue, and the DS lines (none for an insecure delegation). */
export interface Delegation {
  child: ZonePlan;
  ds: string[];
}

/** The unsigned text: SOA, NS, the server's address (glue in the root), the plan's records, the delegations. */
export function zoneText(plan: ZonePlan, delegations: Delegation[]): string {
  const o = plan.origin;
  const lines = [
    `$ORIGIN ${o}`,
    `$TTL 3600`,
    `${o} IN SOA ${plan.ns} hostmaster.${o === "." ? "root-servers.net." : o} 1 7200 3600 1209600 300`,
    `${o} IN NS ${plan.ns}`,
    `${plan.ns} IN A ${plan.address}`,
    plan.records.trimEnd(),
  ];
  for (const d of delegations) lines.push(`${d.child.origin} IN NS ${d.child.ns}`, `${d.child.ns} IN A ${d.child.address}`, ...d.ds);
  return `${lines.join("\n")}\n`;
}

export interface SignedZone {
  /** What NSD serves. */
  text: string;
  /** The DS lines the parent publishes (empty: insecure delegation). */
  ds: string[];
  /** The zone's KSK (or single key) as a DNSKEY master-file line: the root's is the trust anchor. */
  dnskey?: string;
}

const inception = () => String(Math.floor(Date.now() / 1000) - 3600);
const expiration = () => String(Math.floor(Date.now() / 1000) + 30 * 86400);

/** Signs `text` for `plan` in `dir` (its own, as ldns-keygen writes into the working directory). */
export async function signZone(dir: string, plan: ZonePlan, text: string): Promise<SignedZone> {
  mkdirSync(dir, { recursive: true });
  const s = plan.signing;
  if (!s) return { text, ds: [] };
  const ksk = await makeKey(dir, plan.origin, s.algorithm, true);
  const keys = [ksk, ...(s.split ? [await makeKey(dir, plan.origin, s.algorithm, false)] : [])];
  const priv = plan.ds === "private-algorithm" ? privateKey(plan.origin) : undefined;
  writeFileSync(join(dir, "zone"), priv ? `${text}${priv.dnskey}\n` : text);
  const nsec3 = s.nsec3 ? ["-n", "-t", String(s.nsec3.iterations), ...(s.nsec3.optOut ? ["-p"] : [])] : [];
  const window = ["-i", s.inception ?? inception(), "-e", s.expiration ?? expiration()];
  await tool(["ldns-signzone", ...nsec3, ...window, "-o", plan.origin, "-f", "signed", "zone", ...keys.map((k) => k.base)], dir);
  const signed = await Bun.file(join(dir, "signed")).text();
  const dnskey = (await Bun.file(ksk.keyFile).text()).trim();
  let ds: string[];
  if (plan.ds === "none") ds = [];
  else if (plan.ds === "private-algorithm") ds = [priv!.ds];
  else if (plan.ds === "other-key") {
    const other = join(dir, "other");
    mkdirSync(other);
    ds = [await dsOf(await makeKey(other, plan.origin, s.algorithm, true), other)];
  } else ds = [await dsOf(ksk, dir)];
  return { text: tamper(signed, plan), ds, dnskey };
}

/** Owner, type and (for an RRSIG) the type it covers, of a line of ldns-signzone's output. */
function fieldsOf(line: string): { owner: string; type: string; covered?: string; rest: string[] } | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 5 || line.startsWith(";")) return null;
  return { owner: f[0]!.toLowerCase(), type: f[3]!, covered: f[3] === "RRSIG" ? f[4] : undefined, rest: f };
}

/** The signed text broken as the plan says; untouched when it says nothing. */
export function tamper(text: string, plan: ZonePlan): string {
  const how = plan.signing?.tamper;
  const www = `www.${plan.origin}`;
  const lines = text.split("\n");
  const isWwwSig = (l: string) => {
    const f = fieldsOf(l);
    return f?.owner === www && f.covered === "A";
  };
  if (how === "drop-www-a-signature") return lines.filter((l) => !isWwwSig(l)).join("\n");
  if (how === "drop-dnskey") {
    return lines.filter((l) => {
      const f = fieldsOf(l);
      return !(f && (f.type === "DNSKEY" || f.covered === "DNSKEY"));
    }).join("\n");
  }
  if (how === "flip-www-a-signature") {
    return lines
      .map((l) => {
        if (!isWwwSig(l)) return l;
        // RRSIG rdata: type, algorithm, labels, ttl, expiration, inception, tag, signer, then the base64 signature.
        const f = fieldsOf(l)!.rest;
        const sig = Buffer.from(f.slice(12).join(""), "base64");
        sig[sig.length >> 1] = sig[sig.length >> 1]! ^ 0x01;
        return [...f.slice(0, 12), sig.toString("base64")].join(" ");
      })
      .join("\n");
  }
  return text;
}
