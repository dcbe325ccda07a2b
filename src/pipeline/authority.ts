// The authoritative stage: answers for names inside a served zone, built in the request's slot from the
// zone snapshot's pre-encoded RRsets, the way NSD answers (minimal responses). The question name and every
// CNAME target inside the zone are looked up in turn: an exact match, an empty non-terminal, a zone cut, a
// wildcard (RFC 4592), or nothing. The chain ends at data of the asked type, at NODATA or NXDOMAIN (the rcode
// of the last name, RFC 6604), at a delegation (its referral is added), outside the zone, or at a name seen
// before (a loop: each RR once). Negative answers carry the SOA with the negative TTL (RFC 2308 3); DO
// queries get RRSIGs and the NSEC proofs (RFC 4035 3.1.3), with names compared canonically in any case.
import { Flag, HEADER_LEN, QClass, QType, Rcode } from "../wire/constants";
import { hashName, lower } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { beginResponse, finishResponse, recordsEnd } from "../wire/response";
import { NodeFlag } from "../zones/build";
import type { ZoneSnapshot } from "../zones/snapshot";

const MAX_CHAIN = 8;
const NSEC = 47;
/** Largest offset a compression pointer can reach. */
const MAX_POINTER = 0x3fff;

/** A response being assembled: section counts and the write offset; off < 0 means the slot overflowed. */
class Writer {
  off: number;
  rcode: number = Rcode.NOERROR;
  aa = true;
  an = 0;
  ns = 0;
  ar = 0;
  /** Negative answer: the SOA goes first in authority. */
  soa = false;
  /** Nodes whose NSEC goes into authority (DO), in order, without repeats. */
  readonly proofs: number[] = [];
  /** A zone cut whose referral ends the answer. */
  cut = -1;
  /** Records end here, so that our OPT fits after them. */
  private readonly end: number;
  constructor(
    readonly buf: Uint8Array,
    readonly q: QueryInfo,
    readonly z: ZoneSnapshot,
  ) {
    this.off = beginResponse(buf, q, Rcode.NOERROR, true);
    this.end = recordsEnd(buf, q);
  }

  put(bytes: Uint8Array): boolean {
    if (this.off < 0) return false;
    if (this.off + bytes.length > this.end) {
      this.off = -1;
      return false;
    }
    this.buf.set(bytes, this.off);
    this.off += bytes.length;
    return true;
  }

  /**
   * Writes the RRs of `rrs` (owner as a 2-byte pointer, the atQuestion form) with their owner at `owner`: a
   * pointer to that offset, or the name written out when the offset is beyond a pointer's reach.
   */
  putAt(rrs: Uint8Array, owner: number, ownerEnd: number): void {
    if (owner === HEADER_LEN) {
      this.put(rrs);
      return;
    }
    for (let o = 0; o < rrs.length && this.off >= 0; ) {
      const len = 12 + ((rrs[o + 10]! << 8) | rrs[o + 11]!);
      const at = this.off;
      if (owner <= MAX_POINTER) {
        if (!this.put(rrs.subarray(o, o + len))) return;
        this.buf[at] = 0xc0 | (owner >> 8);
        this.buf[at + 1] = owner & 0xff;
      } else if (!this.put(this.buf.slice(owner, ownerEnd)) || !this.put(rrs.subarray(o + 2, o + len))) return;
      o += len;
    }
  }

  proof(node: number): void {
    if (this.q.dnssecOk && node >= 0 && !this.proofs.includes(node)) this.proofs.push(node);
  }

  finish(): number {
    const { buf, q } = this;
    if (q.dnssecOk || this.soa || this.cut >= 0) this.authority();
    if (this.off < 0) {
      const off = beginResponse(buf, q, this.rcode, true);
      buf[2]! |= Flag.TC >> 8;
      return finishResponse(buf, off, q, this.rcode, 0, 0);
    }
    if (!this.aa) buf[2]! &= ~(Flag.AA >> 8);
    buf[3] = (buf[3]! & 0xf0) | this.rcode;
    const end = finishResponse(buf, this.off, q, this.rcode, this.an, this.ns);
    const ar = this.ar + (q.edns ? 1 : 0);
    buf[10] = ar >> 8; // glue (if any) sits before our OPT in the additional section
    buf[11] = ar & 0xff;
    return end;
  }

  /** Authority (SOA, then a referral's NS and DS, then the NSEC proofs), then a referral's glue. */
  private authority(): void {
    const { z, q } = this;
    if (this.soa) {
      this.put(z.negativeSoa());
      this.ns++;
      if (q.dnssecOk && z.soaSigCount() > 0) {
        this.put(z.negativeSoaSig());
        this.ns += z.soaSigCount();
      }
    }
    const cut = this.cut;
    if (cut >= 0) {
      const ns = z.set(cut, QType.NS);
      this.put(z.full(ns));
      this.ns += z.count(ns);
      if (q.dnssecOk && z.p.signed) {
        const ds = z.set(cut, QType.DS);
        if (ds >= 0) this.addSet(ds, "ns");
        else this.proof(cut); // RFC 4035 3.1.4: NSEC proving there is no DS
      }
    }
    for (const n of this.proofs) {
      const s = z.set(n, NSEC);
      if (s >= 0) this.addSet(s, "ns");
    }
    if (cut >= 0) this.glue(cut);
  }

  /** An RRset written out in full (and its RRSIGs for DO queries), into a section. */
  addSet(set: number, section: "an" | "ns" | "ar"): void {
    const z = this.z;
    this.put(z.full(set));
    this[section] += z.count(set);
    if (this.q.dnssecOk && z.sigCount(set) > 0) {
      this.put(z.sigFull(set));
      this[section] += z.sigCount(set);
    }
  }

  /** An RRset with its owner at `owner` (and its RRSIGs for DO queries), into the answer section. */
  addAnswer(set: number, owner: number, ownerEnd: number): void {
    const z = this.z;
    this.putAt(z.atQuestion(set), owner, ownerEnd);
    this.an += z.count(set);
    if (this.q.dnssecOk && z.sigCount(set) > 0) {
      this.putAt(z.sigAtQuestion(set), owner, ownerEnd);
      this.an += z.sigCount(set);
    }
  }

  /** Every RRSIG at `node` into the answer section, owned by the name at `owner`; false when there is none. */
  signatures(node: number, owner: number, ownerEnd: number): boolean {
    const z = this.z;
    const an = this.an;
    for (const set of z.setsOf(node)) {
      if (z.sigCount(set) === 0) continue;
      this.putAt(z.sigAtQuestion(set), owner, ownerEnd);
      this.an += z.sigCount(set);
    }
    return this.an > an;
  }

  /** Glue: addresses of a cut's NS targets that live in this zone. */
  private glue(cut: number): void {
    const z = this.z;
    const full = z.full(z.set(cut, QType.NS));
    const ownerLen = z.name(cut).length;
    for (let o = 0; o < full.length; ) {
      const rdlen = (full[o + ownerLen + 8]! << 8) | full[o + ownerLen + 9]!;
      const target = full.subarray(o + ownerLen + 10, o + ownerLen + 10 + rdlen);
      const n = z.findNode(target, 0, target.length);
      if (n >= 0) {
        for (const t of [QType.A, QType.AAAA]) {
          const s = z.set(n, t);
          if (s >= 0) {
            this.put(z.full(s));
            this.ar += z.count(s);
          }
        }
      }
      o += ownerLen + 10 + rdlen;
    }
  }
}

/** The lowercased copy of the uncompressed name at buf[off, end), for canonical comparisons. */
function lowered(buf: Uint8Array, off: number, end: number): Uint8Array {
  const out = new Uint8Array(end - off);
  for (let i = off; i < end; i++) out[i - off] = lower(buf[i]!);
  return out;
}

/** End of the uncompressed name at buf[off] (just past its zero byte). */
function nameEnd(buf: Uint8Array, off: number): number {
  while (buf[off] !== 0) off += buf[off]! + 1;
  return off + 1;
}

/** Is the uncompressed name at buf[off, end) the zone's origin or below it? */
function inZone(buf: Uint8Array, off: number, end: number, z: ZoneSnapshot): boolean {
  const apexOff = end - z.origin.length;
  if (apexOff < off) return false;
  let o = off;
  while (o < apexOff) o += buf[o]! + 1;
  if (o !== apexOff) return false;
  const origin = z.origin;
  for (let i = 0; i < origin.length; i++) if (lower(buf[apexOff + i]!) !== origin[i]) return false;
  return true;
}

/** The zone cut at or above the name buf[off, end) and below the apex (the one nearest the apex), or -1. */
function cutAbove(buf: Uint8Array, off: number, end: number, z: ZoneSnapshot, qtype: number): number {
  const apexOff = end - z.origin.length;
  let cut = -1;
  for (let o = off; o < apexOff; o += buf[o]! + 1) {
    if (o === off && qtype === QType.DS) continue; // DS is answered by the parent side of the cut
    const n = z.findNode(buf, o, end);
    if (n >= 0 && z.flags(n) & NodeFlag.DELEGATION) cut = n;
  }
  return cut;
}

/** Answers the query in buf from zone `z` (the closest enclosing served zone of the qname). */
export function answerAuthoritative(buf: Uint8Array, q: QueryInfo, z: ZoneSnapshot): number {
  const w = new Writer(buf, q, z);
  // QCLASS ANY: the IN data, but not authoritatively, as other classes are not in it (RFC 1035 6.2, as NSD).
  if (q.qclass === QClass.ANY) w.aa = false;
  let off = HEADER_LEN;
  let end = q.qnameEnd;
  const seen: number[] = [];
  for (let hop = 0; hop <= MAX_CHAIN; hop++) {
    const cut = cutAbove(buf, off, end, z, q.qtype);
    if (cut >= 0) {
      // A referral; after a CNAME the answer keeps its AA (the CNAME is ours), like NSD.
      if (hop === 0) w.aa = false;
      w.cut = cut;
      break;
    }
    let node = z.findNode(buf, off, end, hop === 0 ? q.nameHash : hashName(buf, off, end));
    let wildProof = -1;
    if (node < 0) {
      const name = lowered(buf, off, end);
      const ce = closestEncloser(buf, off, end, z);
      const wild = wildcardOf(ce >= 0 ? z.name(ce) : z.origin);
      node = z.findNode(wild, 0, wild.length);
      if (node < 0) {
        w.rcode = Rcode.NXDOMAIN;
        w.soa = true;
        w.proof(z.covering(name));
        w.proof(z.covering(wild));
        break;
      }
      wildProof = z.covering(name); // RFC 4035 3.1.3.3: the qname itself does not exist
      w.proof(wildProof);
    }
    if (seen.includes(node)) break; // a CNAME loop: every RR is in the answer once
    seen.push(node);
    if (z.flags(node) & NodeFlag.EMPTY) {
      w.soa = true;
      w.proof(z.covering(lowered(buf, off, end)));
      break;
    }
    if (q.qtype === QType.ANY) {
      // RFC 8482: one RRset is enough.
      const first = z.setsOf(node).find((s) => z.typeOf(s) !== NSEC) ?? -1;
      if (first >= 0) w.addAnswer(first, off, end);
      break;
    }
    if (q.qtype === QType.RRSIG) {
      // The name's signatures, whatever DO says (as NSD); an unsigned name has none: NODATA.
      if (!w.signatures(node, off, end)) {
        w.soa = true;
        w.proof(node);
      }
      break;
    }
    const s = z.set(node, q.qtype);
    if (s >= 0) {
      w.addAnswer(s, off, end);
      break;
    }
    const cname = z.set(node, QType.CNAME);
    if (cname < 0 || q.qtype === QType.CNAME) {
      w.soa = true;
      w.proof(node);
      break;
    }
    const at = w.off;
    w.addAnswer(cname, off, end);
    if (w.off < 0) break;
    // The CNAME's target, as just written (RDATA after owner pointer or name, and 10 fixed bytes).
    const ownerLen = buf[at]! >= 0xc0 ? 2 : nameEnd(buf, at) - at;
    off = at + ownerLen + 10;
    end = nameEnd(buf, off);
    if (!inZone(buf, off, end, z)) break; // resolvers chase it from here
  }
  return w.finish();
}

/** The nearest existing ancestor of a name that is not in the zone (the apex at worst), or -1 for the apex. */
function closestEncloser(buf: Uint8Array, off: number, end: number, z: ZoneSnapshot): number {
  const apexOff = end - z.origin.length;
  for (let o = off + buf[off]! + 1; o < apexOff; o += buf[o]! + 1) {
    const n = z.findNode(buf, o, end);
    if (n >= 0) return n;
  }
  return -1;
}

/** "*." + name. */
function wildcardOf(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + name.length);
  out[0] = 1;
  out[1] = 0x2a;
  out.set(name, 2);
  return out;
}
