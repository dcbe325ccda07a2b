// Presentation → wire for the RR types bunbound serves from zone files (RFC 1035, 3596, 2782, 8659, 4034, 3597).
// Names inside RDATA are written uncompressed and lowercased (the DNSSEC canonical form, RFC 4034 6.2).
import { isIPv4 } from "node:net";
import { ipv6ToBytes } from "../config/address";

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

/** A presentation name (with \X and \DDD escapes) made absolute against `origin` ("" = root), to lowercased wire. */
export function nameToWire(text: string, origin: Uint8Array): Uint8Array {
  if (text === "@") return origin;
  const bytes: number[] = [];
  let label: number[] = [];
  let absolute = false;
  const flush = () => {
    if (label.length === 0) throw new Error(`empty label in "${text}"`);
    if (label.length > 63) throw new Error(`label longer than 63 bytes in "${text}"`);
    bytes.push(label.length, ...label);
    label = [];
  };
  if (text === ".") return new Uint8Array([0]);
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      const d = /^\d{3}/.exec(text.slice(i + 1));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new Error(`bad escape \\${d[0]} in "${text}"`);
        label.push(v);
        i += 3;
      } else {
        if (i + 1 >= text.length) throw new Error(`dangling backslash in "${text}"`);
        label.push(text.charCodeAt(++i));
      }
    } else if (c === ".") {
      flush();
      if (i === text.length - 1) absolute = true;
    } else {
      const code = text.charCodeAt(i);
      if (code > 0x7e) throw new Error(`non-ASCII character in "${text}"`);
      label.push(code >= 0x41 && code <= 0x5a ? code | 0x20 : code);
    }
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


function charString(s: string): number[] {
  const b = [...Buffer.from(s, "latin1")];
  if (b.length > 255) throw new Error("character-string longer than 255 bytes");
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
 * RDATA for `type` from its presentation tokens (quoted strings already unquoted, with `quoted` marking them).
 * Throws an Error saying what is wrong.
 */
export function rdataToWire(type: number, t: string[], quoted: boolean[], origin: Uint8Array): Uint8Array {
  const name = (v: string | undefined, what: string) => {
    if (v === undefined) throw new Error(`missing ${what}`);
    return [...nameToWire(v, origin)];
  };
  const need = (n: number, shape: string) => {
    if (t.length !== n) throw new Error(`expected ${shape}, got ${t.length} field(s)`);
  };
  if (t[0] === "\\#") {
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
      const tag = [...Buffer.from(t[1]!, "latin1")];
      if (!/^[A-Za-z0-9]{1,15}$/.test(t[1]!)) throw new Error(`CAA tag "${t[1]}" must be 1-15 letters or digits`);
      return new Uint8Array([...u8(t[0], "CAA flags"), tag.length, ...tag, ...Buffer.from(t[2]!, "latin1")]);
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
      void quoted;
      throw new Error(`type ${TYPE_NAMES[type] ?? `TYPE${type}`} needs the RFC 3597 form '\\# LENGTH HEX'`);
  }
}
