// Domain names straight from wire bytes: validation, decompression-aware skipping, case-insensitive compare, hashing.
import { MAX_LABEL, MAX_NAME } from "./constants";

/** A lowercased, uncompressed wire-format name (labels + terminating zero). */
export type WireName = Uint8Array & { readonly __brand: "WireName" };

const POINTER_HOPS = 32;

/** ASCII lowercase of one byte; DNS compares names case-insensitively in ASCII only (RFC 4343). */
export function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/**
 * Offset just past the name starting at `off` (following no pointer: a pointer ends the name in place),
 * or -1 when the name is malformed: truncated, label > 63, name > 255, reserved label type, or a pointer
 * that is not strictly backwards (loops and forward/out-of-bounds pointers) within `end`.
 */
export function skipName(buf: Uint8Array, off: number, end: number): number {
  if (off < 0) return -1; // a failed skip passed on: never a read before the buffer
  let pos = off;
  let cursor = off;
  let total = 1;
  let hops = 0;
  let after = -1;
  for (;;) {
    if (cursor >= end) return -1;
    const len = buf[cursor]!;
    if (len === 0) return after >= 0 ? after : cursor + 1;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (cursor + 1 >= end) return -1;
      const target = ((len & 0x3f) << 8) | buf[cursor + 1]!;
      if (target >= pos || ++hops > POINTER_HOPS) return -1; // only strictly backwards: no loops, no forward jumps
      if (after < 0) after = cursor + 2;
      pos = target;
      cursor = target;
      continue;
    }
    if (kind !== 0) return -1; // 0x40/0x80 label types are reserved/obsolete
    if (len > MAX_LABEL) return -1;
    total += len + 1;
    if (total > MAX_NAME) return -1;
    cursor += len + 1;
  }
}

/** FNV-1a over the lowercased bytes of an uncompressed name at [off, end). */
export function hashName(buf: Uint8Array, off: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < end; i++) {
    h ^= lower(buf[i]!);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The top labels ("com", "arpa", …) a table of names has anything under, so that a lookup for a name under
 * none of them ends after one hash instead of one per label (most cache hits are for names no local zone
 * holds). A root name in the table holds everything. Counted, so names can be removed again.
 */
export class TopLabels {
  private readonly counts = new Map<number, number>();
  private roots = 0;

  add(name: Uint8Array): void {
    if (name[0] === 0) this.roots++;
    else {
      const h = topHash(name, 0, name.length);
      this.counts.set(h, (this.counts.get(h) ?? 0) + 1);
    }
  }

  remove(name: Uint8Array): void {
    if (name[0] === 0) this.roots = Math.max(0, this.roots - 1);
    else {
      const h = topHash(name, 0, name.length);
      const n = (this.counts.get(h) ?? 0) - 1;
      if (n > 0) this.counts.set(h, n);
      else this.counts.delete(h);
    }
  }

  /** False when nothing in the table can be the name at buf[off, end) or one of its parents. */
  mayHold(buf: Uint8Array, off: number, end: number): boolean {
    return this.roots > 0 || (buf[off] !== 0 && this.counts.has(topHash(buf, off, end)));
  }
}

/** hashName of the last label before the root ("com." of "www.example.com."); the name is not the root. */
function topHash(buf: Uint8Array, off: number, end: number): number {
  let last = off;
  for (let o = off; o < end && buf[o] !== 0; o += buf[o]! + 1) last = o;
  return hashName(buf, last, Math.min(end, last + buf[last]! + 2));
}

/** Looks a name up at buf[off, end), then at each parent up to the root, and returns the first hit. */
export type SuffixLookup<T> = (buf: Uint8Array, off: number, end: number, hash: number) => T | undefined;

/**
 * The closest enclosing match (zone, forward zone…) of the uncompressed name at buf[off, end). Pass a lookup
 * made once (not a fresh closure per call): this runs on the query path. With `tops` (the table's top labels),
 * a name under none of them is a miss at once.
 */
export function closestSuffix<T>(buf: Uint8Array, off: number, end: number, lookup: SuffixLookup<T>, tops?: TopLabels): T | undefined {
  if (tops && !tops.mayHold(buf, off, end)) return undefined;
  for (let o = off; o < end; o += buf[o]! + 1) {
    const hit = lookup(buf, o, end, hashName(buf, o, end));
    if (hit !== undefined) return hit;
    if (buf[o] === 0) break;
  }
  return undefined;
}

/** Case-insensitive equality of the uncompressed name at `buf[off..]` with a lowercased WireName. */
export function nameEquals(buf: Uint8Array, off: number, end: number, name: Uint8Array): boolean {
  return nameEqualsAt(buf, off, end, name, 0, name.length);
}

/** Like nameEquals, with the lowercased name at other[otherOff, otherOff + otherLen). */
export function nameEqualsAt(buf: Uint8Array, off: number, end: number, other: Uint8Array, otherOff: number, otherLen: number): boolean {
  if (end - off !== otherLen) return false;
  for (let i = 0; i < otherLen; i++) if (lower(buf[off + i]!) !== other[otherOff + i]) return false;
  return true;
}

/**
 * Stores the wire name at src[off, end) as a length byte then its bytes (at most 255) at dst[at]; returns the
 * bytes written. For the fixed-size name slots of the query log and the client queue, and client batches. A
 * loop, not set(subarray): no view is allocated per query.
 */
export function putName(dst: Uint8Array, at: number, src: Uint8Array, off: number, end: number): number {
  const len = Math.min(255, end - off);
  dst[at] = len;
  copyBytes(dst, at + 1, src, off, len);
  return 1 + len;
}

/**
 * Copies src[from, from + len) to dst[at, …). The query path copies runs of a few dozen bytes (a query, an
 * RRset, a qname), where a plain loop costs less than making a view for set() and calling into the runtime;
 * longer runs use set().
 */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, len: number): void {
  if (len > 64) dst.set(src.subarray(from, from + len), at);
  else for (let k = 0; k < len; k++) dst[at + k] = src[from + k]!;
}

/** Presentation name ("Example.COM" or "example.com.") to lowercased wire bytes; throws with a reason. */
export function toWire(name: string): WireName {
  const trimmed = name === "." ? "" : name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".");
  const bytes: number[] = [];
  for (const label of labels) {
    if (label.length === 0) throw new Error(`empty label in name "${name}"`);
    if (label.length > MAX_LABEL) throw new Error(`label longer than ${MAX_LABEL} bytes in name "${name}"`);
    bytes.push(label.length);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c > 0x7f) throw new Error(`non-ASCII character in name "${name}"`);
      bytes.push(lower(c));
    }
  }
  bytes.push(0);
  if (bytes.length > MAX_NAME) throw new Error(`name longer than ${MAX_NAME} bytes: "${name}"`);
  return new Uint8Array(bytes) as WireName;
}

/**
 * Uncompressed wire name at buf[off, end) to lowercased presentation form with a trailing dot ("." for the
 * root). Off the query path: logs, errors, the query log, the client store.
 */
export function toText(buf: Uint8Array, off = 0, end = buf.length): string {
  let s = "";
  for (let o = off; o < end && buf[o] !== 0; o += buf[o]! + 1) {
    for (let k = o + 1; k <= o + buf[o]! && k < end; k++) s += String.fromCharCode(lower(buf[k]!));
    s += ".";
  }
  return s || ".";
}
