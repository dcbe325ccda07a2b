// The authoritative stage: answers for names inside a served zone, built in the request's slot from the
// zone snapshot's pre-encoded RRsets. Exact match, CNAME followed inside the zone, wildcards (RFC 4592),
// NODATA/NXDOMAIN with the SOA, referrals at zone cuts, minimal ANY (RFC 8482), RRSIG/NSEC for DO queries.
import { Flag, HEADER_LEN, QType, Rcode } from "../wire/constants";
import { hashName } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { beginResponse, finishResponse } from "../wire/response";
import { NodeFlag } from "../zones/build";
import type { ZoneSnapshot } from "../zones/snapshot";

const MAX_CHAIN = 8;

/** A response being assembled: section counts and the write offset; off < 0 means the slot overflowed. */
class Writer {
  off: number;
  an = 0;
  ns = 0;
  ar = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly q: QueryInfo,
    readonly rcode: number,
    aa: boolean,
  ) {
    this.off = beginResponse(buf, q, rcode, aa);
  }
  put(bytes: Uint8Array): boolean {
    if (this.off < 0) return false;
    if (this.off + bytes.length > this.buf.length) {
      this.off = -1;
      return false;
    }
    this.buf.set(bytes, this.off);
    this.off += bytes.length;
    return true;
  }
  finish(): number {
    const { buf, q } = this;
    if (this.off < 0) {
      const off = beginResponse(buf, q, this.rcode, true);
      buf[2]! |= Flag.TC >> 8;
      return finishResponse(buf, off, q, this.rcode, 0, 0);
    }
    const end = finishResponse(buf, this.off, q, this.rcode, this.an, this.ns);
    const ar = this.ar + (q.edns ? 1 : 0);
    buf[10] = ar >> 8; // glue (if any) sits before our OPT in the additional section
    buf[11] = ar & 0xff;
    return end;
  }
}

/** Adds an RRset (and its RRSIGs for DO queries) to a section. */
function addSet(w: Writer, z: ZoneSnapshot, set: number, atQuestion: boolean, section: "an" | "ns" | "ar"): void {
  w.put(atQuestion ? z.atQuestion(set) : z.full(set));
  w[section] += z.count(set);
  if (w.q.dnssecOk && z.sigCount(set) > 0) {
    w.put(atQuestion ? z.sigAtQuestion(set) : z.sigFull(set));
    w[section] += z.sigCount(set);
  }
}

function addSoa(w: Writer, z: ZoneSnapshot): void {
  addSet(w, z, z.set(z.p.apex, QType.SOA), false, "ns");
}

function addNsec(w: Writer, z: ZoneSnapshot, node: number): void {
  if (!w.q.dnssecOk || node < 0) return;
  const s = z.set(node, 47);
  if (s >= 0) addSet(w, z, s, false, "ns");
}

function negative(w: Writer, z: ZoneSnapshot, proofs: number[]): number {
  addSoa(w, z);
  const seen = new Set<number>();
  for (const n of proofs) if (!seen.has(n)) {
    seen.add(n);
    addNsec(w, z, n);
  }
  return w.finish();
}

/** Answers the query in buf from zone `z` (the closest enclosing served zone of the qname). */
export function answerAuthoritative(buf: Uint8Array, q: QueryInfo, z: ZoneSnapshot): number {
  const end = q.qnameEnd;
  const apexOff = end - z.origin.length;
  // A zone cut between the apex and the name (the one nearest the apex wins) makes this a referral.
  let cut = -1;
  for (let o = HEADER_LEN; o < apexOff; o += buf[o]! + 1) {
    if (o === HEADER_LEN && q.qtype === QType.DS) continue; // DS is answered by the parent side of the cut
    const n = z.findNode(buf, o, end);
    if (n >= 0 && z.flags(n) & NodeFlag.DELEGATION) cut = n;
  }
  if (cut >= 0) return referral(buf, q, z, cut);

  const node = z.findNode(buf, HEADER_LEN, end, q.nameHash);
  if (node >= 0) {
    if (z.flags(node) & NodeFlag.EMPTY) return negative(new Writer(buf, q, Rcode.NOERROR, true), z, [z.covering(buf.slice(HEADER_LEN, end))]);
    return fromNode(buf, q, z, node, true);
  }
  // Not there: the closest encloser, then its wildcard (RFC 4592 3.3.1).
  let encloser = -1;
  for (let o = HEADER_LEN + buf[HEADER_LEN]! + 1; o <= apexOff; o += buf[o]! + 1) {
    const n = z.findNode(buf, o, end);
    if (n >= 0) {
      encloser = n;
      break;
    }
  }
  const ce = encloser >= 0 ? z.name(encloser) : z.origin;
  const wildName = new Uint8Array(2 + ce.length);
  wildName[0] = 1;
  wildName[1] = 0x2a;
  wildName.set(ce, 2);
  const wild = z.findNode(wildName, 0, wildName.length, hashName(wildName, 0, wildName.length));
  if (wild >= 0) return fromNode(buf, q, z, wild, true, z.covering(buf.slice(HEADER_LEN, end)));
  const w = new Writer(buf, q, Rcode.NXDOMAIN, true);
  return negative(w, z, [z.covering(buf.slice(HEADER_LEN, end)), z.covering(wildName)]);
}

/**
 * Answers from a node (the exact name or a wildcard standing for it). Owner names are written as pointers to
 * the question, which is what wildcard synthesis needs. `wildProof` is the NSEC proving the qname itself
 * does not exist (DO queries answered from a wildcard).
 */
function fromNode(buf: Uint8Array, q: QueryInfo, z: ZoneSnapshot, node: number, atQuestion: boolean, wildProof = -1): number {
  const w = new Writer(buf, q, Rcode.NOERROR, true);
  if (q.qtype === QType.ANY) {
    // RFC 8482: one RRset is enough.
    const first = z.setsOf(node).find((s) => z.typeOf(s) !== 47) ?? -1;
    if (first >= 0) addSet(w, z, first, atQuestion, "an");
    return w.finish();
  }
  const s = z.set(node, q.qtype);
  if (s >= 0) {
    addSet(w, z, s, atQuestion, "an");
    if (wildProof >= 0) addNsec(w, z, wildProof);
    return w.finish();
  }
  const cname = z.set(node, QType.CNAME);
  if (cname >= 0 && q.qtype !== QType.CNAME) {
    addSet(w, z, cname, atQuestion, "an");
    chase(w, z, cname);
    return w.finish();
  }
  return negative(w, z, [node, wildProof].filter((n) => n >= 0));
}

/** Follows a CNAME chain inside the zone, adding each target's RRset (bounded, loop-safe). */
function chase(w: Writer, z: ZoneSnapshot, cnameSet: number): void {
  let rr: Uint8Array | null = z.atQuestion(cnameSet);
  for (let hop = 0; rr && hop < MAX_CHAIN; hop++) {
    // The target is the RDATA of the (single) CNAME: skip owner pointer (2) + fixed fields (10).
    const target = rr.subarray(12);
    const n = z.findNode(target, 0, target.length);
    if (n < 0 || z.flags(n) & (NodeFlag.GLUE | NodeFlag.DELEGATION)) return;
    const s = z.set(n, w.q.qtype);
    if (s >= 0) return addSet(w, z, s, false, "an");
    const next = z.set(n, QType.CNAME);
    if (next < 0) return;
    addSet(w, z, next, false, "an");
    const full = z.full(next);
    const ownerLen = z.name(n).length;
    rr = new Uint8Array(2 + full.length - ownerLen);
    rr.set(full.subarray(ownerLen), 2);
  }
}

/** A referral: the cut's NS in authority (not authoritative), glue for in-zone NS targets, DS or NSEC for DO. */
function referral(buf: Uint8Array, q: QueryInfo, z: ZoneSnapshot, cut: number): number {
  const w = new Writer(buf, q, Rcode.NOERROR, false);
  const ns = z.set(cut, QType.NS);
  w.put(z.full(ns));
  w.ns += z.count(ns);
  if (q.dnssecOk) {
    const ds = z.set(cut, QType.DS);
    if (ds >= 0) addSet(w, z, ds, false, "ns");
    else addNsec(w, z, cut);
  }
  // Glue: addresses of NS targets that live in this zone.
  const full = z.full(ns);
  const ownerLen = z.name(cut).length;
  for (let o = 0; o < full.length; ) {
    const rdlen = (full[o + ownerLen + 8]! << 8) | full[o + ownerLen + 9]!;
    const target = full.subarray(o + ownerLen + 10, o + ownerLen + 10 + rdlen);
    const n = z.findNode(target, 0, target.length);
    if (n >= 0) {
      for (const t of [QType.A, QType.AAAA]) {
        const s = z.set(n, t);
        if (s >= 0) {
          w.put(z.full(s));
          w.ar += z.count(s);
        }
      }
    }
    o += ownerLen + 10 + rdlen;
  }
  return w.finish();
}
