// Building answers in place, in the request's own slot: the query bytes already hold the header and the
// client's spelling of the question, so an answer is "patch header, cut after the question, append".
import { EDNS_UDP, Flag, HEADER_LEN, QType, Rcode } from "./constants";
import { Cookie, COOKIE_OPTION_LEN, writeCookieOption } from "./cookie";
import { Verdict, type QueryInfo } from "./query";
import { rcodeOf } from "./message";

function put16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >> 8;
  buf[off + 1] = v & 0xff;
}

export function get16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** Bytes an OPT record of ours takes with no options. */
export const OPT_LEN = 11;

/** Bytes our OPT takes in the answer to `q`: OPT_LEN, plus the COOKIE option when the client sent a cookie. */
export function optLen(q: QueryInfo): number {
  return q.cookie === Cookie.NONE ? OPT_LEN : OPT_LEN + COOKIE_OPTION_LEN;
}

/** Where an answer's records must end in `buf` so that our OPT still fits after them. */
export function recordsEnd(buf: Uint8Array, q: QueryInfo): number {
  return q.edns ? buf.length - optLen(q) : buf.length;
}

/**
 * Writes our OPT record (size 1232, version 0, DO echoed, extended rcode bits) at `off`; returns the new end.
 * Given the query `q` whose answer this is, it carries the client's cookie and a fresh server cookie (RFC 7873
 * 5.2): the room it needs is optLen(q). Without `q` (our own upstream queries) it has no options.
 */
export function writeOpt(buf: Uint8Array, off: number, rcode: number, dnssecOk: boolean, q?: QueryInfo, ede?: { code: number; text: string }): number {
  buf[off] = 0; // root owner
  put16(buf, off + 1, QType.OPT);
  put16(buf, off + 3, EDNS_UDP);
  buf[off + 5] = (rcode >> 4) & 0xff; // extended rcode, upper 8 bits
  buf[off + 6] = 0; // version 0
  buf[off + 7] = dnssecOk ? 0x80 : 0;
  buf[off + 8] = 0;
  if (ede === undefined && (q === undefined || (q.cookie === Cookie.NONE && !q.encrypted))) {
    put16(buf, off + 9, 0); // rdlen
    return off + OPT_LEN;
  }
  let end = off + OPT_LEN;
  if (q && q.cookie !== Cookie.NONE) end = writeCookieOption(buf, end, q);
  if (ede) end = writeEde(buf, end, ede.code, ede.text);
  if (!q) {
    put16(buf, off + 9, end - off - OPT_LEN);
    return end;
  }
  if (q.encrypted) end = writePadding(buf, end);
  put16(buf, off + 9, end - off - OPT_LEN);
  return end;
}

const EDE_OPTION = 15;

/** An Extended DNS Error option (RFC 8914 2): INFO-CODE and EXTRA-TEXT (UTF-8), when the slot has room for it. */
function writeEde(buf: Uint8Array, end: number, code: number, text: string): number {
  const bytes = new TextEncoder().encode(text);
  if (end + 6 + bytes.length > buf.length) return end;
  put16(buf, end, EDE_OPTION);
  put16(buf, end + 2, 2 + bytes.length);
  put16(buf, end + 4, code);
  buf.set(bytes, end + 6);
  return end + 6 + bytes.length;
}

/** Responses over encrypted transports are padded to a multiple of this (RFC 8467 4.1, block-length padding). */
const PAD_BLOCK = 468;
const PADDING_OPTION = 12;

/**
 * A PADDING option (RFC 7830) at `end` that makes the message end on a PAD_BLOCK boundary, so its size says
 * little about its content; none when the slot has no room for it. Returns the new end.
 */
function writePadding(buf: Uint8Array, end: number): number {
  const target = Math.ceil((end + 4) / PAD_BLOCK) * PAD_BLOCK;
  if (target > buf.length || target > 0xffff) return end;
  put16(buf, end, PADDING_OPTION);
  put16(buf, end + 2, target - end - 4);
  buf.fill(0, end + 4, target);
  return target;
}

/**
 * Turns the query in `buf` into the header of a response: QR set, opcode/RD/CD kept, RA set, AA as asked,
 * counts zeroed but QDCOUNT. Returns the offset where answer records go (just after the question).
 */
export function beginResponse(buf: Uint8Array, q: QueryInfo, rcode: number, authoritative: boolean): number {
  const keep = q.flags & (0x7800 | Flag.RD | Flag.CD);
  put16(buf, 2, keep | Flag.QR | Flag.RA | (authoritative ? Flag.AA : 0) | (rcode & 0xf));
  put16(buf, 4, q.hasQuestion ? 1 : 0);
  put16(buf, 6, 0);
  put16(buf, 8, 0);
  put16(buf, 10, 0);
  return q.hasQuestion ? q.questionEnd : HEADER_LEN;
}

/** Sets ANCOUNT/NSCOUNT and appends OPT when the client used EDNS; returns the message length. */
export function finishResponse(buf: Uint8Array, off: number, q: QueryInfo, rcode: number, an: number, ns: number, ede?: { code: number; text: string }): number {
  put16(buf, 6, an);
  put16(buf, 8, ns);
  if (!q.edns) return off;
  put16(buf, 10, 1);
  return writeOpt(buf, off, rcode, q.dnssecOk, q, ede);
}

/**
 * An error answer (FORMERR, SERVFAIL, REFUSED, NOTIMP, BADVERS) built from the query bytes: echoes the ID
 * and, when it parsed, the question. BADVERS carries version 0 in its OPT (RFC 6891 6.1.3). Also the answer
 * to Verdict.COOKIE_ONLY (taken as NOERROR): no question, the cookies in the OPT.
 */
export function errorResponse(buf: Uint8Array, q: QueryInfo, rcode: number): number {
  if (rcode === Verdict.COOKIE_ONLY) rcode = Rcode.NOERROR;
  const off = beginResponse(buf, q, rcode, false);
  if (rcode === Rcode.BADVERS && !q.edns) return finishResponse(buf, off, q, Rcode.SERVFAIL, 0, 0);
  return finishResponse(buf, off, q, rcode, 0, 0);
}

/**
 * A SERVFAIL to the query in `query` (header and question; `q` its parsed form) as a resolver hands it on: ID,
 * question, RD and CD as asked, no records and no OPT (the pipeline adds the client's, with an EDE).
 */
export function servfailAnswer(query: Uint8Array, q: QueryInfo): Uint8Array {
  const resp = query.slice(0, q.questionEnd);
  resp[2] = 0x80 | (query[2]! & 0x01);
  resp[3] = (query[3]! & 0x10) | Rcode.SERVFAIL;
  resp.fill(0, 4, 12);
  resp[5] = 1;
  return resp;
}

/**
 * When a response of `len` bytes is larger than `max`, cut it to header + question (+ OPT) and set TC,
 * so the client retries over TCP (RFC 1035 4.2.1, RFC 6891 7). Returns the length to send.
 */
export function truncateTo(buf: Uint8Array, len: number, q: QueryInfo, max: number): number {
  if (len <= max) return len;
  const rcode = rcodeOf(buf);
  put16(buf, 2, get16(buf, 2) | Flag.TC);
  put16(buf, 6, 0);
  put16(buf, 8, 0);
  put16(buf, 10, 0);
  return finishResponse(buf, q.hasQuestion ? q.questionEnd : HEADER_LEN, q, rcode, 0, 0);
}

/** A NOERROR answer with TC set and no records (and our OPT for EDNS clients): "ask again over TCP". */
export function truncatedAnswer(buf: Uint8Array, q: QueryInfo): number {
  const off = beginResponse(buf, q, Rcode.NOERROR, false);
  buf[2]! |= Flag.TC >> 8;
  return finishResponse(buf, off, q, Rcode.NOERROR, 0, 0);
}
