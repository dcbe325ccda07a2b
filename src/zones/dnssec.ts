// DNSSEC online signing with WebCrypto: ECDSA P-256/SHA-256 (algorithm 13, RFC 6605) and Ed25519 (15, RFC 8080).
// Keys are made on first load and kept in the data dir; RRSIGs are computed over the canonical RRset
// (RFC 4034 3.1.8.1, 6.2, 6.3); NSEC records chain the names in canonical order (RFC 4034 4, 6.1).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lower } from "../wire/name";

export type Algorithm = 13 | 15;

export interface ZoneKey {
  algorithm: Algorithm;
  flags: number; // 257: a combined KSK/ZSK (secure entry point), as a single-key signer uses
  publicKey: Uint8Array;
  privateKey: CryptoKey;
  keyTag: number;
  dnskeyRdata: Uint8Array;
}

/** Labels of a wire name, for canonical ordering. */
function labels(name: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; name[o] !== 0; o += name[o]! + 1) out.push(name.subarray(o + 1, o + 1 + name[o]!));
  return out;
}

/** RFC 4034 6.1 canonical order of wire names: labels compared from the right, as lowercase octets. */
export function canonicalCompare(a: Uint8Array, b: Uint8Array): number {
  const la = labels(a);
  const lb = labels(b);
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    const x = la[la.length - i]!;
    const y = lb[lb.length - i]!;
    const n = Math.min(x.length, y.length);
    for (let k = 0; k < n; k++) if (lower(x[k]!) !== lower(y[k]!)) return lower(x[k]!) - lower(y[k]!);
    if (x.length !== y.length) return x.length - y.length;
  }
  return la.length - lb.length;
}

export function labelCount(name: Uint8Array): number {
  let n = 0;
  for (let o = 0; name[o] !== 0; o += name[o]! + 1) if (!(o === 0 && name[0] === 1 && name[1] === 0x2a)) n++;
  return n; // a leading "*" label is not counted (RFC 4034 3.1.3)
}

/** RFC 4034 Appendix B key tag. */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

function cryptoParams(alg: Algorithm) {
  return alg === 13 ? { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } } : { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } };
}

type Jwk = Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AlgParams = any; // WebCrypto parameter shapes differ per algorithm; bun-types does not name them all

async function fromJwk(alg: Algorithm, jwk: Jwk): Promise<ZoneKey> {
  const p = cryptoParams(alg);
  const privateKey = await crypto.subtle.importKey("jwk", jwk as AlgParams, p.gen as AlgParams, true, ["sign"]);
  const { d: _d, key_ops: _k, ...pub } = jwk;
  const publicCrypto = await crypto.subtle.importKey("jwk", { ...pub, key_ops: ["verify"] } as AlgParams, p.gen as AlgParams, true, ["verify"]);
  let publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", publicCrypto));
  if (alg === 13) publicKey = publicKey.subarray(1); // drop the 0x04 uncompressed-point prefix (RFC 6605 4)
  const flags = 257;
  const dnskeyRdata = new Uint8Array([flags >> 8, flags & 255, 3, alg, ...publicKey]);
  return { algorithm: alg, flags, publicKey, privateKey, keyTag: keyTag(dnskeyRdata), dnskeyRdata };
}

/** The zone's key from `dir`, made (and saved, mode 0600) when there is none yet. */
export async function loadOrCreateKey(dir: string, zone: string, alg: Algorithm): Promise<ZoneKey> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${zone.replace(/\.$/, "") || "root"}.alg${alg}.jwk.json`);
  if (existsSync(file)) return fromJwk(alg, JSON.parse(readFileSync(file, "utf8")));
  const p = cryptoParams(alg);
  const pair = (await crypto.subtle.generateKey(p.gen as AlgParams, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  return fromJwk(alg, jwk as Jwk);
}

const be16 = (n: number) => [n >> 8, n & 255];
const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

export interface SignWindow {
  inception: number; // seconds since epoch
  expiration: number;
}

/**
 * RRSIG RDATA for one RRset (owner lowercased wire, rdatas in canonical order, RFC 4034 6.3), signed with `key`.
 */
export async function signRRset(
  owner: Uint8Array,
  type: number,
  ttl: number,
  rdatas: Uint8Array[],
  key: ZoneKey,
  signer: Uint8Array,
  win: SignWindow,
): Promise<Uint8Array> {
  const head = new Uint8Array([
    ...be16(type), key.algorithm, labelCount(owner), ...be32(ttl), ...be32(win.expiration), ...be32(win.inception),
    ...be16(key.keyTag), ...signer,
  ]);
  const parts: Uint8Array[] = [head];
  for (const rd of rdatas) parts.push(owner, new Uint8Array([...be16(type), 0, 1, ...be32(ttl), ...be16(rd.length)]), rd);
  const data = Buffer.concat(parts);
  const sig = new Uint8Array(await crypto.subtle.sign(cryptoParams(key.algorithm).sign as AlgParams, key.privateKey, data));
  const out = new Uint8Array(head.length + sig.length);
  out.set(head);
  out.set(sig, head.length);
  return out;
}

/** The RFC 4034 4.1.2 type bit maps for a set of types. */
export function typeBitmap(types: number[]): Uint8Array {
  const windows = new Map<number, number[]>();
  for (const t of types) {
    const w = t >> 8;
    const bits = windows.get(w) ?? new Array(32).fill(0);
    bits[(t & 255) >> 3] |= 0x80 >> (t & 7);
    windows.set(w, bits);
  }
  const out: number[] = [];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(w)!;
    let len = 32;
    while (len > 0 && bits[len - 1] === 0) len--;
    out.push(w, len, ...bits.slice(0, len));
  }
  return new Uint8Array(out);
}

export function nsecRdata(next: Uint8Array, types: number[]): Uint8Array {
  const bm = typeBitmap(types);
  const out = new Uint8Array(next.length + bm.length);
  out.set(next);
  out.set(bm, next.length);
  return out;
}
