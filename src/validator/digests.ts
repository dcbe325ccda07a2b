// The validator's hashes: a DS against a DNSKEY (RFC 4034 5.1.4, RFC 4509, RFC 6605 for SHA-384) and the
// NSEC3 owner hash (RFC 5155 5), both synchronous (Bun.CryptoHasher).
import { lowerWire } from "./canonical";
import type { Dnskey } from "./verify";

export interface Ds {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Uint8Array;
}

/** DS RDATA to its fields; null when it is shorter than its fixed part. */
export function parseDs(rdata: Uint8Array): Ds | null {
  if (rdata.length < 5) return null;
  return { keyTag: (rdata[0]! << 8) | rdata[1]!, algorithm: rdata[2]!, digestType: rdata[3]!, digest: rdata.subarray(4) };
}

export type DsResult = "match" | "key-mismatch" | "digest-mismatch" | "unsupported-digest";

const DIGESTS: Record<number, "sha1" | "sha256" | "sha384"> = { 1: "sha1", 2: "sha256", 4: "sha384" };

/**
 * Whether `ds` is the digest of `dnskey` (owner lowercased | DNSKEY RDATA). "key-mismatch" when its key tag
 * or algorithm is another key's; "unsupported-digest" for digest types other than SHA-1, SHA-256 and SHA-384
 * (GOST is unimplemented), and for SHA-1 when `sha1` is false. Choosing among the DS records of a set (RFC 4509
 * 3: SHA-1 ones are ignored when a SHA-256 one exists) is the caller's business.
 */
export function dsMatches(ds: Ds, dnskey: Dnskey, sha1 = true): DsResult {
  if (ds.keyTag !== dnskey.keyTag || ds.algorithm !== dnskey.algorithm) return "key-mismatch";
  const alg = DIGESTS[ds.digestType];
  if (!alg || (alg === "sha1" && !sha1)) return "unsupported-digest";
  const hasher = new Bun.CryptoHasher(alg);
  hasher.update(lowerWire(dnskey.owner));
  hasher.update(dnskey.rdata);
  const digest = hasher.digest();
  if (digest.length !== ds.digest.length) return "digest-mismatch";
  for (let i = 0; i < digest.length; i++) if (digest[i] !== ds.digest[i]) return "digest-mismatch";
  return "match";
}

/**
 * The iterations above which NSEC3 records are not hashed: Unbound's default (val-nsec3-keysize-iterations),
 * within RFC 9276 3.2's leave to treat costly NSEC3 parameters as insecure.
 */
export const NSEC3_MAX_ITERATIONS = 150;

export type Nsec3Failure = "too-many-iterations" | "unsupported-algorithm";

/**
 * RFC 5155 5: IH(salt, x, 0) = H(x | salt), IH(salt, x, k) = H(IH(salt, x, k-1) | salt), of the lowercased
 * wire name, with SHA-1 (hash algorithm 1, the only one defined). Refuses more than `maxIterations`
 * iterations before doing any of them.
 */
export function nsec3Hash(name: Uint8Array, salt: Uint8Array, iterations: number, hashAlgorithm = 1, maxIterations = NSEC3_MAX_ITERATIONS): Uint8Array | Nsec3Failure {
  if (hashAlgorithm !== 1) return "unsupported-algorithm";
  if (iterations > maxIterations) return "too-many-iterations";
  const first = new Uint8Array(name.length + salt.length);
  first.set(lowerWire(name));
  first.set(salt, name.length);
  let digest = new Uint8Array(Bun.CryptoHasher.hash("sha1", first));
  const next = new Uint8Array(20 + salt.length);
  next.set(salt, 20);
  for (let k = 0; k < iterations; k++) {
    next.set(digest);
    digest = new Uint8Array(Bun.CryptoHasher.hash("sha1", next));
  }
  return digest;
}

const BASE32HEX = "0123456789abcdefghijklmnopqrstuv";

/** RFC 4648 base32hex, lowercase, unpadded: how an NSEC3 owner's first label spells its hash (RFC 5155 3.3). */
export function base32hex(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32HEX[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32HEX[(acc << (5 - bits)) & 31];
  return out;
}
