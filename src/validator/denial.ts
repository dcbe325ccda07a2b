// What the NSEC and NSEC3 proofs (nsec.ts, nsec3.ts) share: the verdict with its named reasons, the EDE code
// each maps to (RFC 8914), type bit maps (RFC 4034 4.1.2) and the name arithmetic of closest enclosers.
import { lower } from "../wire/name";
import { EdeCode, type Verdict } from "./chain";
import { isAtOrBelow } from "./verify";

/** Why a denial fails: the response is bogus. */
export type DenialFailure =
  | "nsec-missing" // no record of the zone is usable for the proof
  | "outside-zone" // the name is not at or below the zone the records were checked for
  | "no-proof" // the records say nothing about the name: none matches or covers it
  | "no-closest-encloser" // NSEC3: no ancestor of the name is matched
  | "next-closer-not-covered" // NSEC3: the name one label below the closest encloser is not covered
  | "wildcard-not-denied" // nothing denies the wildcard at the closest encloser
  | "no-wildcard-match" // a wildcard NODATA without a record at the wildcard
  | "name-exists" // denied, yet a record matches the name
  | "empty-non-terminal" // denied, yet the name has descendants: it exists
  | "wildcard-exists" // NXDOMAIN, yet the wildcard that would have answered exists
  | "wrong-closest-encloser" // a wildcard answer from a wildcard the proof does not point at
  | "type-present" // NODATA, yet the type is in the bit map
  | "cname-present" // NODATA, yet the name is a CNAME (RFC 6840 4.3)
  | "delegation" // the record is the parent's side of a signed delegation: the answer should be a referral
  | "dname" // an ancestor is a DNAME: the records cannot speak for names below it
  | "child-side" // a DS proof from the child's apex (SOA set) instead of the parent (RFC 6840 4.4)
  | "not-delegation" // an insecure delegation proof where NS is clear
  | "ds-present" // an insecure delegation proof where DS is set
  | "not-opt-out" // NSEC3: the span over the next closer name has no opt-out, so it is no delegation proof
  | "mixed-parameters" // NSEC3: records of different hash parameters (RFC 5155 8.2)
  | "too-many-hashes"; // NSEC3: the proof would hash more names than NSEC3_MAX_HASHES

/** Why a denial is neither secure nor bogus: the answer stands, without the AD bit. */
export type DenialInsecurity =
  | "too-many-iterations" // RFC 9276 3.2: NSEC3 above the iteration limit is treated as insecure
  | "unsupported-algorithm" // NSEC3 hash algorithms none of which is implemented
  | "opt-out" // the proof rests on an opt-out span, which may hide unsigned delegations (RFC 5155 9.2)
  | "insecure-delegation"; // the name is at or below a delegation its parent proves unsigned

export type Denial = { state: "secure" } | { state: "insecure"; why: DenialInsecurity } | { state: "bogus"; why: DenialFailure };

export const SECURE: Denial = { state: "secure" };
export const bogus = (why: DenialFailure): Denial => ({ state: "bogus", why });
export const insecure = (why: DenialInsecurity): Denial => ({ state: "insecure", why });

/** The EDE code RFC 9276 3.2 added to RFC 8914's list, which chain.ts's EdeCode does not name. */
export const UNSUPPORTED_NSEC3_ITERATIONS = 27;

/**
 * The Extended DNS Error for a denial (RFC 8914): NSEC Missing when the records needed are absent, DNSSEC Bogus
 * when the records given contradict the answer, Unsupported NSEC3 Iterations Value; null when there is nothing
 * to report (a secure denial, an opt-out span, an unsigned delegation, an unknown hash algorithm).
 */
export function denialEde(d: Denial): number | null {
  if (d.state === "insecure") return d.why === "too-many-iterations" ? UNSUPPORTED_NSEC3_ITERATIONS : null;
  if (d.state === "secure") return null;
  switch (d.why) {
    case "nsec-missing":
    case "no-proof":
    case "no-closest-encloser":
    case "next-closer-not-covered":
    case "wildcard-not-denied":
    case "no-wildcard-match":
      return EdeCode.NsecMissing;
    default:
      return EdeCode.DnssecBogus;
  }
}

/** A denial as the chain's verdict, its reason prefixed with what was being denied. */
export function denialVerdict(d: Denial, what: string): Verdict {
  if (d.state === "secure") return d;
  const ede = denialEde(d);
  if (d.state === "bogus") return { state: "bogus", ede: ede!, why: `${what}: ${d.why}` };
  return ede === null ? { state: "insecure", why: `${what}: ${d.why}` } : { state: "insecure", ede, why: `${what}: ${d.why}` };
}

export const NS = 2;
export const SOA = 6;
export const CNAME = 5;
export const DS = 43;
export const DNAME = 39;

const isRoot = (name: Uint8Array): boolean => name[0] === 0;

/**
 * What an NSEC or NSEC3 record at `name` itself says to a NODATA claim for `qtype`: the type and a CNAME must
 * be absent (RFC 6840 4.3). For DS it must be the parent's record, not the child apex's (RFC 6840 4.4); for
 * any other type it must not be the parent's side of a delegation, where a referral was due, unless that
 * delegation is unsigned (no DS), when whatever lies below is insecure anyway.
 */
export function nodataAt(bitmap: Uint8Array, name: Uint8Array, qtype: number): Denial {
  if (hasType(bitmap, qtype)) return bogus("type-present");
  if (hasType(bitmap, CNAME)) return bogus("cname-present");
  if (qtype === DS) return hasType(bitmap, SOA) && !isRoot(name) ? bogus("child-side") : SECURE;
  if (hasType(bitmap, NS) && !hasType(bitmap, SOA)) return hasType(bitmap, DS) ? bogus("delegation") : insecure("insecure-delegation");
  return SECURE;
}

/**
 * What a record at a strict ancestor of a name says about denying that name: nothing when the ancestor is an
 * ordinary node; a DNAME or the parent's side of a delegation cannot speak for names below it (RFC 6840 4.1,
 * RFC 5155 8.3), and below an unsigned delegation nothing is secure.
 */
export function aboveName(bitmap: Uint8Array): Denial | null {
  if (hasType(bitmap, DNAME)) return bogus("dname");
  if (hasType(bitmap, NS) && !hasType(bitmap, SOA)) return hasType(bitmap, DS) ? bogus("delegation") : insecure("insecure-delegation");
  return null;
}

/** What a record at a delegation point says to an insecure delegation claim: NS set, DS and SOA clear. */
export function delegationAt(bitmap: Uint8Array): Denial {
  if (!hasType(bitmap, NS)) return bogus("not-delegation");
  if (hasType(bitmap, SOA)) return bogus("child-side");
  if (hasType(bitmap, DS)) return bogus("ds-present");
  return SECURE;
}

/** Whether an NSEC or NSEC3 type bit map has `type` (RFC 4034 4.1.2: windows of up to 32 bytes). */
export function hasType(bitmap: Uint8Array, type: number): boolean {
  const window = type >> 8;
  const byte = (type & 0xff) >> 3;
  for (let o = 0; o + 2 <= bitmap.length; o += 2 + bitmap[o + 1]!) {
    if (bitmap[o] !== window) continue;
    return byte < bitmap[o + 1]! && o + 2 + byte < bitmap.length && (bitmap[o + 2 + byte]! & (0x80 >> (type & 7))) !== 0;
  }
  return false;
}

/** The offset just past the uncompressed name at b[off], or -1 when it is malformed or does not fit. */
export function nameEnd(b: Uint8Array, off = 0): number {
  for (let total = 0; off < b.length; ) {
    const len = b[off]!;
    total += len + 1;
    if (len > 63 || total > 255) return -1;
    if (len === 0) return off + 1;
    off += len + 1;
  }
  return -1;
}

/** Case-insensitive equality of two wire names. */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (lower(a[i]!) !== lower(b[i]!)) return false;
  return true;
}

/** Whether `name` is strictly below `ancestor`. */
export const isBelow = (name: Uint8Array, ancestor: Uint8Array): boolean => name.length > ancestor.length && isAtOrBelow(name, ancestor);

export { isAtOrBelow };

/** Labels of a wire name, a leading "*" included (unlike an RRSIG's labels field). */
export function countLabels(name: Uint8Array): number {
  let n = 0;
  for (let o = 0; o < name.length && name[o] !== 0; o += name[o]! + 1) n++;
  return n;
}

/** The ancestor of `name` (or itself) with `labels` labels: a view into `name`. */
export function suffixWithLabels(name: Uint8Array, labels: number): Uint8Array {
  let o = 0;
  for (let skip = countLabels(name) - labels; skip > 0; skip--) o += name[o]! + 1;
  return name.subarray(o);
}

/** `name` without its first label. */
export const parentOf = (name: Uint8Array): Uint8Array => (name[0] === 0 ? name : name.subarray(name[0]! + 1));

export const isWildcard = (name: Uint8Array): boolean => name[0] === 1 && name[1] === 0x2a;

/** "*." and `name`, or null when that would be longer than a name may be. */
export function wildcardAt(name: Uint8Array): Uint8Array | null {
  if (name.length + 2 > 255) return null;
  const out = new Uint8Array(name.length + 2);
  out[0] = 1;
  out[1] = 0x2a;
  out.set(name, 2);
  return out;
}

/** The longest name both `a` and `b` are at or below (a view into `a`). */
export function commonAncestor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const la = countLabels(a);
  const lb = countLabels(b);
  let n = Math.min(la, lb);
  while (n > 0 && !sameName(suffixWithLabels(a, n), suffixWithLabels(b, n))) n--;
  return suffixWithLabels(a, n);
}
