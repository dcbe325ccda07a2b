// DNS cookies (RFC 7873) with the interoperable server cookie of RFC 9018: Version 1, Reserved 0, a 32-bit
// timestamp and SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP) under a 16-byte secret.
// Every process that shares the secret (setCookieSecret) accepts the others' cookies.
import { siphash24, sipKey } from "./siphash";
import type { QueryInfo } from "./query";

export const COOKIE_OPTION = 10;

/** What a query's COOKIE option told us (QueryInfo.cookie). */
export const enum Cookie {
  NONE = 0,
  /** A client cookie alone: the client is learning our server cookie. */
  CLIENT = 1,
  /** A server cookie we made, for this client cookie and address, within its time window. */
  GOOD = 2,
  /** A server cookie that does not verify (another server's, forged, expired): answered normally, with a fresh one. */
  BAD = 3,
}

/** QueryInfo.cookieData holds the client cookie at [0, 8) and the server cookie the client sent at [8, 40). */
export const COOKIE_DATA_LEN = 40;
/** Bytes the COOKIE option adds to our OPT: code, length, client cookie, our 16-byte server cookie. */
export const COOKIE_OPTION_LEN = 4 + 8 + 16;

const OLDEST_S = 3600; // RFC 9018 4.3: one hour in the past...
const NEWEST_S = 300; // ...and five minutes into the future (clock skew within an anycast set)

const key = sipKey(crypto.getRandomValues(new Uint8Array(16)));

/** Sets the server secret (16 bytes); until called, a random one made once per process. */
export function setCookieSecret(secret: Uint8Array): void {
  sipKey(secret, key);
}

/** The cookie timestamp clock, seconds since the epoch; tests replace `now`. */
export const cookieClock = { now: (): number => Math.floor(Date.now() / 1000) };

// The hash input: client cookie [0, 8), version + reserved [8, 12), timestamp [12, 16), client IP [16, 16 + ipLen).
// The IP stays in place for the next query from the same peer: the text is parsed only when it changes.
const input = new Uint8Array(32);
const tag = new Uint8Array(8);
let ipOf = "";
let ipLen = 0;

/**
 * Reads the COOKIE option data at buf[off, off + len) into q: the cookies are copied (the answer is written
 * over the query) and a server cookie is verified. False when the length is malformed (RFC 7873 5.2.2: a
 * client cookie of 8 bytes, optionally a server cookie of 8 to 32), which is FORMERR.
 */
export function readCookie(buf: Uint8Array, off: number, len: number, q: QueryInfo): boolean {
  if (len !== 8 && (len < 16 || len > 40)) return false;
  const d = q.cookieData;
  for (let i = 0; i < len; i++) d[i] = buf[off + i]!;
  q.serverCookieLen = len - 8;
  q.cookie = len === 8 ? Cookie.CLIENT : verify(q, cookieClock.now()) ? Cookie.GOOD : Cookie.BAD;
  return true;
}

/** Whether the server cookie in q.cookieData is one we made for this client cookie and peer, still in its window. */
function verify(q: QueryInfo, now: number): boolean {
  const d = q.cookieData;
  if (q.serverCookieLen !== 16 || d[8] !== 1) return false;
  const ts = ((d[12]! << 24) | (d[13]! << 16) | (d[14]! << 8) | d[15]!) >>> 0;
  const age = (now - ts) | 0; // serial-number arithmetic (RFC 1982), as RFC 9018 4.3 asks
  if (age > OLDEST_S || age < -NEWEST_S) return false;
  // Version and Reserved are hashed as sent: a cookie with reserved bits set still verifies (RFC 9018 A.3).
  for (let i = 0; i < 16; i++) input[i] = d[i]!;
  hash(q.peer);
  let diff = 0;
  for (let i = 0; i < 8; i++) diff |= tag[i]! ^ d[16 + i]!;
  return diff === 0;
}

/** Writes the COOKIE option of our answer at `off`: the client cookie and a fresh server cookie. Returns the end. */
export function writeCookieOption(buf: Uint8Array, off: number, q: QueryInfo): number {
  const d = q.cookieData;
  buf[off] = 0;
  buf[off + 1] = COOKIE_OPTION;
  buf[off + 2] = 0;
  buf[off + 3] = 24;
  const now = cookieClock.now() >>> 0;
  for (let i = 0; i < 8; i++) buf[off + 4 + i] = input[i] = d[i]!;
  input[8] = 1;
  input[9] = input[10] = input[11] = 0;
  input[12] = now >>> 24;
  input[13] = (now >>> 16) & 0xff;
  input[14] = (now >>> 8) & 0xff;
  input[15] = now & 0xff;
  hash(q.peer);
  for (let i = 8; i < 16; i++) buf[off + 4 + i] = input[i]!;
  for (let i = 0; i < 8; i++) buf[off + 20 + i] = tag[i]!;
  return off + COOKIE_OPTION_LEN;
}

/** SipHash of input[0, 16) and the peer's address into `tag`. */
function hash(peer: string): void {
  if (peer !== ipOf) {
    ipLen = parseIp(peer, input, 16);
    ipOf = peer;
  }
  siphash24(key, input, 0, 16 + ipLen, tag, 0);
}

/**
 * The address in `s` ("192.0.2.1", "2001:db8::1", "fe80::1%eth0") as 4 or 16 bytes at out[at]; an IPv4-mapped
 * IPv6 address counts as its IPv4 one (a dual-stack socket and an IPv4 socket see the same client). 0 when `s`
 * is not an address (no peer set): the cookie is then bound to the client cookie alone.
 */
export function parseIp(s: string, out: Uint8Array, at: number): number {
  let end = s.indexOf("%");
  if (end < 0) end = s.length;
  if (s.indexOf(":") < 0) return parse4(s, 0, end, out, at) ? 4 : 0;
  if (!parse6(s, end, out, at)) return 0;
  for (let i = 0; i < 10; i++) if (out[at + i] !== 0) return 16;
  if (out[at + 10] !== 0xff || out[at + 11] !== 0xff) return 16;
  for (let i = 0; i < 4; i++) out[at + i] = out[at + 12 + i]!;
  return 4;
}

function parse4(s: string, from: number, end: number, out: Uint8Array, at: number): boolean {
  let parts = 0;
  let v = 0;
  let digits = 0;
  for (let i = from; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : 0x2e;
    if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + c - 0x30;
      if (++digits > 3 || v > 255) return false;
    } else if (c === 0x2e && digits > 0 && parts < 4) {
      out[at + parts++] = v;
      v = digits = 0;
    } else return false;
  }
  return parts === 4;
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  return c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}

function parse6(s: string, end: number, out: Uint8Array, at: number): boolean {
  let words = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let v = 0;
    let h: number;
    while (i < end && i - start < 5 && (h = hex(s.charCodeAt(i))) >= 0) {
      v = v * 16 + h;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 0x2e) {
      // A trailing dotted quad fills the last two words.
      if (words > 6 || !parse4(s, start, end, out, at + words * 2)) return false;
      words += 2;
      break;
    }
    if (i === start || i - start > 4 || words === 8) return false;
    out[at + words * 2] = v >> 8;
    out[at + words * 2 + 1] = v & 0xff;
    words++;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = words;
      i++;
    } else if (i === end) return false;
  }
  if (gap < 0) return words === 8;
  if (words === 8) return false;
  // Move the words after "::" to the end and zero the gap.
  const tail = (words - gap) * 2;
  const from = at + gap * 2;
  for (let k = tail - 1; k >= 0; k--) out[at + 16 - tail + k] = out[from + k]!;
  for (let k = from; k < at + 16 - tail; k++) out[k] = 0;
  return true;
}
