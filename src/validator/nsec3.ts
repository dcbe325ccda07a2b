// Authenticated denial of existence with NSEC3 (RFC 5155 8, RFC 9276): pure decisions over NSEC3 records whose
// signatures the caller has already checked, for one zone whose apex the caller names. Hashes are compared as
// bytes; the last record of a chain wraps around to the first.
import { lower } from "../wire/name";
import { lowerWire } from "./canonical";
import {
  DS, SECURE, aboveName, bogus, countLabels, delegationAt, insecure, isAtOrBelow, isBelow, isWildcard, nodataAt, parentOf, sameName,
  suffixWithLabels, wildcardAt, type Denial,
} from "./denial";
import { NSEC3_MAX_ITERATIONS, nsec3Hash } from "./digests";

export interface Nsec3 {
  /** Wire name, any case: the base32hex hash as one label under the zone apex. */
  owner: Uint8Array;
  hashAlgorithm: number;
  flags: number;
  iterations: number;
  salt: Uint8Array;
  /** The next hashed owner name, as bytes. */
  next: Uint8Array;
  bitmap: Uint8Array;
  /** The owner's first label decoded from base32hex; null when it is not base32hex. */
  hash: Uint8Array | null;
  /** Its RRSIG's signer, when the caller passes it: an NSEC3 signed for another zone is ignored. */
  signer?: Uint8Array;
}

export interface Nsec3Options {
  /** Records with more iterations make the answer insecure without any hashing (RFC 9276 3.2). */
  maxIterations?: number;
}

const OPT_OUT = 1;
const SHA1 = 1;
const SHA1_BYTES = 20;

/** RFC 4648 base32hex (either case, unpadded) to bytes; null for other characters or a partial last byte. */
export function fromBase32hex(text: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (const c of text) {
    const l = lower(c);
    const v = l >= 0x30 && l <= 0x39 ? l - 0x30 : l >= 0x61 && l <= 0x76 ? l - 0x61 + 10 : -1;
    if (v < 0) return null;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return (acc & ((1 << bits) - 1)) === 0 ? out : null;
}

/** NSEC3 RDATA at `owner` to its fields (RFC 5155 3.2); null when it is shorter than its fields say. */
export function parseNsec3(owner: Uint8Array, rdata: Uint8Array, signer?: Uint8Array): Nsec3 | null {
  if (rdata.length < 6) return null;
  const saltEnd = 5 + rdata[4]!;
  if (saltEnd >= rdata.length) return null;
  const nextEnd = saltEnd + 1 + rdata[saltEnd]!;
  if (nextEnd > rdata.length) return null;
  const hash = owner[0] ? fromBase32hex(owner.subarray(1, 1 + owner[0]!)) : null;
  return {
    owner,
    hashAlgorithm: rdata[0]!,
    flags: rdata[1]!,
    iterations: (rdata[2]! << 8) | rdata[3]!,
    salt: rdata.subarray(5, saltEnd),
    next: rdata.subarray(saltEnd + 1, nextEnd),
    bitmap: rdata.subarray(nextEnd),
    hash,
    signer,
  };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Names one proof may hash at most (each hash is iterations + 1 SHA-1 runs): a real proof needs a few, one per
 * level of the zone walked from the apex; a name hundreds of labels deep in a zone made to match each of them
 * would otherwise cost thousands (CVE-2023-50868). Past it, nothing more matches or is covered.
 */
export const NSEC3_MAX_HASHES = 32;

/** The zone's usable records with their one set of hash parameters, and the hashes made so far. */
class Chain {
  private readonly hashes = new Map<string, Uint8Array>();
  /** More names to hash than NSEC3_MAX_HASHES: the proof fails. */
  exhausted = false;
  constructor(
    readonly records: Nsec3[],
    private readonly salt: Uint8Array,
    private readonly iterations: number,
  ) {}

  hashOf(name: Uint8Array): Uint8Array | null {
    const key = String.fromCharCode(...lowerWire(name));
    let h = this.hashes.get(key);
    if (!h) {
      if (this.hashes.size >= NSEC3_MAX_HASHES) {
        this.exhausted = true;
        return null;
      }
      h = nsec3Hash(name, this.salt, this.iterations, SHA1, this.iterations) as Uint8Array;
      this.hashes.set(key, h);
    }
    return h;
  }

  matching(name: Uint8Array): Nsec3 | undefined {
    const h = this.hashOf(name);
    return h ? this.records.find((r) => compareBytes(r.hash!, h) === 0) : undefined;
  }

  /** The record whose span holds the hash of `name`: owner < hash < next, or past the end of the chain. */
  covering(name: Uint8Array): Nsec3 | undefined {
    const h = this.hashOf(name);
    if (!h) return undefined;
    return this.records.find((r) => {
      const owner = r.hash!;
      if (compareBytes(owner, h) < 0 && compareBytes(h, r.next) < 0) return true;
      return compareBytes(r.next, owner) <= 0 && (compareBytes(h, owner) > 0 || compareBytes(h, r.next) < 0);
    });
  }
}

/**
 * The records that can speak for `zone` (RFC 5155 8.1, 8.2): owner one base32hex label under the apex, flags
 * 0 or 1, SHA-1 with 20-byte hashes. Only unknown hash algorithms left: insecure (as BIND treats them; RFC 5155
 * 8.1 expects such a zone to be signed with an algorithm the validator does not know anyway). Different
 * parameters: bogus, as Unbound does (8.2 allows it). Too many iterations: insecure before any hashing.
 */
function chainFor(name: Uint8Array, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options): Chain | Denial {
  if (!isAtOrBelow(name, zone)) return bogus("outside-zone");
  const inZone = nsec3s.filter((r) => r.hash && sameName(parentOf(r.owner), zone) && (r.flags & ~OPT_OUT) === 0 && (!r.signer || sameName(r.signer, zone)));
  if (!inZone.length) return bogus("nsec-missing");
  const known = inZone.filter((r) => r.hashAlgorithm === SHA1 && r.hash!.length === SHA1_BYTES && r.next.length === SHA1_BYTES);
  if (!known.length) return inZone.some((r) => r.hashAlgorithm !== SHA1) ? insecure("unsupported-algorithm") : bogus("nsec-missing");
  const { salt, iterations } = known[0]!;
  if (known.some((r) => r.iterations !== iterations || compareBytes(r.salt, salt) !== 0)) return bogus("mixed-parameters");
  if (iterations > (opts.maxIterations ?? NSEC3_MAX_ITERATIONS)) return insecure("too-many-iterations");
  return new Chain(known, salt, iterations);
}

interface Encloser {
  ce: Uint8Array;
  /** The record covering the next closer name: its opt-out flag decides whether the proof is secure. */
  nextCloser: Nsec3;
}

/**
 * The closest encloser proof (RFC 5155 8.3) for a name that does not exist: an ancestor whose hash is matched,
 * and the next closer name (one label longer) whose hash is covered. The ancestors are hashed from the apex
 * down, stopping at the first covered one, so the cost follows the depth of the zone, not of the name asked.
 * A closest encloser that is a DNAME or a delegation cannot prove anything below it.
 */
function closestEncloser(chain: Chain, name: Uint8Array, zone: Uint8Array): Encloser | Denial {
  let candidate: { name: Uint8Array; record: Nsec3 } | undefined;
  for (let k = countLabels(zone), last = countLabels(name); k <= last; k++) {
    const level = suffixWithLabels(name, k);
    const match = chain.matching(level);
    if (match) {
      candidate = { name: level, record: match };
      continue;
    }
    const cover = chain.covering(level);
    if (!cover) continue;
    if (!candidate || countLabels(candidate.name) !== k - 1) return bogus("no-closest-encloser");
    return aboveName(candidate.record.bitmap) ?? { ce: candidate.name, nextCloser: cover };
  }
  if (chain.exhausted) return bogus("too-many-hashes");
  if (candidate && sameName(candidate.name, name)) return bogus("name-exists");
  return bogus(candidate ? "next-closer-not-covered" : "no-closest-encloser");
}

const optedOut = (e: Encloser): boolean => (e.nextCloser.flags & OPT_OUT) !== 0;

/** The proof and `name`'s closest encloser, or the verdict that came first. */
function enclose(name: Uint8Array, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options): { chain: Chain; e: Encloser } | Denial {
  const chain = chainFor(name, nsec3s, zone, opts);
  if (!(chain instanceof Chain)) return chain;
  const e = closestEncloser(chain, name, zone);
  return "state" in e ? e : { chain, e };
}

/**
 * NXDOMAIN (RFC 5155 8.4): the closest encloser proof, and the wildcard at the closest encloser covered. When
 * the next closer name lies in an opt-out span the name may still exist as an unsigned delegation, so the
 * answer stands but is insecure (RFC 5155 9.2, as Unbound reads it).
 */
export function nsec3ProvesNxdomain(qname: Uint8Array, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options = {}): Denial {
  const p = enclose(qname, nsec3s, zone, opts);
  if ("state" in p) return p;
  const wildcard = wildcardAt(p.e.ce);
  if (wildcard && p.chain.matching(wildcard)) return bogus("wildcard-exists");
  if (!wildcard || !p.chain.covering(wildcard)) return bogus("wildcard-not-denied");
  return optedOut(p.e) ? insecure("opt-out") : SECURE;
}

/**
 * NODATA (RFC 5155 8.5, 8.6): an NSEC3 matching `qname` without `qtype` and CNAME (for DS, not the child
 * apex's). Without one, only an opt-out span over the next closer name answers, and insecurely: it proves no
 * signed delegation (8.6), which for other types means the name may lie under an unsigned one.
 */
export function nsec3ProvesNodata(qname: Uint8Array, qtype: number, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options = {}): Denial {
  const chain = chainFor(qname, nsec3s, zone, opts);
  if (!(chain instanceof Chain)) return chain;
  const at = chain.matching(qname);
  if (at) return nodataAt(at.bitmap, qname, qtype);
  const e = closestEncloser(chain, qname, zone);
  if ("state" in e) return e;
  if (optedOut(e)) return insecure("opt-out");
  return bogus(qtype === DS ? "not-opt-out" : "no-proof");
}

/**
 * NODATA from a wildcard (RFC 5155 8.7): the closest encloser proof, and an NSEC3 matching the wildcard at the
 * closest encloser without `qtype` and CNAME; insecure when the next closer name lies in an opt-out span.
 */
export function nsec3ProvesWildcardNodata(qname: Uint8Array, qtype: number, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options = {}): Denial {
  const p = enclose(qname, nsec3s, zone, opts);
  if ("state" in p) return p;
  const wildcard = wildcardAt(p.e.ce);
  const at = wildcard && p.chain.matching(wildcard);
  if (!wildcard || !at) return bogus("no-wildcard-match");
  const d = nodataAt(at.bitmap, wildcard, qtype);
  if (d.state !== "secure") return d;
  return optedOut(p.e) ? insecure("opt-out") : SECURE;
}

/**
 * A positive answer expanded from `wildcard` ("*." and the closest encloser, as the RRSIG's labels field
 * gives it; RFC 5155 8.8): an NSEC3 covering the next closer name, so no closer name could have answered;
 * insecure when that record is opt-out.
 */
export function nsec3ProvesWildcardAnswer(qname: Uint8Array, wildcard: Uint8Array, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options = {}): Denial {
  const ce = parentOf(wildcard);
  if (!isWildcard(wildcard) || !isBelow(qname, ce)) return bogus("wrong-closest-encloser");
  const chain = chainFor(qname, nsec3s, zone, opts);
  if (!(chain instanceof Chain)) return chain;
  const nextCloser = suffixWithLabels(qname, countLabels(ce) + 1);
  if (chain.matching(nextCloser)) return bogus("wrong-closest-encloser");
  const cover = chain.covering(nextCloser);
  if (!cover) return bogus("next-closer-not-covered");
  return (cover.flags & OPT_OUT) !== 0 ? insecure("opt-out") : SECURE;
}

/**
 * A referral to `name` without DS (RFC 5155 8.9, RFC 6840 4.4): an NSEC3 matching `name` with NS and without
 * DS and SOA, or the closest encloser proof with the next closer name in an opt-out span, which is how opt-out
 * leaves unsigned delegations out of the chain.
 */
export function nsec3ProvesInsecureDelegation(name: Uint8Array, nsec3s: Nsec3[], zone: Uint8Array, opts: Nsec3Options = {}): Denial {
  const chain = chainFor(name, nsec3s, zone, opts);
  if (!(chain instanceof Chain)) return chain;
  const at = chain.matching(name);
  if (at) return delegationAt(at.bitmap);
  const e = closestEncloser(chain, name, zone);
  if ("state" in e) return e;
  return optedOut(e) ? SECURE : bogus("not-opt-out");
}
