// The local-data stage: answers from LocalData into the request's slot, or says "not mine" (-1).
import { Flag, HEADER_LEN, QClass, QType, Rcode } from "../wire/constants";
import { copyBytes, hashName } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { beginResponse, finishResponse, recordsEnd } from "../wire/response";
import { NO_NAME, PACKED_SET_HEADER, type LocalData, type LocalZone, type RRSet } from "../zones/local";

const MAX_CHAIN = 8;

/** Appends bytes if they fit before `end`; returns the new offset or -1 when the slot is full. */
function append(buf: Uint8Array, off: number, bytes: Uint8Array, end: number): number {
  const n = bytes.length;
  if (off < 0 || off + n > end) return -1;
  copyBytes(buf, off, bytes, 0, n);
  return off + n;
}

/** NOERROR/NODATA or NXDOMAIN with the zone's SOA in authority, so the negative answer is cacheable. */
function negative(buf: Uint8Array, q: QueryInfo, rcode: number, zone: LocalZone | undefined): number {
  let off = beginResponse(buf, q, rcode, true);
  const withSoa = zone ? append(buf, off, zone.soa, recordsEnd(buf, q)) : off;
  if (withSoa >= 0) off = withSoa;
  return finishResponse(buf, off, q, rcode, 0, zone && withSoa >= 0 ? 1 : 0);
}

/** One RRset at the question name: the cheap path, no allocation. */
function positive(buf: Uint8Array, q: QueryInfo, set: RRSet): number {
  const off = append(buf, beginResponse(buf, q, Rcode.NOERROR, true), set.atQuestion, recordsEnd(buf, q));
  if (off < 0) return truncatedAnswer(buf, q);
  return finishResponse(buf, off, q, Rcode.NOERROR, set.count, 0);
}

/** The packed RRset at bytes[set] (PackedNames.find) at the question name: the cheap path's usual answer. */
function positivePacked(buf: Uint8Array, q: QueryInfo, bytes: Uint8Array, set: number): number {
  const count = (bytes[set + 2]! << 8) | bytes[set + 3]!;
  const len = (bytes[set + 4]! << 8) | bytes[set + 5]!;
  const off = beginResponse(buf, q, Rcode.NOERROR, true);
  if (off + len > recordsEnd(buf, q)) return truncatedAnswer(buf, q);
  copyBytes(buf, off, bytes, set + PACKED_SET_HEADER, len);
  return finishResponse(buf, off + len, q, Rcode.NOERROR, count, 0);
}

/** Every RRset at the name (qtype ANY on local data). */
function positiveAll(buf: Uint8Array, q: QueryInfo, sets: Iterable<RRSet>): number {
  let off = beginResponse(buf, q, Rcode.NOERROR, true);
  let an = 0;
  const end = recordsEnd(buf, q);
  for (const s of sets) {
    const next = append(buf, off, s.atQuestion, end);
    if (next < 0) return truncatedAnswer(buf, q);
    off = next;
    an += s.count;
  }
  return finishResponse(buf, off, q, Rcode.NOERROR, an, 0);
}

function truncatedAnswer(buf: Uint8Array, q: QueryInfo): number {
  const off = beginResponse(buf, q, Rcode.NOERROR, true);
  buf[2]! |= Flag.TC >> 8;
  return finishResponse(buf, off, q, Rcode.NOERROR, 0, 0);
}

/**
 * Answers the query in `buf` from local data, building the response in place. Returns its length, or -1
 * when the name is not local (the next stage decides).
 */
export function answerLocal(buf: Uint8Array, q: QueryInfo, data: LocalData): number {
  if (q.qclass !== QClass.IN && q.qclass !== QClass.ANY) return -1;
  // The usual case first, from the packed table: the name with an RRset of the asked type.
  const packed = data.packed.find(buf, HEADER_LEN, q.qnameEnd, q.nameHash, q.qtype);
  if (packed >= 0 && q.qtype !== QType.ANY) return positivePacked(buf, q, data.packed.bytes, packed);
  const node = packed === NO_NAME ? undefined : data.findNode(buf, HEADER_LEN, q.qnameEnd, q.nameHash);
  if (node) {
    if (q.qtype === QType.ANY) return positiveAll(buf, q, node.sets.values());
    const set = node.sets.get(q.qtype);
    if (set) return positive(buf, q, set);
    const cname = node.sets.get(QType.CNAME);
    if (cname) return chase(buf, q, data, cname);
    const zone = data.findZone(buf, HEADER_LEN, q.qnameEnd);
    return negative(buf, q, Rcode.NOERROR, zone?.kind === "configured" ? undefined : zone);
  }
  const zone = data.findZone(buf, HEADER_LEN, q.qnameEnd);
  if (!zone || zone.kind === "configured") return -1;
  if (zone.kind === "loopback") {
    if (q.qtype === QType.ANY) return positiveAll(buf, q, zone.synth.values());
    const set = zone.synth.get(q.qtype);
    return set ? positive(buf, q, set) : negative(buf, q, Rcode.NOERROR, zone);
  }
  return negative(buf, q, Rcode.NXDOMAIN, zone);
}

/** CNAME at the question name: answer it, then follow the chain through local data (bounded, loop-safe). */
function chase(buf: Uint8Array, q: QueryInfo, data: LocalData, first: RRSet): number {
  let off = beginResponse(buf, q, Rcode.NOERROR, true);
  const end = recordsEnd(buf, q);
  off = append(buf, off, first.atQuestion, end);
  let an = 1;
  let target = first.target;
  for (let hop = 0; target && hop < MAX_CHAIN && off >= 0; hop++) {
    const node = data.findNode(target, 0, target.length, hashName(target, 0, target.length));
    if (!node) break;
    const set = node.sets.get(q.qtype);
    if (set) {
      off = append(buf, off, set.full, end);
      an += set.count;
      break;
    }
    const next = node.sets.get(QType.CNAME);
    if (!next) break;
    off = append(buf, off, next.full, end);
    an++;
    target = next.target;
  }
  if (off < 0) return truncatedAnswer(buf, q);
  return finishResponse(buf, off, q, Rcode.NOERROR, an, 0);
}
