// Queries read and answers written by hand: the question echoed byte for byte, names compressed as real servers do.
import { ipv4Bytes, ipv6Bytes, type RR, type Soa } from "./records";
import type { Reply } from "./zone";

export const FLAG = { QR: 0x8000, OPCODE: 0x7800, AA: 0x0400, TC: 0x0200, RD: 0x0100, CD: 0x0010 } as const;
const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39 };
const TYPE_NAMES: Record<number, string> = { ...Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k])), 43: "DS", 255: "ANY" };
const OPT = 41;
const DO_BIT = 0x8000;

export interface Query {
  id: number;
  flags: number;
  /** The question's bytes as they came (0x20 case kept), echoed as they are. */
  raw?: Uint8Array;
  /** As received, "." for the root. */
  qname: string;
  qtype: string;
  qclass: number;
  opt?: { size: number; do: boolean; version: number };
  malformed: boolean;
}

/** The offset after the name at `off` (labels, or a compression pointer), or -1 past the end. */
function skipName(b: Uint8Array, off: number): number {
  for (;;) {
    const len = b[off];
    if (len === undefined) return -1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= b.length ? off + 2 : -1;
    if (len > 63) return -1;
    if (len === 0) return off + 1;
    off += 1 + len;
  }
}

export function readQuery(b: Uint8Array): Query | null {
  if (b.length < 12 || b[2]! & 0x80) return null; // too short to answer, or a response
  const u16 = (o: number) => (b[o]! << 8) | b[o + 1]!;
  const q: Query = { id: u16(0), flags: u16(2), qname: "", qtype: "", qclass: 0, malformed: true };
  if (u16(4) !== 1) return q;
  const labels: string[] = [];
  let off = 12;
  for (let len = b[off]; len !== 0; len = b[off]) {
    if (len === undefined || len > 63 || off + 1 + len > b.length) return q;
    labels.push(Buffer.from(b.subarray(off + 1, off + 1 + len)).toString("latin1"));
    off += 1 + len;
  }
  off++;
  if (off + 4 > b.length) return q;
  q.raw = b.slice(12, off + 4);
  q.qname = labels.length ? labels.join(".") : ".";
  q.qtype = TYPE_NAMES[u16(off)] ?? `TYPE${u16(off)}`;
  q.qclass = u16(off + 2);
  off += 4;
  const [an, ns, ar] = [u16(6), u16(8), u16(10)];
  for (let i = 0; i < an + ns + ar; i++) {
    off = skipName(b, off);
    if (off < 0 || off + 10 > b.length) return q;
    const ttl = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | u16(off + 6)) >>> 0;
    if (u16(off) === OPT && i >= an + ns) q.opt = { size: u16(off + 2), version: (ttl >>> 16) & 0xff, do: (ttl & DO_BIT) !== 0 };
    off += 10 + u16(off + 8);
    if (off > b.length) return q;
  }
  q.malformed = false;
  return q;
}

/** A message being written, with name compression (RFC 1035 4.1.4) as real servers send it. */
class Writer {
  private buf = new Uint8Array(4096);
  len = 0;
  /** Offsets of the names written so far, by lowercase name: what later names can point at. */
  private readonly names = new Map<string, number>();

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
  }

  u16(v: number): void {
    this.u8(v >> 8);
    this.u8(v);
  }

  u32(v: number): void {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }

  bytes(b: ArrayLike<number>): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  patch16(at: number, v: number): void {
    this.buf[at] = v >> 8;
    this.buf[at + 1] = v & 0xff;
  }

  /** The question as it came, its names remembered so answers point at them (and so carry its case). */
  question(raw: Uint8Array): void {
    const start = this.len;
    this.bytes(raw);
    const labels: Array<{ at: number; text: string }> = [];
    for (let off = 0; raw[off]! !== 0; off += 1 + raw[off]!) labels.push({ at: start + off, text: Buffer.from(raw.subarray(off + 1, off + 1 + raw[off]!)).toString("latin1").toLowerCase() });
    labels.forEach((l, i) => this.names.set(labels.slice(i).map((x) => x.text).join("."), l.at));
  }

  /** A name; `compress` false for the rdata names that must go out whole (DNAME, RFC 6672 2.5; SRV, RFC 2782). */
  name(n: string, compress = true): void {
    const labels = n === "" ? [] : n.split(".");
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".").toLowerCase();
      const at = this.names.get(suffix);
      if (compress && at !== undefined) return this.u16(0xc000 | at);
      if (this.len < 0x4000 && at === undefined) this.names.set(suffix, this.len);
      const label = Buffer.from(labels[i]!, "latin1");
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  record(rr: RR): void {
    const code = TYPE_CODES[rr.type];
    if (code === undefined) throw new Error(`cannot encode type ${rr.type}`);
    this.name(rr.name);
    this.u16(code);
    this.u16(1);
    this.u32(rr.ttl);
    const at = this.len;
    this.u16(0);
    const d = rr.data;
    switch (rr.type) {
      case "A":
        this.bytes(ipv4Bytes(d as string));
        break;
      case "AAAA":
        this.bytes(ipv6Bytes(d as string));
        break;
      case "NS":
      case "CNAME":
      case "PTR":
        this.name(d as string);
        break;
      case "DNAME":
        this.name(d as string, false);
        break;
      case "MX":
        this.u16((d as { preference: number }).preference);
        this.name((d as { exchange: string }).exchange);
        break;
      case "SRV": {
        const srv = d as { priority: number; weight: number; port: number; target: string };
        this.u16(srv.priority);
        this.u16(srv.weight);
        this.u16(srv.port);
        this.name(srv.target, false);
        break;
      }
      case "TXT":
        for (const s of d as Buffer[]) {
          this.u8(s.length);
          this.bytes(s);
        }
        break;
      case "SOA": {
        const soa = d as Soa;
        this.name(soa.mname);
        this.name(soa.rname);
        for (const v of [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum]) this.u32(v);
        break;
      }
    }
    this.patch16(at, this.len - at - 2);
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** The advertised and the largest UDP answer (as NSD's default): larger ones go out truncated. */
export const SERVER_UDP_SIZE = 1232;

/** The answer on the wire: the query's ID, opcode, RD and CD, its question bytes, an OPT when `edns`. */
export function encodeReply(q: Query, r: Reply, edns: boolean): Uint8Array {
  const w = new Writer();
  const flags = FLAG.QR | (q.flags & (FLAG.OPCODE | FLAG.RD | FLAG.CD)) | (r.aa ? FLAG.AA : 0) | (r.tc ? FLAG.TC : 0) | (r.rcode & 0xf);
  for (const v of [q.id, flags, q.raw ? 1 : 0, r.answers.length, r.authorities.length, r.additionals.length + (edns ? 1 : 0)]) w.u16(v);
  if (q.raw) w.question(q.raw);
  for (const rr of [...r.answers, ...r.authorities, ...r.additionals]) w.record(rr);
  if (edns) {
    w.u8(0);
    w.u16(OPT);
    w.u16(SERVER_UDP_SIZE);
    w.u8(r.rcode >> 4);
    w.u8(0);
    w.u16(q.opt?.do ? DO_BIT : 0);
    w.u16(0);
  }
  return w.done();
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
