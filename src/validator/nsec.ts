// Authenticated denial of existence with NSEC (RFC 4035 5.4, RFC 4034 4, RFC 6840 4.1-4.4): pure decisions over
// NSEC records whose signatures the caller has already checked, for one zone whose apex the caller names.
// Names are compared in RFC 4034 6.1 canonical order; the last NSEC of a chain wraps around to the apex.
import { canonicalCompare } from "../zones/dnssec";
import {
  SECURE, aboveName, bogus, commonAncestor, countLabels, delegationAt, isAtOrBelow, isBelow, isWildcard, nameEnd, nodataAt, parentOf,
  sameName, wildcardAt, type Denial,
} from "./denial";

export interface Nsec {
  /** Wire name, any case. */
  owner: Uint8Array;
  /** The next owner name (wire, as signed: any case). */
  next: Uint8Array;
  /** The type bit maps field. */
  bitmap: Uint8Array;
  /** Its RRSIG's signer, when the caller passes it: an NSEC signed for another zone is ignored. */
  signer?: Uint8Array;
}

/** NSEC RDATA at `owner` to its fields; null when the next name is malformed. */
export function parseNsec(owner: Uint8Array, rdata: Uint8Array, signer?: Uint8Array): Nsec | null {
  const end = nameEnd(rdata);
  if (end < 0) return null;
  return { owner, next: rdata.subarray(0, end), bitmap: rdata.subarray(end), signer };
}

/** The NSECs that can speak for `zone`: owner and next name in it, signed by it when the signer is known. */
function usable(nsecs: Nsec[], zone: Uint8Array): Nsec[] {
  return nsecs.filter((n) => isAtOrBelow(n.owner, zone) && isAtOrBelow(n.next, zone) && (!n.signer || sameName(n.signer, zone)));
}

type Relation = "match" | "ent" | "covers" | "none";

/**
 * How an NSEC stands to a name: at it; before it with a next name below it (the name is an empty
 * non-terminal, so it exists); strictly between its owner and next name (with the last NSEC, whose next name
 * is the apex, covering every name after its owner, and an apex-only chain every name below the apex).
 */
function relation(n: Nsec, name: Uint8Array): Relation {
  if (sameName(n.owner, name)) return "match";
  if (canonicalCompare(n.owner, name) > 0) return "none";
  if (isBelow(n.next, name)) return "ent";
  if (canonicalCompare(name, n.next) < 0) return "covers";
  return canonicalCompare(n.next, n.owner) <= 0 && isBelow(name, n.next) ? "covers" : "none";
}

/** The NSEC proving `name` does not exist, or why there is none. */
function denyName(name: Uint8Array, nsecs: Nsec[]): { by: Nsec } | Denial {
  let failure: Denial | undefined;
  let by: Nsec | undefined;
  for (const n of nsecs) {
    const r = relation(n, name);
    if (r === "match") return bogus("name-exists");
    if (r === "ent") return bogus("empty-non-terminal");
    if (r !== "covers") continue;
    const above = isBelow(name, n.owner) ? aboveName(n.bitmap) : null;
    if (above) failure ??= above;
    else by ??= n;
  }
  return by ? { by } : (failure ?? bogus("no-proof"));
}

/** RFC 4035 5.4 as Unbound reads it: the closest encloser is the longer common ancestor with owner or next name. */
function closestEncloser(name: Uint8Array, n: Nsec): Uint8Array {
  const a = commonAncestor(name, n.owner);
  const b = commonAncestor(name, n.next);
  return countLabels(a) >= countLabels(b) ? a : b;
}

/** The usable NSECs, or the failure that comes before any proof. */
function start(name: Uint8Array, nsecs: Nsec[], zone: Uint8Array): Nsec[] | Denial {
  if (!isAtOrBelow(name, zone)) return bogus("outside-zone");
  const set = usable(nsecs, zone);
  return set.length ? set : bogus("nsec-missing");
}

/** `name` does not exist: a covering NSEC, and the closest encloser it shows. */
function nonexistence(name: Uint8Array, set: Nsec[]): { ce: Uint8Array; by: Nsec } | Denial {
  const d = denyName(name, set);
  return "state" in d ? d : { ce: closestEncloser(name, d.by), by: d.by };
}

/**
 * NXDOMAIN (RFC 4035 5.4): an NSEC covering `qname` and one denying the wildcard at the closest encloser that
 * covering NSEC shows (RFC 4592 4.1); an NSEC at the wildcard, or showing it has descendants, means the wildcard
 * would have answered.
 */
export function nsecProvesNxdomain(qname: Uint8Array, nsecs: Nsec[], zone: Uint8Array): Denial {
  const p = nsecNxdomainProof(qname, nsecs, zone);
  return "used" in p ? SECURE : p;
}

/** nsecProvesNxdomain, with the one or two records the proof rests on when it holds. */
export function nsecNxdomainProof(qname: Uint8Array, nsecs: Nsec[], zone: Uint8Array): { used: Nsec[] } | Denial {
  const set = start(qname, nsecs, zone);
  if ("state" in set) return set;
  const name = nonexistence(qname, set);
  if ("state" in name) return name;
  const wildcard = wildcardAt(name.ce);
  if (!wildcard) return bogus("wildcard-not-denied");
  const d = denyName(wildcard, set);
  if (!("state" in d)) return { used: d.by === name.by ? [name.by] : [name.by, d.by] };
  if (d.state === "bogus" && (d.why === "name-exists" || d.why === "empty-non-terminal")) return bogus("wildcard-exists");
  return d.state === "bogus" && d.why === "no-proof" ? bogus("wildcard-not-denied") : d;
}

/**
 * NODATA (RFC 4035 5.4, RFC 6840 4.3, 4.4): an NSEC at `qname` without `qtype` and CNAME (for DS, the parent's
 * NSEC, without SOA), or an NSEC showing `qname` is an empty non-terminal. An NSEC covering `qname` instead
 * proves nothing here, unless its owner is an ancestor of `qname` that is a DNAME or a delegation (RFC 6840
 * 4.1): bogus, or insecure below an unsigned delegation.
 */
export function nsecProvesNodata(qname: Uint8Array, qtype: number, nsecs: Nsec[], zone: Uint8Array): Denial {
  const set = start(qname, nsecs, zone);
  if ("state" in set) return set;
  const at = set.find((n) => sameName(n.owner, qname));
  if (at) return nodataAt(at.bitmap, qname, qtype);
  if (set.some((n) => relation(n, qname) === "ent")) return SECURE;
  const d = denyName(qname, set);
  return "state" in d ? d : bogus("no-proof");
}

/**
 * NODATA from a wildcard (RFC 4035 3.1.3.4, 5.4): an NSEC covering `qname`, and an NSEC at the wildcard of the
 * closest encloser it shows without `qtype` and CNAME (or one showing that wildcard is an empty non-terminal).
 */
export function nsecProvesWildcardNodata(qname: Uint8Array, qtype: number, nsecs: Nsec[], zone: Uint8Array): Denial {
  const set = start(qname, nsecs, zone);
  if ("state" in set) return set;
  const name = nonexistence(qname, set);
  if ("state" in name) return name;
  const wildcard = wildcardAt(name.ce);
  const at = wildcard && set.find((n) => sameName(n.owner, wildcard));
  if (at) return nodataAt(at.bitmap, wildcard, qtype);
  if (wildcard && set.some((n) => relation(n, wildcard) === "ent")) return SECURE;
  return bogus("no-wildcard-match");
}

/**
 * A positive answer expanded from `wildcard` ("*." and the closest encloser, as the RRSIG's labels field
 * gives it): an NSEC proving `qname` itself does not exist, whose closest encloser is that wildcard's parent,
 * so no closer name could have answered (RFC 4035 5.3.4).
 */
export function nsecProvesWildcardAnswer(qname: Uint8Array, wildcard: Uint8Array, nsecs: Nsec[], zone: Uint8Array): Denial {
  const ce = parentOf(wildcard);
  if (!isWildcard(wildcard) || !isBelow(qname, ce)) return bogus("wrong-closest-encloser");
  const set = start(qname, nsecs, zone);
  if ("state" in set) return set;
  const name = nonexistence(qname, set);
  if ("state" in name) return name;
  return sameName(name.ce, ce) ? SECURE : bogus("wrong-closest-encloser");
}

/**
 * A referral to `name` without DS (RFC 4035 5.2, RFC 6840 4.4): the parent's NSEC at `name`, with NS and
 * without DS and SOA.
 */
export function nsecProvesInsecureDelegation(name: Uint8Array, nsecs: Nsec[], zone: Uint8Array): Denial {
  const set = start(name, nsecs, zone);
  if ("state" in set) return set;
  const at = set.find((n) => sameName(n.owner, name));
  return at ? delegationAt(at.bitmap) : bogus("no-proof");
}
