// Every record of a message read into an index (section, owner, type, class, where its TTL and RDATA are, and the
// names inside the RDATA, decompressed), and a message written again from some of those records. The slow path:
// scrubbing what upstreams relay. It reads hostile bytes, so whatever does not parse ends as null, never as an
// exception or a loop: pointers only go backwards, RDATA stays inside its RDLENGTH, and every counted record must
// be there in the bytes.
import { HEADER_LEN, MAX_LABEL, MAX_NAME } from "./constants";
import { lower } from "./name";

export const enum Section {
  Answer = 0,
  Authority = 1,
  Additional = 2,
}

/** A decompressed name: its bytes as sent (case kept, uncompressed) and, as a string, the same bytes lowercased. */
export interface Name {
  bytes: Uint8Array;
  /** Lowercased wire bytes as char codes: equal keys are equal names; label boundaries stay where they were. */
  key: string;
}

/** One piece of RDATA: a name, or bytes copied as they are (fixed fields, character strings, the rest). */
export type Part = Name | { from: number; len: number };

export interface Rec {
  section: Section;
  owner: Name;
  type: number;
  rrclass: number;
  /** Offset of the TTL field (type and class are the 4 bytes before it). */
  ttlAt: number;
  rdata: number;
  rdlen: number;
  parts: Part[];
  /** The message the offsets are in, when it is not the one being written from (answers joined by appendChain). */
  src?: Uint8Array;
}

export interface Message {
  qname: Name;
  qtype: number;
  qclass: number;
  records: Rec[];
}

const NONE: number[] = [];
/** In a layout: a domain name. */
export const NAME = -1;
/** In a layout: a character-string (a length byte and that many bytes). */
export const STRING = -2;
/**
 * Where the names are in the RDATA of the types that hold any: counts of fixed bytes, NAME, STRING (a length byte
 * and that many bytes); whatever follows is copied. The RFC 1035 types, and the ones RFC 3597 4 says to decompress
 * on receipt too (some servers compress them).
 */
export const LAYOUT: ReadonlyMap<number, readonly number[]> = new Map<number, number[]>([
  [2, [NAME]], // NS
  [3, [NAME]], // MD
  [4, [NAME]], // MF
  [5, [NAME]], // CNAME
  [6, [NAME, NAME, 20]], // SOA
  [7, [NAME]], // MB
  [8, [NAME]], // MG
  [9, [NAME]], // MR
  [12, [NAME]], // PTR
  [14, [NAME, NAME]], // MINFO
  [15, [2, NAME]], // MX
  [17, [NAME, NAME]], // RP
  [18, [2, NAME]], // AFSDB
  [21, [2, NAME]], // RT
  [24, [18, NAME]], // SIG
  [26, [2, NAME, NAME]], // PX
  [30, [NAME]], // NXT
  [33, [6, NAME]], // SRV
  [35, [4, STRING, STRING, STRING, NAME]], // NAPTR
  [36, [2, NAME]], // KX
  [39, [NAME]], // DNAME
  [46, [18, NAME]], // RRSIG
  [47, [NAME]], // NSEC
]);

/** Types whose RDATA names may be written compressed (RFC 3597 4: only those of RFC 1035). */
const COMPRESSIBLE = new Set([2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15]);

const POINTER_HOPS = 32;
const scratch = new Uint8Array(MAX_NAME);

/** A lowercased wire name (WireName) as a key comparable with Name.key. */
export function keyOf(wire: Uint8Array): string {
  let key = "";
  for (let i = 0; i < wire.length; i++) key += String.fromCharCode(lower(wire[i]!));
  return key;
}

/**
 * The name at buf[off], decompressed; its bytes in place must end before `limit`, where it points to anything
 * before it in buf[0, end). `at.next` is set to the offset just past it in place. Null when malformed.
 */
function readName(buf: Uint8Array, off: number, limit: number, end: number, at: { next: number }): Name | null {
  let n = 0;
  let cursor = off;
  let run = off;
  let next = -1;
  let hops = 0;
  for (;;) {
    const bound = next < 0 ? limit : end;
    if (cursor >= bound) return null;
    const len = buf[cursor]!;
    if (len === 0) {
      scratch[n++] = 0;
      if (next < 0) next = cursor + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (cursor + 1 >= bound) return null;
      const target = ((len & 0x3f) << 8) | buf[cursor + 1]!;
      if (target >= run || ++hops > POINTER_HOPS) return null; // strictly backwards: no loops
      if (next < 0) next = cursor + 2;
      run = cursor = target;
      continue;
    }
    if (len > MAX_LABEL || n + len + 2 > MAX_NAME || cursor + 1 + len > bound) return null; // also 0x40/0x80 labels
    for (let k = 0; k <= len; k++) scratch[n++] = buf[cursor + k]!;
    cursor += len + 1;
  }
  at.next = next;
  const bytes = scratch.slice(0, n);
  return { bytes, key: keyOf(bytes) };
}

function splitRdata(buf: Uint8Array, type: number, rdata: number, rdlen: number, len: number, at: { next: number }): Part[] | null {
  const end = rdata + rdlen;
  const parts: Part[] = [];
  let p = rdata;
  for (const op of LAYOUT.get(type) ?? NONE) {
    if (op === NAME) {
      const name = readName(buf, p, end, len, at);
      if (!name) return null;
      parts.push(name);
      p = at.next;
      continue;
    }
    const n = op === STRING ? (p < end ? 1 + buf[p]! : 1) : op;
    if (p + n > end) return null;
    parts.push({ from: p, len: n });
    p += n;
  }
  if (p < end) parts.push({ from: p, len: end - p });
  return parts;
}

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;

/** Reads buf[0, len) whole: one question, then every counted record. Null when anything does not parse. */
export function readMessage(buf: Uint8Array, len: number): Message | null {
  len = Math.min(len, buf.length);
  if (len < HEADER_LEN || u16(buf, 4) !== 1) return null;
  const at = { next: 0 };
  const qname = readName(buf, HEADER_LEN, len, len, at);
  if (!qname || at.next + 4 > len) return null;
  const m: Message = { qname, qtype: u16(buf, at.next), qclass: u16(buf, at.next + 2), records: [] };
  const counts = [u16(buf, 6), u16(buf, 8), u16(buf, 10)];
  let off = at.next + 4;
  for (let section = Section.Answer; section <= Section.Additional; section++) {
    for (let i = 0; i < counts[section]!; i++) {
      const owner = readName(buf, off, len, len, at); // fails at the end of the bytes: absurd counts stop here
      if (!owner || at.next + 10 > len) return null;
      const p = at.next;
      const rdata = p + 10;
      const rdlen = u16(buf, p + 8);
      if (rdata + rdlen > len) return null;
      const parts = splitRdata(buf, u16(buf, p), rdata, rdlen, len, at);
      if (!parts) return null;
      m.records.push({ section, owner, type: u16(buf, p), rrclass: u16(buf, p + 2), ttlAt: p + 4, rdata, rdlen, parts });
      off = rdata + rdlen;
    }
  }
  return m;
}

/** The first name in a record's RDATA (a CNAME's target, an MX's exchange…), or null. */
export function firstName(r: Rec): Name | null {
  for (const p of r.parts) if ("key" in p) return p;
  return null;
}

/** A growing output buffer with name compression by lowercased suffix (RFC 1035 4.1.4). */
class Writer {
  buf: Uint8Array;
  len = 0;
  private readonly suffixes = new Map<string, number>();

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  u16(v: number): void {
    this.room(2);
    this.buf[this.len++] = v >> 8;
    this.buf[this.len++] = v & 0xff;
  }

  copy(src: Uint8Array, from: number, n: number): void {
    this.room(n);
    this.buf.set(src.subarray(from, from + n), this.len);
    this.len += n;
  }

  /** Writes a name; `compress`: point at an earlier copy of a suffix, and let later names point into this one. */
  name(name: Name, compress: boolean): void {
    const { bytes, key } = name;
    let i = 0;
    for (; bytes[i] !== 0; i += bytes[i]! + 1) {
      if (!compress) continue;
      const suffix = key.slice(i);
      const earlier = this.suffixes.get(suffix);
      if (earlier !== undefined) {
        this.copy(bytes, 0, i);
        return this.u16(0xc000 | earlier);
      }
      if (this.len + i < 0x4000) this.suffixes.set(suffix, this.len + i);
    }
    this.copy(bytes, 0, i + 1);
  }
}

/**
 * A new message from src's header (ID, flags) and question and the records of `sections`, in that order. Names
 * are decompressed and written again, compressed only where RFC 3597 allows. Null when it would not fit a DNS
 * message (65535 bytes).
 */
export function writeMessage(src: Uint8Array, m: Message, sections: [Rec[], Rec[], Rec[]]): Uint8Array | null {
  const w = new Writer(src.length + 256);
  w.copy(src, 0, 4);
  w.u16(1);
  for (const recs of sections) w.u16(recs.length);
  w.name(m.qname, true);
  w.u16(m.qtype);
  w.u16(m.qclass);
  for (const recs of sections) {
    for (const r of recs) {
      const from = r.src ?? src;
      w.name(r.owner, true);
      w.copy(from, r.ttlAt - 4, 8); // type, class, TTL
      const lenAt = w.len;
      w.u16(0);
      const compress = COMPRESSIBLE.has(r.type);
      for (const p of r.parts) {
        if ("key" in p) w.name(p, compress);
        else w.copy(from, p.from, p.len);
      }
      const rdlen = w.len - lenAt - 2;
      if (rdlen > 0xffff) return null;
      w.buf[lenAt] = rdlen >> 8;
      w.buf[lenAt + 1] = rdlen & 0xff;
    }
  }
  return w.len > 0xffff ? null : w.buf.slice(0, w.len);
}

const OPT = 41;
const SOA = 6;
const CNAME = 5;

/**
 * `first` (an answer whose CNAME chain ends at a name it has no data for) with `second` (the answer for that
 * name) joined: first's header, question and answer records, then second's answer, authority and additional
 * records and its rcode (RFC 6604: the rcode of the last name). No OPT: the caller writes its own. Null when
 * either does not parse or the result would not fit a message.
 */
export function appendChain(first: Uint8Array, second: Uint8Array): Uint8Array | null {
  const a = readMessage(first, first.length);
  const b = readMessage(second, second.length);
  if (!a || !b) return null;
  for (const r of b.records) r.src = second;
  const of = (m: Message, s: Section) => m.records.filter((r) => r.section === s && r.type !== OPT);
  const out = writeMessage(first, a, [[...of(a, Section.Answer), ...of(b, Section.Answer)], of(b, Section.Authority), of(b, Section.Additional)]);
  if (out) out[3] = (out[3]! & 0xf0) | (second[3]! & 0x0f);
  return out;
}

/**
 * The name an answer's CNAME chain ends at without data for it, when the answer is not a negative one (no SOA in
 * authority) and the chain left the question name: lowercased wire, or null. Such an answer is not complete.
 */
export function unansweredTail(buf: Uint8Array): Uint8Array | null {
  const m = readMessage(buf, buf.length);
  if (!m || m.qtype === CNAME || m.qtype === 255) return null;
  if (m.records.some((r) => r.section === Section.Authority && r.type === SOA)) return null;
  const seen = new Set<string>();
  let name = m.qname.key;
  let target: Name | null = null;
  for (;;) {
    if (seen.has(name)) return null;
    seen.add(name);
    const here = m.records.filter((r) => r.section === Section.Answer && r.owner.key === name);
    if (here.some((r) => r.type === m.qtype)) return null;
    const cname = here.find((r) => r.type === CNAME);
    if (!cname) break;
    target = firstName(cname);
    if (!target) return null;
    name = target.key;
  }
  if (!target) return null;
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) out[i] = name.charCodeAt(i);
  return out;
}

const DNSSEC_TYPES = new Set([46, 47, 50]); // RRSIG, NSEC, NSEC3

/**
 * The message without its RRSIG, NSEC and NSEC3 records (those of the asked type aside): what a client that did
 * not set DO gets (RFC 4035 3.2.1) when we asked with DO to validate. The same array when there are none; null
 * when it does not parse.
 */
export function withoutDnssec(buf: Uint8Array): Uint8Array | null {
  const m = readMessage(buf, buf.length);
  if (!m) return null;
  const drop = (r: Rec) => DNSSEC_TYPES.has(r.type) && r.type !== m.qtype && m.qtype !== 255;
  if (!m.records.some(drop)) return buf;
  const of = (s: Section) => m.records.filter((r) => r.section === s && !drop(r));
  return writeMessage(buf, m, [of(Section.Answer), of(Section.Authority), of(Section.Additional)]);
}

/** A record's RDATA uncompressed (servers compress the names in SOA, MX, NS, CNAME... RDATA; signatures cover them whole). */
export function rdataOf(m: Uint8Array, r: Rec): Uint8Array {
  const src = r.src ?? m;
  if (r.parts.length === 0) return src.slice(r.rdata, r.rdata + r.rdlen);
  const chunks = r.parts.map((p) => ("key" in p ? p.bytes : src.subarray(p.from, p.from + p.len)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
