// Normalised responses and their differences. A small raw parser (so that every byte shows as received, with no
// library's idea of a type in between: dns-packet cannot even encode TYPE65280) turns a message into rcode
// (extended bits included), flags, the question as sent back, EDNS, and each section as a sorted list of RRs in
// presentation form (owner names lowercased, RDATA exactly as received, TXT bytes outside ASCII as \DDD). `differences` lists what differs between a reference server's answer and
// bunbound's, after the named allowances (each with its reason) have removed what is allowed to differ.
import { className, typeName } from "./query";

export interface RR {
  owner: string;
  ttl: number;
  class: string;
  type: string;
  /** RDATA fields in presentation form. */
  fields: string[];
  /** Indices of `fields` that are domain names. */
  names: number[];
}

export interface Normalised {
  rcode: string;
  /** qr, aa, tc, rd, ra, z, ad, cd: the ones set, in this order; opcode when not QUERY. */
  flags: string[];
  /** The question as the server sent it back, case kept: "name type class". */
  question: string;
  edns: { udp: number; version: number; do: boolean; options: string[] } | null;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  /** Bytes of the message (not compared; allowances about sizes read it). */
  size: number;
}

export type Section = "answer" | "authority" | "additional";
export const SECTIONS: Section[] = ["answer", "authority", "additional"];

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
const rcodeName = (n: number) => RCODES[n] ?? (n === 16 ? "BADVERS" : `RCODE${n}`);

class Reader {
  constructor(readonly m: Uint8Array) {}
  u8(o: number): number {
    if (o >= this.m.length) throw new Error(`message ends at ${this.m.length}, read at ${o}`);
    return this.m[o]!;
  }
  u16(o: number): number {
    return (this.u8(o) << 8) | this.u8(o + 1);
  }
  u32(o: number): number {
    return ((this.u16(o) << 16) >>> 0) + this.u16(o + 2);
  }
  /** The name at `o` (following pointers) and the offset after it where it started. */
  name(o: number): { name: string; end: number } {
    const labels: string[] = [];
    let end = -1;
    for (let hops = 0; ; hops++) {
      if (hops > 128) throw new Error("compression loop");
      const len = this.u8(o);
      if (len === 0) {
        if (end < 0) end = o + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (end < 0) end = o + 2;
        o = ((len & 0x3f) << 8) | this.u8(o + 1);
        continue;
      }
      if (len & 0xc0) throw new Error(`bad label type ${len.toString(16)}`);
      labels.push(labelText(this.m.subarray(o + 1, o + 1 + len)));
      o += 1 + len;
    }
    return { name: labels.length ? `${labels.join(".")}.` : ".", end };
  }
}

function labelText(b: Uint8Array): string {
  let s = "";
  for (const c of b) {
    if (c === 0x2e || c === 0x5c || c === 0x22 || c === 0x28 || c === 0x29 || c === 0x3b || c === 0x40 || c === 0x24) s += `\\${String.fromCharCode(c)}`;
    else if (c <= 0x20 || c >= 0x7f) s += `\\${String(c).padStart(3, "0")}`;
    else s += String.fromCharCode(c);
  }
  return s;
}

/** A character-string as a quoted presentation string: printable ASCII as is, everything else \DDD. */
function charString(b: Uint8Array): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c >= 0x7f) s += `\\${String(c).padStart(3, "0")}`;
    else s += String.fromCharCode(c);
  }
  return `${s}"`;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function ipv6(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  return groups.join(":");
}

function typeBitmap(b: Uint8Array): string[] {
  const types: string[] = [];
  for (let o = 0; o + 2 <= b.length; ) {
    const win = b[o]!;
    const len = b[o + 1]!;
    for (let i = 0; i < len; i++)
      for (let bit = 0; bit < 8; bit++) if (b[o + 2 + i]! & (0x80 >> bit)) types.push(typeName(win * 256 + i * 8 + bit));
    o += 2 + len;
  }
  return types;
}

/** RDATA of `type` at [o, end) as presentation fields, and which fields are names. */
function rdataFields(r: Reader, type: number, o: number, end: number): { fields: string[]; names: number[] } {
  const m = r.m;
  const bytes = m.subarray(o, end);
  const name = (at: number) => r.name(at);
  switch (type) {
    case 1:
      if (bytes.length === 4) return { fields: [[...bytes].join(".")], names: [] };
      break;
    case 28:
      if (bytes.length === 16) return { fields: [ipv6(bytes)], names: [] };
      break;
    case 2:
    case 5:
    case 12:
    case 39:
      return { fields: [name(o).name], names: [0] };
    case 15: {
      return { fields: [String(r.u16(o)), name(o + 2).name], names: [1] };
    }
    case 6: {
      const mname = name(o);
      const rname = name(mname.end);
      const t = rname.end;
      return { fields: [mname.name, rname.name, ...[0, 4, 8, 12, 16].map((k) => String(r.u32(t + k)))], names: [0, 1] };
    }
    case 33:
      return { fields: [String(r.u16(o)), String(r.u16(o + 2)), String(r.u16(o + 4)), name(o + 6).name], names: [3] };
    case 16: {
      const out: string[] = [];
      for (let p = o; p < end; p += 1 + m[p]!) out.push(charString(m.subarray(p + 1, p + 1 + m[p]!)));
      return { fields: out, names: [] };
    }
    case 43:
    case 59:
      return { fields: [String(r.u16(o)), String(m[o + 2]), String(m[o + 3]), hex(m.subarray(o + 4, end))], names: [] };
    case 48:
    case 60:
      return { fields: [String(r.u16(o)), String(m[o + 2]), String(m[o + 3]), b64(m.subarray(o + 4, end))], names: [] };
    case 46: {
      const signer = name(o + 18);
      return {
        fields: [typeName(r.u16(o)), String(m[o + 2]), String(m[o + 3]), String(r.u32(o + 4)), String(r.u32(o + 8)), String(r.u32(o + 12)), String(r.u16(o + 16)), signer.name, b64(m.subarray(signer.end, end))],
        names: [7],
      };
    }
    case 47: {
      const next = name(o);
      return { fields: [next.name, ...typeBitmap(m.subarray(next.end, end))], names: [0] };
    }
    case 257: {
      const tagLen = m[o + 1]!;
      return { fields: [String(m[o]), Buffer.from(m.subarray(o + 2, o + 2 + tagLen)).toString("latin1"), charString(m.subarray(o + 2 + tagLen, end))], names: [] };
    }
  }
  return { fields: ["\\#", String(bytes.length), ...(bytes.length ? [hex(bytes)] : [])], names: [] };
}

/** Parses a response; throws on a malformed one (the caller reports it as a difference of its own). */
export function normalise(msg: Uint8Array): Normalised {
  const r = new Reader(msg);
  const h = r.u16(2);
  const counts = [r.u16(4), r.u16(6), r.u16(8), r.u16(10)];
  const flags: string[] = [];
  const opcode = (h >> 11) & 0xf;
  if (opcode) flags.push(`opcode${opcode}`);
  for (const [bit, f] of [[0x8000, "qr"], [0x0400, "aa"], [0x0200, "tc"], [0x0100, "rd"], [0x0080, "ra"], [0x0040, "z"], [0x0020, "ad"], [0x0010, "cd"]] as const) if (h & bit) flags.push(f);
  let o = 12;
  let question = "";
  for (let i = 0; i < counts[0]!; i++) {
    const n = r.name(o);
    question = `${n.name} ${typeName(r.u16(n.end))} ${className(r.u16(n.end + 2))}`;
    o = n.end + 4;
  }
  const out: Normalised = { rcode: "", flags, question, edns: null, answer: [], authority: [], additional: [], size: msg.length };
  let ext = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = r.name(o);
      const type = r.u16(n.end);
      const cls = r.u16(n.end + 2);
      const ttl = r.u32(n.end + 4);
      const rdlen = r.u16(n.end + 8);
      const start = n.end + 10;
      if (start + rdlen > msg.length) throw new Error(`RR ${n.name} ${typeName(type)} runs past the end of the message`);
      if (type === 41) {
        ext = ttl >>> 24;
        const options: string[] = [];
        for (let p = start; p + 4 <= start + rdlen; p += 4 + r.u16(p + 2)) options.push(optionText(r.u16(p), msg.subarray(p + 4, p + 4 + r.u16(p + 2))));
        out.edns = { udp: cls, version: (ttl >>> 16) & 0xff, do: (ttl & 0x8000) !== 0, options };
      } else {
        const { fields, names } = rdataFields(r, type, start, start + rdlen);
        out[SECTIONS[s]!].push({ owner: n.name.toLowerCase(), ttl, class: className(cls), type: typeName(type), fields, names });
      }
      o = start + rdlen;
    }
  }
  out.rcode = rcodeName((ext << 4) | (h & 0xf));
  return out;
}

function optionText(code: number, data: Uint8Array): string {
  if (code === 15) return `EDE ${(data[0]! << 8) | data[1]!}${data.length > 2 ? ` "${Buffer.from(data.subarray(2)).toString()}"` : ""}`;
  if (code === 3) return `NSID ${hex(data)}`;
  return `OPT${code} ${hex(data)}`;
}

/** A line for people: an RR with long fields (2 KB TXT strings, signatures) cut in the middle. */
export const shorten = (line: string, max = 140) => (line.length <= max ? line : `${line.slice(0, max - 30)}…(${line.length} chars)…${line.slice(-20)}`);

export const rrText = (rr: RR) => `${rr.owner} ${rr.ttl} ${rr.class} ${rr.type} ${rr.fields.join(" ")}`;

const sortedLines = (rrs: RR[]) => rrs.map(rrText).sort();

const ednsText = (n: Normalised) => (n.edns ? `edns udp=${n.edns.udp} v${n.edns.version}${n.edns.do ? " do" : ""}${n.edns.options.map((x) => ` [${x}]`).join("")}` : "no edns");

/** The header line of a normalised response: "NXDOMAIN qr aa rd | edns udp=1232 v0 do". */
export const headerText = (n: Normalised) => `${n.rcode} ${n.flags.join(" ")} | ${ednsText(n)}`;

/** A normalised response in a few lines, for failure messages. */
export function render(n: Normalised | null, indent = "      "): string {
  if (!n) return `${indent}(no answer)`;
  const lines = [`${indent}${headerText(n)}`];
  for (const s of SECTIONS) for (const l of sortedLines(n[s])) lines.push(`${indent}${s.slice(0, 2).toUpperCase()} ${shorten(l)}`);
  return lines.join("\n");
}

/** The raw differences between two normalised responses ("-" only in the reference, "+" only in bunbound). */
export function rawDiff(ref: Normalised | null, sub: Normalised | null): string[] {
  if (!ref || !sub) return ref === sub ? [] : [`answer: ${ref ? "reference answered" : "no answer from the reference"}, ${sub ? "bunbound answered" : "no answer from bunbound"}`];
  const out: string[] = [];
  if (ref.rcode !== sub.rcode) out.push(`rcode: ${ref.rcode} ≠ ${sub.rcode}`);
  if (ref.flags.join(" ") !== sub.flags.join(" ")) out.push(`flags: "${ref.flags.join(" ")}" ≠ "${sub.flags.join(" ")}"`);
  if (ref.question !== sub.question) out.push(`question: "${ref.question}" ≠ "${sub.question}"`);
  if (ednsText(ref) !== ednsText(sub)) out.push(`${ednsText(ref)} ≠ ${ednsText(sub)}`);
  for (const s of SECTIONS) {
    const a = sortedLines(ref[s]);
    const b = sortedLines(sub[s]);
    const left = [...b];
    for (const l of a) {
      const i = left.indexOf(l);
      if (i >= 0) left.splice(i, 1);
      else out.push(`${s} - ${shorten(l)}`);
    }
    const right = [...a];
    for (const l of b) {
      const i = right.indexOf(l);
      if (i >= 0) right.splice(i, 1);
      else out.push(`${s} + ${shorten(l)}`);
    }
  }
  return out;
}

export interface Context {
  qname: string;
  qtype: string;
  qclass: string;
  dnssecOk: boolean;
  transport: string;
  /** The EDNS UDP payload size of the query, absent without EDNS. */
  ednsSize?: number;
}

/** A difference that is allowed, with why; `apply` rewrites both answers so that this difference (only) disappears. */
export interface Allowance {
  name: string;
  reason: string;
  apply(ref: Normalised, sub: Normalised, ctx: Context): void;
}

export interface Comparison {
  diffs: string[];
  /** Allowances that removed at least one difference. */
  used: string[];
}

/** Differences between the reference's answer and bunbound's once the allowances have been applied, in order. */
export function differences(ref: Normalised | null, sub: Normalised | null, allowances: Allowance[], ctx: Context): Comparison {
  if (!ref || !sub) return { diffs: rawDiff(ref, sub), used: [] };
  const a = structuredClone(ref);
  const b = structuredClone(sub);
  const used: string[] = [];
  let diffs = rawDiff(a, b);
  for (const al of allowances) {
    if (diffs.length === 0) break;
    al.apply(a, b, ctx);
    const after = rawDiff(a, b);
    if (after.length < diffs.length) used.push(al.name);
    diffs = after;
  }
  return { diffs, used };
}
