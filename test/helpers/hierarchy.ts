// A small internet on loopback for testing full recursion from the root. AuthServer is an authoritative
// stand-in (UDP and TCP on one 127.x address) that answers from master-file text as NSD does (RFC 1034
// 4.3.2), and can be told to misbehave in the ways a resolver must survive. Hierarchy starts a standard world of
// them on 127.53.0.0/16, all on one port and in the test's own process, and writes the root hints file.
import type { Socket, TCPSocketListener, udp } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// ---------------------------------------------------------------------------------------------------------
// Names and records

/** A name as these helpers keep it: lowercase, no trailing dot, the root "". */
export function canon(name: string): string {
  const n = name.toLowerCase();
  return n === "." ? "" : n.endsWith(".") ? n.slice(0, -1) : n;
}

const below = (name: string, zone: string): boolean => zone === "" || name === zone || name.endsWith(`.${zone}`);
const child = (label: string, parent: string): string => (parent === "" ? label : `${label}.${parent}`);
const parentOf = (name: string): string => (name.includes(".") ? name.slice(name.indexOf(".") + 1) : "");
/** A name as messages show it. */
const dotted = (name: string): string => (name === "" ? "." : name);

export interface Soa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
export type RData = string | Buffer[] | Soa | { preference: number; exchange: string } | { priority: number; weight: number; port: number; target: string };

/** One resource record (class IN); names in canon() form. */
export interface RR {
  name: string;
  type: string;
  ttl: number;
  data: RData;
}

const RR_TYPES = new Set(["SOA", "NS", "A", "AAAA", "CNAME", "DNAME", "TXT", "MX", "PTR", "SRV"]);
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function parseTtl(t: string): number {
  const s = t.toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+[smhdw])+$/.test(s)) throw new Error(`bad TTL ${t}`);
  let total = 0;
  for (const [, n, u] of s.matchAll(/(\d+)([smhdw])/g)) total += Number(n) * TTL_UNITS[u!]!;
  return total;
}

interface Token {
  text: string;
  quoted: boolean;
}

/** Splits master-file text into records' tokens: comments dropped, ( ) joining lines, "quoted strings" kept whole. */
function* logicalLines(text: string): Generator<{ tokens: Token[]; indented: boolean; line: number }> {
  let tokens: Token[] = [];
  let depth = 0;
  let indented = false;
  let start = 0;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const src = lines[n]!;
    if (depth === 0) {
      tokens = [];
      indented = /^[ \t]/.test(src);
      start = n + 1;
    }
    for (let i = 0; i < src.length; ) {
      const c = src[i]!;
      if (c === ";") break;
      if (c === " " || c === "\t" || c === "\r") i++;
      else if (c === "(" || c === ")") {
        depth += c === "(" ? 1 : -1;
        i++;
      } else if (c === '"') {
        let s = "";
        for (i++; i < src.length && src[i] !== '"'; i++) {
          if (src[i] !== "\\") s += src[i];
          else if (/^\d{3}$/.test(src.slice(i + 1, i + 4))) {
            s += String.fromCharCode(Number(src.slice(i + 1, i + 4)));
            i += 3;
          } else s += src[++i] ?? "";
        }
        if (i >= src.length) throw new Error(`line ${n + 1}: unterminated string`);
        i++;
        tokens.push({ text: s, quoted: true });
      } else {
        let j = i;
        while (j < src.length && !' \t\r;()"'.includes(src[j]!)) j++;
        tokens.push({ text: src.slice(i, j), quoted: false });
        i = j;
      }
    }
    if (depth === 0 && tokens.length) yield { tokens, indented, line: start };
  }
  if (depth !== 0) throw new Error("unbalanced parentheses");
}

function absolute(tok: string, origin: string): string {
  if (tok === "@") return origin;
  return tok.endsWith(".") ? canon(tok) : child(tok.toLowerCase(), origin);
}

function parseRdata(type: string, toks: Token[], origin: string): RData {
  const t = toks.map((x) => x.text);
  const want = (n: number) => {
    if (t.length !== n) throw new Error(`${type} takes ${n} fields, got ${t.length}`);
  };
  const int = (s: string | undefined) => {
    if (!s || !/^\d+$/.test(s)) throw new Error(`${type}: bad number ${s}`);
    return Number(s);
  };
  switch (type) {
    case "A":
      want(1);
      ipv4Bytes(t[0]!);
      return t[0]!;
    case "AAAA":
      want(1);
      ipv6Bytes(t[0]!);
      return t[0]!;
    case "NS":
    case "CNAME":
    case "DNAME":
    case "PTR":
      want(1);
      return absolute(t[0]!, origin);
    case "MX":
      want(2);
      return { preference: int(t[0]), exchange: absolute(t[1]!, origin) };
    case "SRV":
      want(4);
      return { priority: int(t[0]), weight: int(t[1]), port: int(t[2]), target: absolute(t[3]!, origin) };
    case "TXT": {
      if (!t.length) throw new Error("TXT needs a string");
      const strings = t.map((s) => Buffer.from(s, "latin1"));
      if (strings.some((b) => b.length > 255)) throw new Error("a TXT string is at most 255 bytes");
      return strings;
    }
    case "SOA": {
      want(7);
      const [serial, refresh, retry, expire, minimum] = t.slice(2).map(parseTtl) as [number, number, number, number, number];
      return { mname: absolute(t[0]!, origin), rname: absolute(t[1]!, origin), serial, refresh, retry, expire, minimum };
    }
  }
  throw new Error(`unsupported type ${type}`);
}

/**
 * Parses master-file text (RFC 1035 5.1): $ORIGIN, $TTL, owners relative or absolute (@, blank for the previous
 * owner), TTL and class IN in either order, and the types SOA NS A AAAA CNAME DNAME TXT MX PTR SRV.
 */
export function parseRecords(text: string, origin = "."): RR[] {
  const out: RR[] = [];
  let org = canon(origin);
  let ttl = 3600;
  let owner: string | undefined;
  for (const { tokens, indented, line } of logicalLines(text)) {
    try {
      const first = tokens[0]!.text.toUpperCase();
      if (first === "$ORIGIN" || first === "$TTL") {
        const arg = tokens[1]?.text;
        if (!arg) throw new Error(`${first} needs an argument`);
        if (first === "$ORIGIN") org = absolute(arg, org);
        else ttl = parseTtl(arg);
        continue;
      }
      let i = 0;
      if (!indented) owner = absolute(tokens[i++]!.text, org);
      if (owner === undefined) throw new Error("no owner name");
      let rrTtl = ttl;
      for (let k = 0; k < 2 && i < tokens.length && !tokens[i]!.quoted; k++) {
        const tok = tokens[i]!.text;
        if (/^\d/.test(tok)) rrTtl = parseTtl(tok);
        else if (tok.toUpperCase() === "IN") {
          /* the only class served */
        } else break;
        i++;
      }
      const type = tokens[i++]?.text.toUpperCase() ?? "";
      if (!RR_TYPES.has(type)) throw new Error(`unsupported type ${type || "(none)"}`);
      out.push({ name: owner, type, ttl: rrTtl, data: parseRdata(type, tokens.slice(i), org) });
    } catch (err) {
      throw new Error(`line ${line}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Records given as master-file lines (absolute names) or as RRs. */
export type Records = Array<RR | string>;
const toRRs = (list: Records | undefined): RR[] => (list ?? []).flatMap((r) => (typeof r === "string" ? parseRecords(r) : [r]));

// ---------------------------------------------------------------------------------------------------------
// Zones and authoritative lookup

/** One zone's data: its apex is the owner of its one SOA. */
export class Zone {
  readonly origin: string;
  readonly soa: RR;
  private readonly nodes = new Map<string, Map<string, RR[]>>();
  /** Every owner name and every name between it and the apex: the names that exist, empty non-terminals too. */
  private readonly names = new Set<string>();

  constructor(records: RR[]) {
    const soas = records.filter((r) => r.type === "SOA");
    if (soas.length !== 1) throw new Error(`a zone needs exactly one SOA, found ${soas.length}`);
    this.soa = soas[0]!;
    this.origin = this.soa.name;
    for (const rr of records) {
      if (!below(rr.name, this.origin)) throw new Error(`${dotted(rr.name)} ${rr.type} is outside the zone ${dotted(this.origin)}`);
      let node = this.nodes.get(rr.name);
      if (!node) this.nodes.set(rr.name, (node = new Map()));
      const set = node.get(rr.type);
      if (set) set.push(rr);
      else node.set(rr.type, [rr]);
      for (let n = rr.name; !this.names.has(n); n = parentOf(n)) {
        this.names.add(n);
        if (n === this.origin) break;
      }
    }
  }

  static parse(text: string, origin = "."): Zone {
    return new Zone(parseRecords(text, origin));
  }

  node(name: string): Map<string, RR[]> | undefined {
    return this.nodes.get(name);
  }

  exists(name: string): boolean {
    return this.names.has(name);
  }

  rrset(name: string, type: string): RR[] | undefined {
    return this.nodes.get(name)?.get(type);
  }
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, BADVERS: 16 } as const;

/** An answer before it is put on the wire. */
export interface Reply {
  rcode: number;
  aa: boolean;
  tc?: boolean;
  answers: RR[];
  authorities: RR[];
  additionals: RR[];
}

const empty = (rcode: number, aa = false): Reply => ({ rcode, aa, answers: [], authorities: [], additionals: [] });

type Found =
  | { kind: "delegation"; cut: string }
  | { kind: "dname"; rr: RR }
  | { kind: "node"; rrsets: Map<string, RR[]>; wildcard: boolean }
  | { kind: "empty" }
  | { kind: "nxdomain" };

/** The closest enclosing zone served; a DS query at an apex goes to the parent zone when it is served too (RFC 4035 3.1.4.1). */
function zoneFor(zones: readonly Zone[], name: string, qtype: string): Zone | undefined {
  let best: Zone | undefined;
  for (const z of zones) if (below(name, z.origin) && (!best || z.origin.length > best.origin.length)) best = z;
  if (best && qtype === "DS" && name === best.origin && name !== "") {
    const parent = zoneFor(zones.filter((z) => z !== best), name, "");
    if (parent) return parent;
  }
  return best;
}

/** Walks from the apex down to `name`: a zone cut or a DNAME on the way wins over what lies below it. */
function find(zone: Zone, name: string, qtype: string): Found {
  const rel = zone.origin === "" ? name : name.slice(0, name.length - zone.origin.length - 1);
  const labels = name === zone.origin || rel === "" ? [] : rel.split(".");
  let cur = zone.origin;
  for (let i = labels.length; ; i--) {
    if (!zone.exists(cur)) break;
    const node = zone.node(cur);
    // The DS of a delegation lives on the parent side of the cut.
    if (node?.has("NS") && cur !== zone.origin && !(cur === name && qtype === "DS")) return { kind: "delegation", cut: cur };
    if (node?.has("DNAME") && cur !== name) return { kind: "dname", rr: node.get("DNAME")![0]! };
    if (cur === name) return node ? { kind: "node", rrsets: node, wildcard: false } : { kind: "empty" };
    cur = child(labels[i - 1]!, cur);
  }
  // cur does not exist; its parent is the closest encloser (RFC 4592).
  const wild = zone.node(child("*", parentOf(cur)));
  return wild ? { kind: "node", rrsets: wild, wildcard: true } : { kind: "nxdomain" };
}

const rdataKey = (rr: RR): string => (Array.isArray(rr.data) ? rr.data.map((b) => b.toString("hex")).join(",") : JSON.stringify(rr.data));
/** The name an NS, MX or SRV record points at. */
function targetOf(rr: RR): string | undefined {
  const d = rr.data;
  if (typeof d === "string") return d;
  if ("exchange" in d) return d.exchange;
  if ("target" in d) return d.target;
  return undefined;
}

/** A and AAAA records of the zone (glue below cuts included, as NSD does) for the names that are in it. */
function addressesFor(zone: Zone, targets: Array<string | undefined>): RR[] {
  const out: RR[] = [];
  for (const t of new Set(targets)) {
    if (t === undefined || !below(t, zone.origin)) continue;
    out.push(...(zone.rrset(t, "A") ?? []), ...(zone.rrset(t, "AAAA") ?? []));
  }
  return out;
}

/**
 * The authoritative answer of a server holding `zones`, as NSD gives it: REFUSED outside them, a referral at or
 * below a cut, else AA data, following CNAMEs and DNAMEs while they stay in the zone (each name once).
 */
export function lookup(zones: readonly Zone[], qname: string, qtype: string): Reply {
  const start = canon(qname);
  const zone = zoneFor(zones, start, qtype);
  if (!zone) return empty(RCODE.REFUSED);
  const reply = empty(RCODE.NOERROR, true);
  const seen = new Set<string>();
  const answer = (rrs: RR[]) => {
    for (const rr of rrs) {
      const key = `${rr.name} ${rr.type} ${rdataKey(rr)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      reply.answers.push(rr);
    }
  };
  const soa = zone.soa;
  const negative = () => void reply.authorities.push({ ...soa, ttl: Math.min(soa.ttl, (soa.data as Soa).minimum) });
  const visited = new Set<string>();
  for (let name = start; below(name, zone.origin) && !visited.has(name); ) {
    visited.add(name);
    const found = find(zone, name, qtype);
    if (found.kind === "delegation") {
      if (name !== start) break; // a chain that enters a child zone: the resolver follows it there
      const ns = zone.rrset(found.cut, "NS")!;
      return { rcode: RCODE.NOERROR, aa: false, answers: [], authorities: [...ns], additionals: addressesFor(zone, ns.map(targetOf)) };
    }
    if (found.kind === "dname") {
      const owner = found.rr.name;
      const target = child(name.slice(0, name.length - owner.length - (owner === "" ? 0 : 1)), found.rr.data as string);
      answer([found.rr]);
      if (target.length + 2 > 255) {
        reply.rcode = RCODE.YXDOMAIN;
        break;
      }
      answer([{ name, type: "CNAME", ttl: found.rr.ttl, data: target }]);
      name = target;
      continue;
    }
    if (found.kind === "nxdomain") {
      reply.rcode = RCODE.NXDOMAIN;
      negative();
      break;
    }
    if (found.kind === "empty") {
      negative();
      break;
    }
    const own = (rrs: RR[]) => (found.wildcard ? rrs.map((rr) => ({ ...rr, name })) : rrs);
    if (qtype === "ANY") {
      for (const rrs of found.rrsets.values()) answer(own(rrs));
      break;
    }
    const exact = found.rrsets.get(qtype);
    if (exact) {
      answer(own(exact));
      if (qtype === "NS" || qtype === "MX" || qtype === "SRV") reply.additionals.push(...addressesFor(zone, exact.map(targetOf)));
      break;
    }
    const cname = found.rrsets.get("CNAME");
    if (cname && qtype !== "CNAME") {
      answer(own(cname));
      name = cname[0]!.data as string;
      continue;
    }
    negative();
    break;
  }
  return reply;
}

// ---------------------------------------------------------------------------------------------------------
// Wire

const FLAG = { QR: 0x8000, OPCODE: 0x7800, AA: 0x0400, TC: 0x0200, RD: 0x0100, CD: 0x0010 } as const;
const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39 };
const TYPE_NAMES: Record<number, string> = { ...Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k])), 43: "DS", 255: "ANY" };
const OPT = 41;
const DO_BIT = 0x8000;

function ipv4Bytes(s: string): number[] {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`bad IPv4 address ${s}`);
  return parts.map(Number);
}

function ipv6Bytes(s: string): number[] {
  const halves = s.split("::");
  if (halves.length > 2) throw new Error(`bad IPv6 address ${s}`);
  const groups = (h: string): number[] =>
    h === ""
      ? []
      : h.split(":").flatMap((g) => {
          if (g.includes(".")) {
            const v4 = ipv4Bytes(g);
            return [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
          }
          if (!/^[0-9a-f]{1,4}$/i.test(g)) throw new Error(`bad IPv6 address ${s}`);
          return [parseInt(g, 16)];
        });
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw new Error(`bad IPv6 address ${s}`);
  return [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail].flatMap((g) => [g >> 8, g & 0xff]);
}

interface Query {
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

function readQuery(b: Uint8Array): Query | null {
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
const SERVER_UDP_SIZE = 1232;

/** The answer on the wire: the query's ID, opcode, RD and CD, its question bytes, an OPT when `edns`. */
function encodeReply(q: Query, r: Reply, edns: boolean): Uint8Array {
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

function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The server

/** The address a spoofer's forged answers carry. */
export const BOGUS = "6.6.6.6";
/** How long after the forgery the real answer leaves. */
const SPOOF_LEAD_MS = 20;
/** Where an upward referral points: the standard world's root servers. */
const UPWARD_NS = ["a.root-servers.test", "b.root-servers.test"];

export type Lameness = "refused" | "servfail" | "upward";

export interface Extra {
  answers?: Records;
  authorities?: Records;
  additionals?: Records;
}

/** How a server misbehaves; mutable on a running server (`server.behaviour.silent = true`), except spoofFrom. */
export interface Behaviour {
  /** true is "refused"; "upward" answers a non-AA referral to the root (NS . in authority). */
  lame?: boolean | Lameness;
  /** Receives (and logs) everything, answers nothing, over UDP and TCP. */
  silent?: boolean;
  /** FORMERR without an OPT to any query with an OPT; answers queries without EDNS. */
  formerrEdns?: boolean;
  /** Over UDP TC=1 and no records; the whole answer over TCP. */
  alwaysTruncate?: boolean;
  /** Records added to every answer from the zones (e.g. out-of-bailiwick data). */
  extra?: Extra | ((q: { qname: string; qtype: string }) => Extra | undefined);
  /** Before each real UDP answer, a forged one (same ID and question, A BOGUS, AA) from spoofFrom:port. */
  spoofFrom?: string;
  delayMs?: number;
}

export interface AuthServerOptions extends Behaviour {
  address: string;
  /** 0: the OS picks (UDP first, TCP on the same port). */
  port: number;
  zones?: Array<string | Zone>;
  /** How logs and the world name it; the address by default. */
  name?: string;
}

export interface LogEntry {
  /** The server's name. */
  server: string;
  /** As received, case kept; "." for the root. */
  qname: string;
  qtype: string;
  transport: "udp" | "tcp";
  edns: boolean;
  do: boolean;
  rd: boolean;
  id: number;
  /** Order of arrival across every server of the process. */
  seq: number;
}

let arrivals = 0;

interface Conn {
  buf: Uint8Array;
  out: Uint8Array;
}

export class AuthServer {
  readonly name: string;
  readonly address: string;
  readonly log: LogEntry[] = [];
  behaviour: Behaviour;
  zones: Zone[];
  private udp?: udp.Socket<"uint8array">;
  private spoofer?: udp.Socket<"uint8array">;
  private tcp?: TCPSocketListener<Conn>;
  private readonly conns = new Set<Socket<Conn>>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  private constructor(opts: AuthServerOptions) {
    const { address, port: _port, zones, name, ...behaviour } = opts;
    this.address = address;
    this.name = name ?? address;
    this.behaviour = behaviour;
    this.zones = (zones ?? []).map((z) => (typeof z === "string" ? Zone.parse(z) : z));
  }

  /** Binds UDP and TCP (and the spoofer's socket); rejects, with nothing left open, when an address is taken. */
  static async start(opts: AuthServerOptions): Promise<AuthServer> {
    const s = new AuthServer(opts);
    try {
      await s.bind(opts.port);
    } catch (err) {
      s.close();
      throw new Error(`${s.name} (${s.address}:${opts.port}): ${(err as Error).message}`);
    }
    return s;
  }

  private async bind(port: number): Promise<void> {
    this.udp = await Bun.udpSocket({
      hostname: this.address,
      port,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, fromPort, from) => this.onUdp(data, fromPort, from),
        error: () => {}, // ICMP unreachable from an asker that went away: a real server carries on
      },
    });
    if (this.behaviour.spoofFrom) {
      this.spoofer = await Bun.udpSocket({ hostname: this.behaviour.spoofFrom, port: this.udp.port, binaryType: "uint8array", socket: { error: () => {} } });
    }
    this.tcp = Bun.listen<Conn>({
      hostname: this.address,
      port: this.udp.port,
      exclusive: true,
      socket: {
        binaryType: "uint8array",
        open: (s) => {
          s.data = { buf: new Uint8Array(0), out: new Uint8Array(0) };
          this.conns.add(s);
        },
        data: (s, chunk: Uint8Array) => this.onTcp(s, chunk),
        drain: (s) => this.flush(s),
        close: (s) => void this.conns.delete(s),
        error: () => {},
      },
    });
  }

  get port(): number {
    return this.udp?.port ?? 0;
  }

  get queries(): number {
    return this.log.length;
  }

  reset(): void {
    this.log.length = 0;
  }

  /** Logs the query and builds the answer; null when nothing is to be sent. */
  private handle(bytes: Uint8Array, transport: "udp" | "tcp"): { query: Query; reply: Uint8Array } | null {
    const query = readQuery(bytes);
    if (!query) return null;
    const rd = (query.flags & FLAG.RD) !== 0;
    this.log.push({ server: this.name, qname: query.qname, qtype: query.qtype, transport, edns: !!query.opt, do: !!query.opt?.do, rd, id: query.id, seq: ++arrivals });
    if (this.behaviour.silent) return null;
    return { query, reply: this.respond(query, transport) };
  }

  private respond(q: Query, transport: "udp" | "tcp"): Uint8Array {
    const b = this.behaviour;
    if (q.malformed) return encodeReply(q, empty(RCODE.FORMERR), false);
    if (b.formerrEdns && q.opt) return encodeReply(q, empty(RCODE.FORMERR), false);
    const edns = !!q.opt;
    if (q.opt && q.opt.version > 0) return encodeReply(q, empty(RCODE.BADVERS), true);
    if (q.flags & FLAG.OPCODE) return encodeReply(q, empty(RCODE.NOTIMP), edns);
    const reply = this.answer(q);
    const bytes = encodeReply(q, reply, edns);
    const limit = q.opt ? Math.min(Math.max(q.opt.size, 512), SERVER_UDP_SIZE) : 512;
    if (transport === "udp" && (b.alwaysTruncate || bytes.length > limit)) return encodeReply(q, { ...empty(reply.rcode, reply.aa), tc: true }, edns);
    return bytes;
  }

  private answer(q: Query): Reply {
    const lame = this.behaviour.lame === true ? "refused" : this.behaviour.lame || undefined;
    if (lame === "refused" || q.qclass !== 1) return empty(RCODE.REFUSED);
    if (lame === "servfail") return empty(RCODE.SERVFAIL);
    if (lame === "upward") return { ...empty(RCODE.NOERROR), authorities: UPWARD_NS.map((ns) => ({ name: "", type: "NS", ttl: 518400, data: ns })) };
    const reply = lookup(this.zones, q.qname, q.qtype);
    const extra = typeof this.behaviour.extra === "function" ? this.behaviour.extra({ qname: q.qname, qtype: q.qtype }) : this.behaviour.extra;
    if (extra && reply.rcode !== RCODE.REFUSED) {
      reply.answers.push(...toRRs(extra.answers));
      reply.authorities.push(...toRRs(extra.authorities));
      reply.additionals.push(...toRRs(extra.additionals));
    }
    return reply;
  }

  private onUdp(data: Uint8Array, port: number, from: string): void {
    const handled = this.handle(data, "udp");
    if (!handled) return;
    const { query, reply } = handled;
    let delay = this.behaviour.delayMs ?? 0;
    if (this.spoofer && this.behaviour.spoofFrom && query.raw) {
      const forged = encodeReply(query, { ...empty(RCODE.NOERROR, true), answers: [{ name: canon(query.qname), type: "A", ttl: 300, data: BOGUS }] }, !!query.opt);
      this.sendUdp(this.spoofer, forged, port, from);
      delay = Math.max(delay, SPOOF_LEAD_MS);
    }
    this.later(delay, () => this.udp && this.sendUdp(this.udp, reply, port, from));
  }

  private sendUdp(sock: udp.Socket<"uint8array">, bytes: Uint8Array, port: number, to: string): void {
    try {
      if (!sock.closed) sock.send(bytes, port, to);
    } catch {
      // The asker closed its socket (an earlier ICMP turns into ECONNREFUSED here): as a real server, carry on.
    }
  }

  private onTcp(s: Socket<Conn>, chunk: Uint8Array): void {
    let buf = concat(s.data.buf, chunk);
    while (buf.length >= 2) {
      const len = (buf[0]! << 8) | buf[1]!;
      if (buf.length < 2 + len) break;
      const handled = this.handle(buf.slice(2, 2 + len), "tcp");
      buf = buf.subarray(2 + len);
      if (handled) this.later(this.behaviour.delayMs ?? 0, () => this.write(s, frame(handled.reply)));
    }
    s.data.buf = buf.slice();
  }

  private write(s: Socket<Conn>, bytes: Uint8Array): void {
    if (this.closed || !this.conns.has(s)) return;
    s.data.out = concat(s.data.out, bytes);
    this.flush(s);
  }

  private flush(s: Socket<Conn>): void {
    if (!s.data.out.length) return;
    const n = s.write(s.data.out);
    s.data.out = s.data.out.slice(Math.max(n, 0));
  }

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Closes every socket and drops pending answers; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.udp?.close();
    this.spoofer?.close();
    for (const s of this.conns) s.terminate();
    this.conns.clear();
    this.tcp?.stop(true);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The standard world

/** A server of a world: its NS name, address, the origins of the zones it serves, and how it behaves. */
export interface ServerSpec extends Behaviour {
  name: string;
  address: string;
  zones: string[];
}

/** A leaf zone: SOA and NS for `servers` (A records for those inside it), then `body`. */
function leaf(origin: string, servers: Array<[string, string]>, body: string): string {
  const o = canon(origin);
  const ns = servers.map(([host]) => `@ NS ${host}.`);
  const glue = servers.filter(([host]) => below(canon(host), o)).map(([host, addr]) => `${host}. A ${addr}`);
  return [`$ORIGIN ${o}.`, "$TTL 3600", `@ SOA ${servers[0]![0]}. hostmaster.${o}. 1 7200 3600 1209600 300`, ...ns, ...glue, body].join("\n");
}

/** A TLD zone: negative TTL 900 as com.'s, delegations in `body`. */
function tld(origin: string, servers: Array<[string, string]>, body: string): string {
  const o = canon(origin);
  const head = [`$ORIGIN ${o}.`, "$TTL 172800", `@ 900 SOA ${servers[0]![0]}. hostmaster.nic.${o}. 1 1800 900 604800 86400`];
  return [...head, ...servers.map(([host]) => `@ NS ${host}.`), ...servers.map(([host, addr]) => `${host}. A ${addr}`), body].join("\n");
}

const txts = (owner: string, n: number, len: number): string =>
  Array.from({ length: n }, (_, i) => `${owner} TXT "${`${owner}-${String(i).padStart(2, "0")}-`.padEnd(len, "x")}"`).join("\n");

/** NS names of manyns.com.: none of them exists in nxns.org. */
export const MANY_NS = Array.from({ length: 50 }, (_, i) => `ns${String(i + 1).padStart(2, "0")}.nxns.org`);

/** The standard zones by origin. */
export const ZONES: Readonly<Record<string, string>> = {
  ".": `$ORIGIN .
$TTL 86400
@ SOA a.root-servers.test. nstld.root-servers.test. 2026120100 1800 900 604800 86400
@ 518400 NS a.root-servers.test.
@ 518400 NS b.root-servers.test.
a.root-servers.test. 518400 A 127.53.0.1
b.root-servers.test. 518400 A 127.53.0.2
test. 172800 NS a.root-servers.test.
test. 172800 NS b.root-servers.test.
com. 172800 NS a.nic.com.
com. 172800 NS b.nic.com.
a.nic.com. 172800 A 127.53.1.1
b.nic.com. 172800 A 127.53.1.2
net. 172800 NS a.nic.net.
a.nic.net. 172800 A 127.53.2.1
org. 172800 NS a.nic.org.
a.nic.org. 172800 A 127.53.3.1`,
  "test.": leaf("test.", [["a.root-servers.test", "127.53.0.1"], ["b.root-servers.test", "127.53.0.2"]], ""),
  "com.": tld("com.", [["a.nic.com", "127.53.1.1"], ["b.nic.com", "127.53.1.2"]], `
example NS ns1.example
ns1.example A 127.53.10.1
lame NS ns1.lame
lame NS ns2.lame
ns1.lame A 127.53.13.1
ns2.lame A 127.53.13.2
alllame NS ns1.alllame
alllame NS ns2.alllame
alllame NS ns3.alllame
ns1.alllame A 127.53.14.1
ns2.alllame A 127.53.14.2
ns3.alllame A 127.53.14.3
slow NS ns1.slow
slow NS ns2.slow
ns1.slow A 127.53.15.1
ns2.slow A 127.53.15.2
noedns NS ns1.noedns
ns1.noedns A 127.53.16.1
tc NS ns1.tc
ns1.tc A 127.53.17.1
oob NS ns1.oob
ns1.oob A 127.53.18.1
spoof NS ns1.spoof
ns1.spoof A 127.53.19.1
deep NS ns1.deep
ns1.deep A 127.53.20.1
loop NS ns.loop.net.
${MANY_NS.map((ns) => `manyns NS ${ns}.`).join("\n")}`),
  "net.": tld("net.", [["a.nic.net", "127.53.2.1"]], `
example NS ns.dns-host.org.
loop NS ns.loop.com.`),
  "org.": tld("org.", [["a.nic.org", "127.53.3.1"]], `
dns-host NS ns1.dns-host
ns1.dns-host A 127.53.12.1
nxns NS ns1.nxns
ns1.nxns A 127.53.21.1`),
  "example.com.": leaf("example.com.", [["ns1.example.com", "127.53.10.1"]], `
@ MX 10 mail
@ TXT "v=spf1 -all"
mail A 192.0.2.25
www A 192.0.2.1
www AAAA 2001:db8::1
www TXT "hello from www"
web CNAME www
chain CNAME web
alias CNAME www.example.net.
dname DNAME example.net.
a.b A 192.0.2.5
loop1 CNAME loop2
loop2 CNAME loop1
dangling CNAME missing
*.wild A 192.0.2.9
${txts("medium", 6, 100)}
${txts("big", 20, 100)}`),
  "example.net.": leaf("example.net.", [["ns.dns-host.org", "127.53.11.1"]], `
www A 192.0.2.2
x A 192.0.2.3`),
  "dns-host.org.": leaf("dns-host.org.", [["ns1.dns-host.org", "127.53.12.1"]], "ns A 127.53.11.1"),
  "nxns.org.": leaf("nxns.org.", [["ns1.nxns.org", "127.53.21.1"]], ""),
  "lame.com.": leaf("lame.com.", [["ns1.lame.com", "127.53.13.1"], ["ns2.lame.com", "127.53.13.2"]], "www A 192.0.2.11"),
  "alllame.com.": leaf("alllame.com.", [["ns1.alllame.com", "127.53.14.1"], ["ns2.alllame.com", "127.53.14.2"], ["ns3.alllame.com", "127.53.14.3"]], "www A 192.0.2.15"),
  "slow.com.": leaf("slow.com.", [["ns1.slow.com", "127.53.15.1"], ["ns2.slow.com", "127.53.15.2"]], "www A 192.0.2.8"),
  "noedns.com.": leaf("noedns.com.", [["ns1.noedns.com", "127.53.16.1"]], "www A 192.0.2.12"),
  "tc.com.": leaf("tc.com.", [["ns1.tc.com", "127.53.17.1"]], "www A 192.0.2.13"),
  "oob.com.": leaf("oob.com.", [["ns1.oob.com", "127.53.18.1"]], "www A 192.0.2.6"),
  "spoof.com.": leaf("spoof.com.", [["ns1.spoof.com", "127.53.19.1"]], "www A 192.0.2.7"),
  "deep.com.": leaf("deep.com.", [["ns1.deep.com", "127.53.20.1"]], "c NS ns1.c\nns1.c A 127.53.20.2"),
  "c.deep.com.": leaf("c.deep.com.", [["ns1.c.deep.com", "127.53.20.2"]], "b NS ns1.b\nns1.b A 127.53.20.3"),
  "b.c.deep.com.": leaf("b.c.deep.com.", [["ns1.b.c.deep.com", "127.53.20.3"]], "a A 192.0.2.14"),
};

/** What oob.com.'s server adds to every answer: records for names it is not authoritative for. */
export const OOB_EXTRA: Extra = {
  answers: [`www.example.com. 300 A ${BOGUS}`],
  authorities: ["example.com. 300 NS ns1.oob.com."],
  additionals: [`ns1.example.com. 300 A ${BOGUS}`],
};

const S = (name: string, address: string, zones: string[], b: Behaviour = {}): ServerSpec => ({ name, address, zones, ...b });

/** The standard servers. loop.com. and loop.net. have none: their NS names only exist in each other. */
export const WORLD: readonly ServerSpec[] = [
  S("a.root-servers.test", "127.53.0.1", [".", "test."]),
  S("b.root-servers.test", "127.53.0.2", [".", "test."]),
  S("a.nic.com", "127.53.1.1", ["com."]),
  S("b.nic.com", "127.53.1.2", ["com."]),
  S("a.nic.net", "127.53.2.1", ["net."]),
  S("a.nic.org", "127.53.3.1", ["org."]),
  S("ns1.example.com", "127.53.10.1", ["example.com."]),
  S("ns.dns-host.org", "127.53.11.1", ["example.net."]),
  S("ns1.dns-host.org", "127.53.12.1", ["dns-host.org."]),
  S("ns1.lame.com", "127.53.13.1", ["lame.com."], { lame: "refused" }),
  S("ns2.lame.com", "127.53.13.2", ["lame.com."]),
  S("ns1.alllame.com", "127.53.14.1", ["alllame.com."], { lame: "refused" }),
  S("ns2.alllame.com", "127.53.14.2", ["alllame.com."], { lame: "servfail" }),
  S("ns3.alllame.com", "127.53.14.3", ["alllame.com."], { lame: "upward" }),
  S("ns1.slow.com", "127.53.15.1", ["slow.com."], { silent: true }),
  S("ns2.slow.com", "127.53.15.2", ["slow.com."]),
  S("ns1.noedns.com", "127.53.16.1", ["noedns.com."], { formerrEdns: true }),
  S("ns1.tc.com", "127.53.17.1", ["tc.com."], { alwaysTruncate: true }),
  S("ns1.oob.com", "127.53.18.1", ["oob.com."], { extra: OOB_EXTRA }),
  S("ns1.spoof.com", "127.53.19.1", ["spoof.com."], { spoofFrom: "127.53.66.1" }),
  S("ns1.deep.com", "127.53.20.1", ["deep.com."]),
  S("ns1.c.deep.com", "127.53.20.2", ["c.deep.com."]),
  S("ns1.b.c.deep.com", "127.53.20.3", ["b.c.deep.com."]),
  S("ns1.nxns.org", "127.53.21.1", ["nxns.org."]),
];

/** Writes a root hints file in the shape of IANA's named.root: NS of the root, then each server's address. */
export function writeRootHints(path: string, servers: ReadonlyArray<{ name: string; address: string }>): void {
  const lines = ["; root hints of the loopback test world", ";"];
  for (const s of servers) {
    const host = `${canon(s.name)}.`;
    lines.push(`${".".padEnd(27)} 3600000      NS    ${host}`, `${host.padEnd(27)} 3600000      ${s.address.includes(":") ? "AAAA" : "A   "}  ${s.address}`, ";");
  }
  writeFileSync(path, `${lines.join("\n")}\n; End of file\n`);
}

export interface HierarchyOptions {
  /** The port every server listens on; by default a free one in 20000–60000. */
  port?: number;
  /** Master-file text by origin ("example.com."): replaces a standard zone, or adds one a server in `servers` names. */
  zones?: Record<string, string>;
  /** Behaviour of standard servers by name, merged over theirs (e.g. { "ns1.example.com": { delayMs: 200 } }). */
  behaviour?: Record<string, Behaviour>;
  /** More servers; their delegations come from zone overrides. */
  servers?: ServerSpec[];
}

export class Hierarchy {
  readonly servers: ReadonlyMap<string, AuthServer>;

  private constructor(
    readonly port: number,
    servers: AuthServer[],
    private readonly dir: string,
    /** The root hints file. */
    readonly hints: string,
  ) {
    this.servers = new Map(servers.map((s) => [s.name, s]));
  }

  static async start(opts: HierarchyOptions = {}): Promise<Hierarchy> {
    const zones = new Map(Object.entries({ ...ZONES, ...opts.zones }).map(([origin, text]) => {
      try {
        return [canon(origin), Zone.parse(text, origin)] as const;
      } catch (err) {
        throw new Error(`zone ${origin}: ${(err as Error).message}`);
      }
    }));
    for (const name of Object.keys(opts.behaviour ?? {})) if (!WORLD.some((s) => s.name === name)) throw new Error(`no standard server ${name}`);
    const specs = [...WORLD.map((s) => ({ ...s, ...opts.behaviour?.[s.name] })), ...(opts.servers ?? [])];
    const served = specs.map((spec) =>
      spec.zones.map((o) => {
        const z = zones.get(canon(o));
        if (!z) throw new Error(`${spec.name}: no zone ${o}`);
        return z;
      }),
    );
    // Every server shares the port, so 0 (each its own) would not make one world: pick one instead.
    const ports = opts.port ? [opts.port] : Array.from({ length: 20 }, () => 20000 + Math.floor(Math.random() * 40000));
    let failure: unknown;
    for (const port of ports) {
      const started = await Promise.allSettled(specs.map((spec, i) => AuthServer.start({ ...spec, port, zones: served[i]! })));
      const up = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const down = started.find((r) => r.status === "rejected");
      if (!down) {
        const dir = mkdtempSync(join(tmpdir(), "bunbound-world-"));
        const hints = join(dir, "root.hints");
        writeRootHints(hints, up.filter((s) => s.zones.some((z) => z.origin === "")));
        return new Hierarchy(port, up, dir, hints);
      }
      for (const s of up) s.close();
      failure = (down as PromiseRejectedResult).reason;
    }
    throw failure;
  }

  server(name: string): AuthServer {
    const s = this.servers.get(canon(name));
    if (!s) throw new Error(`no server ${name}`);
    return s;
  }

  /** The root servers, as the hints file names them. */
  get roots(): AuthServer[] {
    return [...this.servers.values()].filter((s) => s.zones.some((z) => z.origin === ""));
  }

  /** Queries received by every server since the start or the last reset(). */
  get queries(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.queries;
    return n;
  }

  /** Every server's log, in order of arrival. */
  get log(): LogEntry[] {
    return [...this.servers.values()].flatMap((s) => s.log).sort((a, b) => a.seq - b.seq);
  }

  reset(): void {
    for (const s of this.servers.values()) s.reset();
  }

  close(): void {
    for (const s of this.servers.values()) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
