// Zero-copy reading of an incoming query: header, the one question, EDNS. No allocation per call:
// the caller owns a QueryInfo and passes it in (one per request that outlives the receive callback).
import { EDNS_UDP, HEADER_LEN, MIN_UDP, QClass, QType, Rcode } from "./constants";
import { hashName, lower, skipName } from "./name";
import { Cookie, COOKIE_DATA_LEN, COOKIE_OPTION, readCookie } from "./cookie";

export { Cookie };

/** What to do with a message, decided from its bytes alone. */
export const enum Verdict {
  OK = 0,
  /** Not worth an answer: too short to echo an ID, or a response (QR=1) sent to us. */
  DROP = -1,
  /**
   * QDCOUNT=0 with a COOKIE option: the client asks for a server cookie (RFC 7873 5.4). Answered NOERROR with
   * no question by errorResponse (which takes this verdict for Rcode.NOERROR).
   */
  COOKIE_ONLY = -2,
}

export class QueryInfo {
  id = 0;
  flags = 0;
  opcode = 0;
  /** The question parsed: error answers may echo it. */
  hasQuestion = false;
  /** Offset of the byte after the qname's terminating zero. */
  qnameEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Offset just after the question (where answers start). */
  questionEnd = 0;
  /** FNV-1a of the lowercased qname: the local/caches key. */
  nameHash = 0;
  edns = false;
  /** Client's UDP payload size, floored at 512 (RFC 6891 6.2.5). */
  udpSize = MIN_UDP;
  dnssecOk = false;
  ednsVersion = 0;
  /** The client's address as its socket reports it ("192.0.2.1", "::1"): set by the transport, kept by reset(). */
  peer = "";
  /** It came over TLS or HTTPS: our OPT pads the answer (RFC 7830, 8467). Set by the transport, kept by reset(). */
  encrypted = false;
  /** What the COOKIE option said; GOOD means the client has proved it receives our answers at its address. */
  cookie: Cookie = Cookie.NONE;
  /** The client cookie at [0, 8), the server cookie it sent at [8, 8 + serverCookieLen): see wire/cookie.ts. */
  readonly cookieData = new Uint8Array(COOKIE_DATA_LEN);
  serverCookieLen = 0;

  reset(): void {
    this.id = this.flags = this.opcode = this.qnameEnd = this.qtype = this.qclass = this.questionEnd = this.nameHash = 0;
    this.hasQuestion = this.edns = this.dnssecOk = false;
    this.udpSize = MIN_UDP;
    this.ednsVersion = this.serverCookieLen = 0;
    this.cookie = Cookie.NONE;
  }

  copyFrom(o: QueryInfo): this {
    this.id = o.id; this.flags = o.flags; this.opcode = o.opcode; this.hasQuestion = o.hasQuestion;
    this.qnameEnd = o.qnameEnd; this.qtype = o.qtype; this.qclass = o.qclass; this.questionEnd = o.questionEnd;
    this.nameHash = o.nameHash; this.edns = o.edns; this.udpSize = o.udpSize; this.dnssecOk = o.dnssecOk;
    this.ednsVersion = o.ednsVersion; this.peer = o.peer; this.encrypted = o.encrypted; this.cookie = o.cookie; this.serverCookieLen = o.serverCookieLen;
    if (o.cookie !== Cookie.NONE) this.cookieData.set(o.cookieData);
    return this;
  }

  /** Largest response this client accepts over UDP: its EDNS size capped at what we advertise. */
  maxUdpResponse(): number {
    return this.edns ? Math.min(this.udpSize, EDNS_UDP) : MIN_UDP;
  }
}

/**
 * Reads the query in buf[0..len) into `q` (whose `peer` the transport has set). Returns Verdict.OK,
 * Verdict.DROP, Verdict.COOKIE_ONLY, or the Rcode to answer with (FORMERR, NOTIMP, REFUSED, BADVERS) as
 * catalogued in RELIABILITY.md "Malformed input".
 */
export function parseQuery(buf: Uint8Array, len: number, q: QueryInfo): number {
  q.reset();
  if (len < HEADER_LEN) return Verdict.DROP;
  const flags = (buf[2]! << 8) | buf[3]!;
  if (flags & 0x8000) return Verdict.DROP;
  q.id = (buf[0]! << 8) | buf[1]!;
  q.flags = flags;
  q.opcode = (flags >> 11) & 0xf;
  const qd = (buf[4]! << 8) | buf[5]!;
  if (qd !== 1) return qd === 0 ? readCookieRequest(buf, len, q) : Rcode.FORMERR;

  // The question name: a query's question has nothing before it to point at, so any pointer is bogus.
  let off = HEADER_LEN;
  let h = 0x811c9dc5;
  let total = 1;
  for (;;) {
    if (off >= len) return Rcode.FORMERR;
    const l = buf[off]!;
    if (l === 0) break;
    if (l > 63) return Rcode.FORMERR;
    total += l + 1;
    if (total > 255 || off + l + 1 > len) return Rcode.FORMERR;
    h = Math.imul(h ^ l, 0x01000193);
    for (let i = off + 1; i <= off + l; i++) h = Math.imul(h ^ lower(buf[i]!), 0x01000193);
    off += l + 1;
  }
  h = Math.imul(h ^ 0, 0x01000193);
  q.qnameEnd = off + 1;
  if (q.qnameEnd + 4 > len) return Rcode.FORMERR;
  q.qtype = (buf[q.qnameEnd]! << 8) | buf[q.qnameEnd + 1]!;
  q.qclass = (buf[q.qnameEnd + 2]! << 8) | buf[q.qnameEnd + 3]!;
  q.questionEnd = q.qnameEnd + 4;
  q.nameHash = h >>> 0;
  q.hasQuestion = true;

  if (!readRecords(buf, q.questionEnd, len, q)) return Rcode.FORMERR;
  if (q.opcode !== 0) return Rcode.NOTIMP;
  if (q.edns && q.ednsVersion !== 0) return Rcode.BADVERS;
  if (q.qclass !== QClass.IN && q.qclass !== QClass.CH && q.qclass !== QClass.ANY) return Rcode.REFUSED;
  return Verdict.OK;
}

/** QDCOUNT=0: only a request for a server cookie (RFC 7873 5.4) is a query; anything else is FORMERR. */
function readCookieRequest(buf: Uint8Array, len: number, q: QueryInfo): number {
  if (!readRecords(buf, HEADER_LEN, len, q) || q.cookie === Cookie.NONE) return Rcode.FORMERR;
  if (q.opcode !== 0) return Rcode.NOTIMP;
  if (q.ednsVersion !== 0) return Rcode.BADVERS;
  return Verdict.COOKIE_ONLY;
}

/**
 * Walks the answer, authority and additional records from `off`, reading the OPT into `q`. False, for
 * FORMERR, when counts claim records that are not there or the OPT is misplaced, repeated or malformed.
 * Trailing bytes after the last record are ignored (lenient, like most resolvers).
 */
function readRecords(buf: Uint8Array, off: number, len: number, q: QueryInfo): boolean {
  const an = (buf[6]! << 8) | buf[7]!;
  const ns = (buf[8]! << 8) | buf[9]!;
  const records = an + ns + ((buf[10]! << 8) | buf[11]!);
  for (let r = 0; r < records; r++) {
    const nameStart = off;
    off = skipName(buf, off, len);
    if (off < 0 || off + 10 > len) return false;
    const type = (buf[off]! << 8) | buf[off + 1]!;
    const rdlen = (buf[off + 8]! << 8) | buf[off + 9]!;
    if (off + 10 + rdlen > len) return false;
    if (type === QType.OPT) {
      // OPT only in additional, only once, owner must be the root (RFC 6891 6.1.1).
      if (r < an + ns || q.edns || buf[nameStart] !== 0) return false;
      q.edns = true;
      const size = (buf[off + 2]! << 8) | buf[off + 3]!;
      q.udpSize = size < MIN_UDP ? MIN_UDP : size;
      q.ednsVersion = buf[off + 5]!;
      q.dnssecOk = (buf[off + 6]! & 0x80) !== 0;
      if (rdlen !== 0 && !readOptions(buf, off + 10, off + 10 + rdlen, q)) return false;
    }
    off += 10 + rdlen;
  }
  return true;
}

/**
 * Walks the OPT RDATA buf[off, end) as (code, length, data) options (RFC 6891 6.1.2). False, for FORMERR,
 * when an option runs past the RDATA, bytes are left that cannot hold an option header, or the COOKIE option
 * is malformed or repeated; a malformed OPT's cookie is not answered. Unknown options are skipped.
 */
function readOptions(buf: Uint8Array, off: number, end: number, q: QueryInfo): boolean {
  while (off < end) {
    if (off + 4 > end) return badOpt(q);
    const code = (buf[off]! << 8) | buf[off + 1]!;
    const olen = (buf[off + 2]! << 8) | buf[off + 3]!;
    off += 4;
    if (off + olen > end) return badOpt(q);
    if (code === COOKIE_OPTION && (q.cookie !== Cookie.NONE || !readCookie(buf, off, olen, q))) return badOpt(q);
    off += olen;
  }
  return true;
}

function badOpt(q: QueryInfo): false {
  q.cookie = Cookie.NONE;
  return false;
}
