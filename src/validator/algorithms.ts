// DNSKEY algorithms on WebCrypto: a DNSKEY's public key imported once (a bounded cache of CryptoKeys), and
// RRSIG signatures checked with it. RSA: RFC 3110 and 5702; ECDSA: RFC 6605; EdDSA: RFC 8080.

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AlgParams = any; // WebCrypto parameter shapes differ per algorithm; bun-types does not name them all

interface Prepared {
  format: "raw" | "jwk";
  data: Uint8Array | JsonWebKey;
  importAs: AlgParams;
  verifyAs: AlgParams;
  /** The signature's length in bytes: exact for EC and EdDSA, the modulus length for RSA (shorter is padded). */
  sigLen: number;
  rsa: boolean;
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
  // RFC 3110 allows longer exponents, but BoringSSL (Bun's WebCrypto) answers "no" for any signature under
  // one: that would read as bogus, while the zone is one this runtime cannot check.
  if (bitLength(e) > 33) return "unsupported-key";
  const params = { name: "RSASSA-PKCS1-v1_5", hash };
  return { format: "jwk", data: { kty: "RSA", n: b64url(n), e: b64url(e), ext: true }, importAs: params, verifyAs: params, sigLen: n.length, rsa: true };
}

function ecdsa(curve: string, hash: string, size: number, pub: Uint8Array): Prepared | KeyFailure {
  if (pub.length !== 2 * size) return "bad-key";
  const point = new Uint8Array(1 + pub.length);
  point[0] = 4; // RFC 6605 4: the key is x | y, the uncompressed point without its 0x04 prefix
  point.set(pub, 1);
  return { format: "raw", data: point, importAs: { name: "ECDSA", namedCurve: curve }, verifyAs: { name: "ECDSA", hash }, sigLen: 2 * size, rsa: false };
}

function eddsa(name: string, size: number, pub: Uint8Array): Prepared | KeyFailure {
  if (pub.length !== size) return "bad-key";
  return { format: "raw", data: pub, importAs: { name }, verifyAs: { name }, sigLen: 2 * size, rsa: false };
}

/** What it takes to import and use the key of a DNSKEY of `algorithm`, checked against the policy. */
function prepare(algorithm: number, pub: Uint8Array, policy: KeyPolicy): Prepared | KeyFailure {
  switch (algorithm) {
    case 5:
    case 7:
      return policy.sha1 ? rsa("SHA-1", 512, pub, policy) : "unsupported-algorithm";
    case 8:
      return rsa("SHA-256", 512, pub, policy);
    case 10:
      return rsa("SHA-512", 1024, pub, policy);
    case 13:
      return ecdsa("P-256", "SHA-256", 32, pub);
    case 14:
      return ecdsa("P-384", "SHA-384", 48, pub);
    case 15:
      return eddsa("Ed25519", 32, pub);
    case 16:
      return eddsa("Ed448", 57, pub); // imported only where the runtime knows Ed448 (see importPrepared)
    default:
      return "unsupported-algorithm"; // RSAMD5 and DSA are MUST NOT (RFC 8624 3.1), GOST unimplemented
  }
}

async function importPrepared(p: Prepared): Promise<CryptoKey | KeyFailure> {
  try {
    return p.format === "jwk"
      ? await crypto.subtle.importKey("jwk", p.data as JsonWebKey, p.importAs, false, ["verify"])
      : await crypto.subtle.importKey("raw", p.data as Uint8Array<ArrayBuffer>, p.importAs, false, ["verify"]);
  } catch (e) {
    // An algorithm name the runtime does not know (Ed448 on BoringSSL) is a missing algorithm, not a bad key.
    return (e as Error).name === "NotSupportedError" ? "unsupported-algorithm" : "bad-key";
  }
}

const idOf = (rdata: Uint8Array) => Buffer.from(rdata.buffer, rdata.byteOffset, rdata.length).toString("latin1");

export interface VerifyKey {
  key: CryptoKey;
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
    else hit = importPrepared(prepared).then((key) => (typeof key === "string" ? key : { key, prepared }));
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
    return await crypto.subtle.verify(prepared.verifyAs, k.key, s as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
  } catch {
    return "unsupported-key"; // the library refused the key only when using it
  }
}
