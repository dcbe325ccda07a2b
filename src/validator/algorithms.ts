// DNSKEY algorithms on node:crypto: a DNSKEY's public key made a KeyObject once (a bounded cache), and RRSIG
// signatures checked with it synchronously: WebCrypto's verify costs the same signature check plus a trip to
// its thread pool, several times the check itself on the validated-miss path. RSA: RFC 3110 and 5702; ECDSA:
// RFC 6605; EdDSA: RFC 8080.
import { createPublicKey, verify, type KeyObject } from "node:crypto";

/** Why a key cannot check signatures: an algorithm this runtime lacks, a key outside the sizes allowed, bad bytes. */
export type KeyFailure = "unsupported-algorithm" | "unsupported-key" | "bad-key";

export interface KeyPolicy {
  /**
   * Smallest RSA modulus in bits that is validated; smaller keys are "unsupported-key" (the zone counts as
   * insecure, RFC 6840 5.2). RSA/SHA-512 never goes below 1024 (RFC 5702 2.1).
   */
  minRsaBits: number;
  /** Whether RSASHA1 (5) and RSASHA1-NSEC3-SHA1 (7) are validated; when false they are "unsupported-algorithm". */
  sha1: boolean;
}

export const DEFAULT_KEY_POLICY: KeyPolicy = { minRsaBits: 512, sha1: true };

interface Prepared {
  jwk: JsonWebKey;
  /** The digest named to crypto.verify; null for EdDSA (the algorithm fixes it). */
  hash: string | null;
  /** ECDSA: signatures are r | s (RFC 6605 4), not DER. */
  ecdsa: boolean;
  /** The signature's length in bytes: exact for EC and EdDSA, the modulus length for RSA (shorter is padded). */
  sigLen: number;
  rsa: boolean;
  /** Ed448: a runtime without it makes the algorithm unsupported, not the key bad. */
  optional: boolean;
}

const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64url");

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

const bitLength = (b: Uint8Array) => (b[0] === 0 ? 0 : (b.length - 1) * 8 + (32 - Math.clz32(b[0]!)));

/** RFC 3110 2: exponent length (1 byte, or 0 then 2 bytes), exponent, modulus. */
function rsa(hash: string, floor: number, pub: Uint8Array, policy: KeyPolicy): Prepared | KeyFailure {
  if (pub.length < 3) return "bad-key";
  const long = pub[0] === 0;
  const elen = long ? (pub[1]! << 8) | pub[2]! : pub[0]!;
  const eoff = long ? 3 : 1;
  if (elen === 0 || eoff + elen >= pub.length) return "bad-key";
  const e = stripZeros(pub.subarray(eoff, eoff + elen));
  const n = stripZeros(pub.subarray(eoff + elen));
  const bits = bitLength(n);
  if (bits < Math.max(floor, policy.minRsaBits) || bits > 4096) return "unsupported-key";
  // RFC 3110 allows longer exponents, but BoringSSL (Bun's crypto) answers "no" for any signature under one:
  // that would read as bogus, while the zone is one this runtime cannot check.
  if (bitLength(e) > 33) return "unsupported-key";
  return { jwk: { kty: "RSA", n: b64url(n), e: b64url(e) }, hash, ecdsa: false, sigLen: n.length, rsa: true, optional: false };
}

function ecdsa(curve: string, hash: string, size: number, pub: Uint8Array): Prepared | KeyFailure {
  if (pub.length !== 2 * size) return "bad-key"; // RFC 6605 4: the key is x | y, the uncompressed point without 0x04
  return { jwk: { kty: "EC", crv: curve, x: b64url(pub.subarray(0, size)), y: b64url(pub.subarray(size)) }, hash, ecdsa: true, sigLen: 2 * size, rsa: false, optional: false };
}

function eddsa(curve: string, size: number, pub: Uint8Array): Prepared | KeyFailure {
  if (pub.length !== size) return "bad-key";
  return { jwk: { kty: "OKP", crv: curve, x: b64url(pub) }, hash: null, ecdsa: false, sigLen: 2 * size, rsa: false, optional: curve === "Ed448" };
}

/** What it takes to import and use the key of a DNSKEY of `algorithm`, checked against the policy. */
function prepare(algorithm: number, pub: Uint8Array, policy: KeyPolicy): Prepared | KeyFailure {
  switch (algorithm) {
    case 5:
    case 7:
      return policy.sha1 ? rsa("sha1", 512, pub, policy) : "unsupported-algorithm";
    case 8:
      return rsa("sha256", 512, pub, policy);
    case 10:
      return rsa("sha512", 1024, pub, policy);
    case 13:
      return ecdsa("P-256", "sha256", 32, pub);
    case 14:
      return ecdsa("P-384", "sha384", 48, pub);
    case 15:
      return eddsa("Ed25519", 32, pub);
    case 16:
      return eddsa("Ed448", 57, pub); // imported only where the runtime knows Ed448 (see importPrepared)
    default:
      return "unsupported-algorithm"; // RSAMD5 and DSA are MUST NOT (RFC 8624 3.1), GOST unimplemented
  }
}

function importPrepared(p: Prepared): KeyObject | KeyFailure {
  try {
    return createPublicKey({ key: p.jwk, format: "jwk" });
  } catch {
    // A curve the runtime does not know (Ed448 on BoringSSL) is a missing algorithm, not a bad key.
    return p.optional ? "unsupported-algorithm" : "bad-key";
  }
}

const idOf = (rdata: Uint8Array) => Buffer.from(rdata.buffer, rdata.byteOffset, rdata.length).toString("latin1");

export interface VerifyKey {
  key: KeyObject;
  prepared: Prepared;
}

/**
 * Imported keys by DNSKEY RDATA, least recently used first: a DNSKEY seen again is not imported again.
 * Failures are kept too, so a broken key costs one import. Bounded at `max` entries.
 */
export class KeyCache {
  private readonly entries = new Map<string, Promise<VerifyKey | KeyFailure>>();

  constructor(readonly max = 1024) {}

  get size(): number {
    return this.entries.size;
  }

  has(rdata: Uint8Array): boolean {
    return this.entries.has(idOf(rdata));
  }

  /** The key of the DNSKEY with this RDATA and public key, imported on first use. */
  get(rdata: Uint8Array, algorithm: number, pub: Uint8Array, policy: KeyPolicy): Promise<VerifyKey | KeyFailure> {
    const prepared = prepare(algorithm, pub, policy); // policy first: a cached key never bypasses it
    if (typeof prepared === "string") return Promise.resolve(prepared);
    const id = idOf(rdata);
    let hit = this.entries.get(id);
    if (hit) this.entries.delete(id);
    else {
      const key = importPrepared(prepared);
      hit = Promise.resolve(typeof key === "string" ? key : { key, prepared });
    }
    this.entries.set(id, hit);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return hit;
  }
}

/** Whether `sig` is a signature of `data` by `k`; a signature of the wrong size is not. */
export async function checkSignature(k: VerifyKey, sig: Uint8Array, data: Uint8Array): Promise<boolean | KeyFailure> {
  const { prepared } = k;
  if (prepared.rsa ? sig.length > prepared.sigLen || sig.length === 0 : sig.length !== prepared.sigLen) return false;
  let s = sig;
  if (s.length < prepared.sigLen) {
    // Some signers drop the leading zero octets of an RSA signature; OpenSSL accepts that, BoringSSL does not.
    s = new Uint8Array(prepared.sigLen);
    s.set(sig, prepared.sigLen - sig.length);
  }
  try {
    return verify(prepared.hash, data, prepared.ecdsa ? { key: k.key, dsaEncoding: "ieee-p1363" } : k.key, s);
  } catch {
    // The key imported, so what failed is this signature's bytes: not a valid signature (never "unsupported",
    // which would let a malformed signature make its zone insecure).
    return false;
  }
}
