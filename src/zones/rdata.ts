// Presentation → wire for the RR types bunbound serves from zone files (RFC 1035, 3596, 2782, 8659, 4034, 3597).
// Names inside RDATA are written uncompressed and lowercased (the DNSSEC canonical form, RFC 4034 6.2).
import { isIPv4 } from "node:net";
import { ipv6ToBytes } from "../net/address";
import { lower } from "../wire/name";

export const TYPES: Record<string, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DS: 43, RRSIG: 46, NSEC: 47,
  DNSKEY: 48, CAA: 257,
};
export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]));

export function typeCode(t: string): number | undefined {
  const u = t.toUpperCase();
  if (u in TYPES) return TYPES[u];
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (m && Number(m[1]) <= 65535) return Number(m[1]);
  return undefined;
}

// Presentation text reaches this file as byte strings: every char code is one byte of the source (master
// files are read as latin1), so data bytes come out exactly as they were written.
function byteAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c > 255) throw new Error(`character U+${c.toString(16).toUpperCase()} is not a byte`);
  return c;
}

/**
 * The byte the escape at text[i] (a backslash) stands for and the index after it (RFC 1035 5.1): \DDD is the
 * byte DDD (exactly three digits), \X is X itself.
 */
function escapeAt(text: string, i: number): [byte: number, next: number] {
  if (i + 1 >= text.length) throw new Error(`dangling backslash in "${text}"`);
  const digits = /^\d{1,3}/.exec(text.slice(i + 1, i + 4))?.[0];
  if (digits === undefined) return [byteAt(text, i + 1), i + 2];
  if (digits.length < 3) throw new Error(`bad escape \\${digits} in "${text}": \\DDD takes three digits`);
  if (Number(digits) > 255) throw new Error(`bad escape \\${digits} in "${text}": more than 255`);
  return [Number(digits), i + 4];
}

/** The bytes of presentation text with its \DDD and \X escapes decoded. */
export function unescapeBytes(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === "\\") {
      const [b, next] = escapeAt(text, i);
      out.push(b);
      i = next;
    } else out.push(byteAt(text, i++));
  }
  return out;
}

/**
 * A presentation name (with \X and \DDD escapes) made absolute against `origin` ("" = root), to lowercased wire.
 * A byte outside ASCII is a label byte like any other (RFC 2181 11) and is kept as written; only A-Z are
 * lowercased (RFC 4343), escaped or not: \065, A and a are the same byte.
 */
export function nameToWire(text: string, origin: Uint8Array): Uint8Array {
  if (text === "@") return origin;
  if (text === ".") return new Uint8Array([0]);
  const bytes: number[] = [];
  let label: number[] = [];
  let absolute = false;
  const flush = () => {
    if (label.length === 0) throw new Error(`empty label in "${text}"`);
    if (label.length > 63) throw new Error(`label longer than 63 bytes in "${text}"`);
    bytes.push(label.length, ...label);
    label = [];
  };
  for (let i = 0; i < text.length; ) {
    let b: number;
    if (text[i] === "\\") [b, i] = escapeAt(text, i);
    else if (text[i] === ".") {
      flush();
      if (++i === text.length) absolute = true;
      continue;
    } else b = byteAt(text, i++);
    label.push(lower(b));
  }
  if (label.length) flush();
  const out = absolute ? [...bytes, 0] : [...bytes, ...origin];
  if (out.length > 255) throw new Error(`name longer than 255 bytes: "${text}"`);
  return new Uint8Array(out);
}

function u16(v: string | undefined, what: string): number[] {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || n > 65535) throw new Error(`${what} must be 0..65535, got "${v ?? ""}"`);
  return [n >> 8, n & 255];
}

function u8(v: string | undefined, what: string): number[] {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || n > 255) throw new Error(`${what} must be 0..255, got "${v ?? ""}"`);
  return [n];
}

/** A TTL or SOA timer: seconds, or BIND units (1w2d3h4m5s). */
export function parseTime(v: string | undefined, what: string): number {
  if (v === undefined) throw new Error(`missing ${what}`);
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n > 0xffffffff) throw new Error(`${what} ${v} is larger than 2^32-1`);
    return n;
  }
  const m = /^(?:\d+[wdhms])+$/i.test(v) ? v.match(/\d+[wdhms]/gi)! : null;
  if (!m) throw new Error(`${what} "${v}" is not a number of seconds`);
  const unit: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  return m.reduce((t, part) => t + Number(part.slice(0, -1)) * unit[part.slice(-1).toLowerCase()]!, 0);
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/** A <character-string> (RFC 1035 3.3): a length byte and at most 255 bytes. */
function charString(text: string): number[] {
  const b = unescapeBytes(text);
  if (b.length > 255) throw new Error(`character-string of ${b.length} bytes is longer than 255: "${text}"`);
  return [b.length, ...b];
}

function hex(parts: string[], what: string): number[] {
  const h = parts.join("");
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error(`${what} is not hex`);
  return [...Buffer.from(h, "hex")];
}

function base64(parts: string[], what: string): number[] {
  const b = parts.join("");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b) || b.length % 4 !== 0) throw new Error(`${what} is not base64`);
  return [...Buffer.from(b, "base64")];
}

/**
 * RDATA for `type` from its presentation tokens as written (escapes intact; quoted strings without their
 * quotes, `quoted` marking them). Throws an Error saying what is wrong.
 */
export function rdataToWire(type: number, t: string[], quoted: boolean[], origin: Uint8Array): Uint8Array {
  const name = (v: string | undefined, what: string) => {
    if (v === undefined) throw new Error(`missing ${what}`);
    return [...nameToWire(v, origin)];
  };
  const need = (n: number, shape: string) => {
    if (t.length !== n) throw new Error(`expected ${shape}, got ${t.length} field(s)`);
  };
  if (t[0] === "\\#" && !quoted[0]) {
    const len = Number(t[1]);
    if (!/^\d+$/.test(t[1] ?? "") || len > 65535) throw new Error("RFC 3597 form needs '\\# LENGTH HEX'");
    const data = hex(t.slice(2), "RFC 3597 data");
    if (data.length !== len) throw new Error(`RFC 3597 length ${len} does not match ${data.length} bytes of data`);
    return new Uint8Array(data);
  }
  switch (type) {
    case 1:
      need(1, "one IPv4 address");
      if (!isIPv4(t[0]!)) throw new Error(`"${t[0]}" is not an IPv4 address`);
      return new Uint8Array(t[0]!.split(".").map(Number));
    case 28:
      need(1, "one IPv6 address");
      return new Uint8Array(ipv6ToBytes(t[0]!));
    case 2:
    case 5:
    case 12:
      need(1, "one domain name");
      return new Uint8Array(name(t[0], "target"));
    case 15:
      need(2, "PREFERENCE EXCHANGE");
      return new Uint8Array([...u16(t[0], "MX preference"), ...name(t[1], "MX exchange")]);
    case 6:
      need(7, "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
      return new Uint8Array([
        ...name(t[0], "SOA mname"),
        ...name(t[1], "SOA rname"),
        ...t.slice(2).flatMap((v, i) => u32(parseTime(v, ["serial", "refresh", "retry", "expire", "minimum"][i]!))),
      ]);
    case 33:
      need(4, "PRIORITY WEIGHT PORT TARGET");
      return new Uint8Array([...u16(t[0], "SRV priority"), ...u16(t[1], "SRV weight"), ...u16(t[2], "SRV port"), ...name(t[3], "SRV target")]);
    case 16:
      if (t.length === 0) throw new Error("TXT needs at least one string");
      return new Uint8Array(t.flatMap((s) => charString(s)));
    case 257: {
      need(3, 'FLAGS TAG "VALUE"');
      if (!/^[A-Za-z0-9]{1,15}$/.test(t[1]!)) throw new Error(`CAA tag "${t[1]}" must be 1-15 letters or digits`);
      // The value runs to the end of the RDATA, with no length byte, so the 255-byte limit does not apply (RFC 8659 4.1).
      return new Uint8Array([...u8(t[0], "CAA flags"), t[1]!.length, ...unescapeBytes(t[1]!), ...unescapeBytes(t[2]!)]);
    }
    case 43: {
      if (t.length < 4) throw new Error("expected KEYTAG ALGORITHM DIGESTTYPE DIGEST");
      const digest = hex(t.slice(3), "DS digest");
      const want = ({ 1: 20, 2: 32, 4: 48 } as Record<string, number>)[t[2]!];
      if (want !== undefined && digest.length !== want) throw new Error(`DS digest type ${t[2]} needs ${want} bytes, got ${digest.length}`);
      return new Uint8Array([...u16(t[0], "DS key tag"), ...u8(t[1], "DS algorithm"), ...u8(t[2], "DS digest type"), ...digest]);
    }
    case 48:
      if (t.length < 4) throw new Error("expected FLAGS PROTOCOL ALGORITHM KEY");
      return new Uint8Array([...u16(t[0], "DNSKEY flags"), ...u8(t[1], "DNSKEY protocol"), ...u8(t[2], "DNSKEY algorithm"), ...base64(t.slice(3), "DNSKEY key")]);
    default:
      throw new Error(`type ${TYPE_NAMES[type] ?? `TYPE${type}`} needs the RFC 3597 form '\\# LENGTH HEX'`);
  }
}
