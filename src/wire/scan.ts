// Walking a whole upstream response once (slow path, on a cache miss): where every TTL is, where the OPT
// record is, what negative-caching TTL the SOA allows (RFC 2308), and whether its CNAME chain is sane.
import { HEADER_LEN, MAX_LABEL, MAX_NAME, QType } from "./constants";
import { lower, skipName } from "./name";
import { rcodeOf } from "./message";

export interface Scan {
  rcode: number;
  answers: number;
  /** Offsets of the 32-bit TTL field of every RR except OPT, and their values. */
  ttlOffsets: number[];
  ttls: number[];
  /** The OPT RR's byte range, or -1. */
  optStart: number;
  optEnd: number;
  /** Smallest TTL among answer-section RRs (-1 when there are none). */
  minAnswerTtl: number;
  /** Smallest TTL among all non-OPT RRs (-1 when there are none). */
  minTtl: number;
  /** min(SOA TTL, SOA MINIMUM) of the first SOA in authority (RFC 2308 section 5), or -1. */
  negativeTtl: number;
  /** CNAME hops from the question name inside the answer section; -1 when they loop. */
  cnameChain: number;
}

/** The name at `off` (following pointers) as a lowercased dotted string; "" on malformed input. */
export function readName(buf: Uint8Array, off: number, end: number): string {
  let out = "";
  let cursor = off;
  let hops = 0;
  let wire = 1;
  for (;;) {
    if (cursor < 0 || cursor >= end) return "";
    const len = buf[cursor]!;
    if (len === 0) return out || ".";
    if ((len & 0xc0) === 0xc0) {
      if (cursor + 1 >= end || ++hops > 32) return "";
      cursor = ((len & 0x3f) << 8) | buf[cursor + 1]!;
      continue;
    }
    wire += len + 1;
    if (len > MAX_LABEL || wire > MAX_NAME || cursor + 1 + len > end) return "";
    for (let i = cursor + 1; i <= cursor + len; i++) out += String.fromCharCode(lower(buf[i]!));
    out += ".";
    cursor += len + 1;
  }
}

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * Scans a response already known to be well formed (wellFormed()). Names inside RDATA are not covered by that
 * check, so they are read defensively: a SOA whose names do not parse gives no negative TTL.
 */
export function scanResponse(buf: Uint8Array, len: number): Scan {
  const an = (buf[6]! << 8) | buf[7]!;
  const ns = (buf[8]! << 8) | buf[9]!;
  const ar = (buf[10]! << 8) | buf[11]!;
  const s: Scan = {
    rcode: rcodeOf(buf),
    answers: an,
    ttlOffsets: [],
    ttls: [],
    optStart: -1,
    optEnd: -1,
    minAnswerTtl: -1,
    minTtl: -1,
    negativeTtl: -1,
    cnameChain: 0,
  };
  let off = skipName(buf, HEADER_LEN, len) + 4;
  const qname = readName(buf, HEADER_LEN, len);
  const cnames = new Map<string, string>();
  for (let i = 0; i < an + ns + ar; i++) {
    const start = off;
    off = skipName(buf, off, len);
    if (off < 0 || off + 10 > len) break; // not well formed after all: what was read so far stands
    const type = (buf[off]! << 8) | buf[off + 1]!;
    const raw = u32(buf, off + 4);
    const ttl = raw > 0x7fffffff ? 0 : raw; // RFC 2181 8: a TTL with the top bit set means 0
    const rdlen = (buf[off + 8]! << 8) | buf[off + 9]!;
    const rdata = off + 10;
    if (type === QType.OPT) {
      s.optStart = start;
      s.optEnd = rdata + rdlen;
    } else {
      s.ttlOffsets.push(off + 4);
      s.ttls.push(ttl);
      if (s.minTtl < 0 || ttl < s.minTtl) s.minTtl = ttl;
      if (i < an && (s.minAnswerTtl < 0 || ttl < s.minAnswerTtl)) s.minAnswerTtl = ttl;
      if (i < an && type === QType.CNAME) cnames.set(readName(buf, start, len), readName(buf, rdata, len));
      if (i >= an && i < an + ns && type === QType.SOA && s.negativeTtl < 0) {
        const rdend = Math.min(rdata + rdlen, len);
        const mnameEnd = skipName(buf, rdata, rdend);
        const rnameEnd = mnameEnd < 0 ? -1 : skipName(buf, mnameEnd, rdend);
        if (rnameEnd >= 0 && rnameEnd + 20 <= rdend) s.negativeTtl = Math.min(ttl, u32(buf, rnameEnd + 16));
      }
    }
    off = rdata + rdlen;
  }
  // Follow the chain from the question name; a revisit is a loop.
  const seen = new Set<string>([qname]);
  for (let name = cnames.get(qname); name !== undefined; name = cnames.get(name)) {
    if (seen.has(name)) {
      s.cnameChain = -1;
      break;
    }
    seen.add(name);
    s.cnameChain++;
  }
  return s;
}

/** Bytes of the response's OPT record (0 when it has none): left out of what is relayed or cached. */
export function optBytes(scan: Scan): number {
  return scan.optStart >= 0 ? scan.optEnd - scan.optStart : 0;
}

/**
 * Copies resp[from, end) to dst at `at`, leaving out the OPT record the scan found (its size and flags are per
 * client: ours is written on every answer); the caller adjusts ARCOUNT. Returns the bytes written.
 */
export function copyWithoutOpt(dst: Uint8Array, at: number, resp: Uint8Array, from: number, scan: Scan): number {
  if (scan.optStart < from) {
    dst.set(resp.subarray(from), at);
    return resp.length - from;
  }
  dst.set(resp.subarray(from, scan.optStart), at);
  dst.set(resp.subarray(scan.optEnd), at + scan.optStart - from);
  return resp.length - from - (scan.optEnd - scan.optStart);
}
