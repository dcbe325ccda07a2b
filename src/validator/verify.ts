// One RRSIG checked against one DNSKEY (RFC 4035 5.3): the RRSIG's fields against the RRset and the key, its
// validity window against the clock, then the signature over the canonical RRset. Every outcome has a name.
import { keyTag } from "../zones/dnssec";
import { DEFAULT_KEY_POLICY, KeyCache, checkSignature, type KeyFailure, type KeyPolicy } from "./algorithms";
import { lowerWire, signedData, signedOwner, type SignedFields } from "./canonical";

/** An RRset as the validator holds it: no TTL, because the signature covers the RRSIG's original TTL instead. */
export interface RRset {
  /** Wire name, any case. */
  owner: Uint8Array;
  type: number;
  class: number;
  /** Each RR's RDATA, uncompressed. */
  rdatas: Uint8Array[];
}

export interface Rrsig extends SignedFields {
  signature: Uint8Array;
}

export interface Dnskey {
  /** The DNSKEY's owner (wire, any case): the zone it signs for. */
  owner: Uint8Array;
  flags: number;
  protocol: number;
  algorithm: number;
  publicKey: Uint8Array;
  /** The whole RDATA, for the key tag and DS digests. */
  rdata: Uint8Array;
  keyTag: number;
}

export type VerifyFailure =
  | "type-mismatch" // the RRSIG covers another type
  | "labels" // its labels field is above the owner's label count
  | "signer" // the owner is not at or below the signer's name
  | "key-mismatch" // the key's tag, algorithm or owner is not the one the RRSIG names
  | "not-zone-key" // the DNSKEY's zone flag is clear or its protocol is not 3 (RFC 4034 2.1.1, 2.1.2)
  | "unsupported-algorithm" // treated as insecure (RFC 4035 5.2, RFC 6840 5.2), not as bogus
  | "unsupported-key" // a key size outside what is validated: insecure too
  | "bad-key" // key bytes that do not make a key
  | "bad-window" // inception after expiration
  | "not-yet-valid"
  | "expired"
  | "bad-signature";

export type VerifyResult = "valid" | VerifyFailure;

export interface VerifyOptions extends Partial<KeyPolicy> {
  /**
   * Clock-skew allowance in seconds past either end of the window: a tenth of the window, at least
   * `skewMin` and at most `skewMax` (Unbound's val-sig-skew-min/-max and their defaults).
   */
  skewMin?: number;
  skewMax?: number;
  /** Where imported keys are kept; one cache for the process by default. */
  keys?: KeyCache;
}

export const SKEW_MIN = 3600;
export const SKEW_MAX = 86400;
const sharedKeys = new KeyCache(1024);

/** RRSIG RDATA (signer uncompressed) to its fields; null when it is too short or the signer is malformed. */
export function parseRrsig(rdata: Uint8Array): Rrsig | null {
  if (rdata.length < 19) return null;
  let end = 18;
  while (end < rdata.length && rdata[end] !== 0) {
    if (rdata[end]! > 63) return null;
    end += rdata[end]! + 1;
  }
  if (end >= rdata.length || end - 18 + 1 > 255) return null;
  const v = new DataView(rdata.buffer, rdata.byteOffset, rdata.length);
  return {
    typeCovered: v.getUint16(0),
    algorithm: rdata[2]!,
    labels: rdata[3]!,
    originalTtl: v.getUint32(4),
    expiration: v.getUint32(8),
    inception: v.getUint32(12),
    keyTag: v.getUint16(16),
    signer: rdata.slice(18, end + 1),
    signature: rdata.slice(end + 1),
  };
}

/** DNSKEY RDATA at `owner` to its fields; null when it is shorter than its fixed part. */
export function parseDnskey(owner: Uint8Array, rdata: Uint8Array): Dnskey | null {
  if (rdata.length < 5) return null;
  return {
    owner,
    flags: (rdata[0]! << 8) | rdata[1]!,
    protocol: rdata[2]!,
    algorithm: rdata[3]!,
    publicKey: rdata.subarray(4),
    rdata,
    keyTag: keyTag(rdata),
  };
}

function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const x = lowerWire(a);
  const y = lowerWire(b);
  return x.every((c, i) => c === y[i]);
}

/** Whether `name` is `zone` or below it (both wire, any case). */
export function isAtOrBelow(name: Uint8Array, zone: Uint8Array): boolean {
  if (zone.length > name.length) return false;
  for (let o = 0; o < name.length; o += name[o]! + 1) {
    if (name.length - o === zone.length) return sameName(name.subarray(o), zone);
    if (name[o] === 0) break;
  }
  return false;
}

/** a - b in RFC 1982 serial arithmetic on 32 bits, as a signed number (RFC 4034 3.1.5). */
const serialDiff = (a: number, b: number) => ((a >>> 0) - (b >>> 0)) | 0;

/** Where `now` (seconds) falls against the RRSIG's window, with the skew allowance; null inside it. */
export function checkWindow(sig: Pick<Rrsig, "inception" | "expiration">, now: number, skewMin = SKEW_MIN, skewMax = SKEW_MAX): VerifyFailure | null {
  const length = serialDiff(sig.expiration, sig.inception);
  if (length < 0) return "bad-window";
  const skew = Math.min(skewMax, Math.max(skewMin, Math.floor(length / 10)));
  const t = Math.floor(now) >>> 0;
  if (serialDiff(sig.inception, t) > skew) return "not-yet-valid";
  if (serialDiff(t, sig.expiration) > skew) return "expired";
  return null;
}

/**
 * Checks `rrsig` over `rrset` with `dnskey` at `now` (seconds since the epoch): "valid" or why not. The
 * cheap checks come first, so a mismatched RRSIG costs no cryptography.
 */
export async function verifyRRset(rrset: RRset, rrsig: Rrsig, dnskey: Dnskey, now: number, opts: VerifyOptions = {}): Promise<VerifyResult> {
  if (rrsig.typeCovered !== rrset.type) return "type-mismatch";
  const owner = signedOwner(rrset.owner, rrsig.labels);
  if (!owner) return "labels";
  if (!isAtOrBelow(rrset.owner, rrsig.signer)) return "signer";
  if (rrsig.keyTag !== dnskey.keyTag || rrsig.algorithm !== dnskey.algorithm || !sameName(rrsig.signer, dnskey.owner)) return "key-mismatch";
  if ((dnskey.flags & 0x0100) === 0 || dnskey.protocol !== 3) return "not-zone-key";
  const policy: KeyPolicy = { minRsaBits: opts.minRsaBits ?? DEFAULT_KEY_POLICY.minRsaBits, sha1: opts.sha1 ?? DEFAULT_KEY_POLICY.sha1 };
  const key = await (opts.keys ?? sharedKeys).get(dnskey.rdata, dnskey.algorithm, dnskey.publicKey, policy);
  if (typeof key === "string") return key;
  const window = checkWindow(rrsig, now, opts.skewMin, opts.skewMax);
  if (window) return window;
  const data = signedData(rrsig, owner, rrset.type, rrset.class, rrset.rdatas);
  const ok = await checkSignature(key, rrsig.signature, data);
  if (typeof ok === "string") return ok satisfies KeyFailure;
  return ok ? "valid" : "bad-signature";
}
