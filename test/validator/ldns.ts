// Zones signed by ldns for the validator tests: keys from ldns-keygen, signatures from ldns-signzone, DS
// records from ldns-key2ds, read back with ldns-read-zone in RFC 3597 form so every RDATA keeps the case and
// bytes the signer saw. Each tool runs with a deadline.
import { afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { keyOf } from "../../src/wire/records";
import { toWire } from "../../src/wire/name";
import { parseMasterText, type ZoneRecord } from "../../src/zones/master";
import { parseDs, type Ds } from "../../src/validator/digests";
import { parseDnskey, parseRrsig, type Dnskey, type RRset, type Rrsig } from "../../src/validator/verify";

const TOOLS = ["ldns-keygen", "ldns-signzone", "ldns-key2ds", "ldns-read-zone", "ldns-nsec3-hash"];
/** The ldns tools that are not installed; the tests that need them skip, saying so once. */
export const LDNS_MISSING = TOOLS.filter((t) => !Bun.which(t));
if (LDNS_MISSING.length) console.warn(`skipping the validator tests against ldns: ${LDNS_MISSING.join(", ")} not installed (apt-get install -y ldnsutils)`);

export const ORIGIN = toWire("example.");
export const IN = 1;
export const HOUR = 3600;
export const DAY = 86400;

/** Several RRsets: A records out of canonical order, names in mixed case, character-strings, wildcards. */
export const ZONE = `$ORIGIN example.
$TTL 300
@ IN SOA Ns1.Example. HostMaster.EXAMPLE. 1 3600 600 86400 300
@ NS Ns1.Example.
@ NS ns2.EXAMPLE.
@ MX 10 Mail.Example.
@ MX 5 BACKUP.example.
ns1 A 192.0.2.53
ns2 A 192.0.2.54
Mail A 192.0.2.25
www 600 A 192.0.2.30
www A 192.0.2.10
www A 192.0.2.2
www A 10.0.0.1
Alias CNAME WWW.Example.
txt TXT "hello world" "second string"
txt TXT "Another"
_sip._tcp SRV 0 5 5060 SipServer.Example.
*.wild A 192.0.2.99
*.wild TXT "wild"
`;

/** The owners the zone has, empty non-terminals included: what NSEC3 hashes. */
export const NAMES = ["example.", "ns1.example.", "ns2.example.", "mail.example.", "www.example.", "alias.example.", "txt.example.",
  "_sip._tcp.example.", "_tcp.example.", "*.wild.example.", "wild.example."];

/** Every tool in these tests gets this long. */
export const TOOL_MS = 20_000;

/** A tool's standard output; throws when it fails or is still running at the deadline (then it is killed). */
export async function run(cmd: string[], cwd: string): Promise<string> {
  const p = Bun.spawn(cmd, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), TOOL_MS);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  if (p.signalCode) throw new Error(`${cmd.join(" ")}: still running after ${TOOL_MS} ms`);
  if (code !== 0) throw new Error(`${cmd.join(" ")}: exit ${code}: ${stderr}`);
  return stdout;
}

/** A temporary directory for one test file's zones, removed after its tests. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The zone the denial-of-existence tests sign (nsec.test.ts adds more names to it): a wildcard, empty
 * non-terminals (ent., b.ent.), a signed delegation (secure., with its DS) and an unsigned one (insecure.), both
 * with glue.
 */
export const DENIAL_ZONE = `$ORIGIN example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.10
alias CNAME www
a.b.ent TXT "deep"
*.wild A 192.0.2.99
secure NS ns.secure
secure DS 12345 13 2 ${"ab".repeat(32)}
ns.secure A 192.0.2.1
insecure NS ns.insecure
ns.insecure A 192.0.2.2
`;

/** The child zone of DENIAL_ZONE's signed delegation. */
export const DENIAL_CHILD = `$ORIGIN secure.example.
$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 192.0.2.1
`;

/**
 * `text` signed for `origin` in the new directory `dir` by a fresh ECDSA P-256 KSK, from an hour before `now` for
 * 30 days, with more ldns-signzone `args` (-n for NSEC3, ...): ldns-read-zone's text of it, every RDATA in RFC
 * 3597 form but the SOA's.
 */
export async function signDenialZone(dir: string, origin: string, text: string, args: string[], now: number): Promise<string> {
  mkdirSync(dir);
  writeFileSync(join(dir, "zone"), text);
  const base = (await run(["ldns-keygen", "-k", "-a", "ECDSAP256SHA256", origin], dir)).trim();
  await run(["ldns-signzone", ...args, "-o", origin, "-i", String(now - HOUR), "-e", String(now + 30 * DAY), "-f", "signed", "zone", base], dir);
  return await run(["ldns-read-zone", "-U", "SOA", "signed"], dir);
}

export interface SignedRR {
  rrsig: Rrsig;
  rrset: RRset;
  where: string;
}

export interface Signed {
  /** The key that signed everything (a KSK, flags 257). */
  key: Dnskey;
  /** A key of the same algorithm that signed nothing. */
  other: Dnskey;
  keyFile: string;
  sigs: SignedRR[];
  /** ldns-read-zone's text of the signed zone. */
  text: string;
  inception: number;
  expiration: number;
}

export interface SignSpec {
  algorithm: string;
  bits?: number;
  nsec3?: { iterations: number; salt: string };
}

/** The RRsets of the records and each RRSIG with the RRset it covers. */
export function rrsetsOf(records: ZoneRecord[]): SignedRR[] {
  const sets = new Map<string, RRset>();
  for (const r of records) {
    if (r.type === 46) continue;
    const id = `${keyOf(r.owner)}/${r.type}`;
    const set = sets.get(id) ?? { owner: r.owner, type: r.type, class: IN, rdatas: [] };
    set.rdatas.push(r.rdata);
    sets.set(id, set);
  }
  const out: SignedRR[] = [];
  for (const r of records) {
    if (r.type !== 46) continue;
    const rrsig = parseRrsig(r.rdata)!;
    const rrset = sets.get(`${keyOf(r.owner)}/${rrsig.typeCovered}`);
    if (!rrset) throw new Error(`${r.where}: an RRSIG without its RRset`);
    out.push({ rrsig, rrset, where: r.where });
  }
  return out;
}

/** The signed zone's text read back: every RDATA in RFC 3597 form but the SOA's (which the parser reads). */
export function parseSigned(text: string): SignedRR[] {
  return rrsetsOf(parseMasterText(text, "signed", ORIGIN));
}

/** A key made by ldns-keygen in `dir` (a KSK, so flags 257), and its .key file. */
export async function makeKey(dir: string, algorithm: string, bits?: number): Promise<{ key: Dnskey; keyFile: string; base: string }> {
  const base = (await run(["ldns-keygen", "-k", "-a", algorithm, ...(bits ? ["-b", String(bits)] : []), "example."], dir)).trim();
  return { key: await dnskeyOf(dir, base), keyFile: join(dir, `${base}.key`), base };
}

async function dnskeyOf(dir: string, base: string): Promise<Dnskey> {
  const text = await run(["ldns-read-zone", "-U", "SOA", `${base}.key`], dir);
  const [rec] = parseMasterText(text, base, ORIGIN).filter((r) => r.type === 48);
  return parseDnskey(rec!.owner, rec!.rdata)!;
}

/** Makes two keys in `dir`, signs ZONE with the first (from an hour ago for 30 days) and reads it all back. */
export async function signZone(dir: string, spec: SignSpec): Promise<Signed> {
  writeFileSync(join(dir, "zone"), ZONE);
  const signer = await makeKey(dir, spec.algorithm, spec.bits);
  const elsewhere = join(dir, "other");
  mkdirSync(elsewhere);
  let other = await makeKey(elsewhere, spec.algorithm, spec.bits);
  while (other.key.keyTag === signer.key.keyTag) other = await makeKey(elsewhere, spec.algorithm, spec.bits);
  const inception = Math.floor(Date.now() / 1000) - HOUR;
  const expiration = inception + 30 * DAY;
  const nsec3 = spec.nsec3 ? ["-n", "-t", String(spec.nsec3.iterations), "-s", spec.nsec3.salt] : [];
  await run(["ldns-signzone", ...nsec3, "-i", String(inception), "-e", String(expiration), "-f", "signed", "zone", signer.base], dir);
  const text = await run(["ldns-read-zone", "-U", "SOA", "signed"], dir);
  return { key: signer.key, other: other.key, keyFile: signer.keyFile, sigs: parseSigned(text), text, inception, expiration };
}

/** The DS ldns-key2ds makes for a key file with digest type 1, 2 or 4. */
export async function dsOf(keyFile: string, digest: 1 | 2 | 4): Promise<Ds> {
  const text = await run(["ldns-key2ds", "-n", `-${digest}`, keyFile], dirname(keyFile));
  const [rec] = parseMasterText(text, "ds", ORIGIN).filter((r) => r.type === 43);
  return parseDs(rec!.rdata)!;
}

/** A copy of `b` with the byte at `i` (negative: from the end) flipped. */
export function flip(b: Uint8Array, i: number): Uint8Array {
  const out = b.slice();
  const at = i < 0 ? out.length + i : i;
  out[at] = out[at]! ^ 0x01;
  return out;
}

/** The wire name with its ASCII letters in upper case. */
export function upper(name: Uint8Array): Uint8Array {
  return name.map((c) => (c >= 0x61 && c <= 0x7a ? c - 0x20 : c));
}

/** The first RRSIG covering `type` at `owner` (presentation form). */
export function find(s: Signed, owner: string, type: number): SignedRR {
  const key = keyOf(toWire(owner));
  const hit = s.sigs.find((x) => keyOf(x.rrset.owner) === key && x.rrsig.typeCovered === type);
  if (!hit) throw new Error(`no RRSIG for ${owner}/${type}`);
  return hit;
}
