// Names and records as these helpers keep them, and the master-file subset the zones are written in.

/** A name as these helpers keep it: lowercase, no trailing dot, the root "". */
export function canon(name: string): string {
  const n = name.toLowerCase();
  return n === "." ? "" : n.endsWith(".") ? n.slice(0, -1) : n;
}

export const below = (name: string, zone: string): boolean => zone === "" || name === zone || name.endsWith(`.${zone}`);
export const child = (label: string, parent: string): string => (parent === "" ? label : `${label}.${parent}`);
export const parentOf = (name: string): string => (name.includes(".") ? name.slice(name.indexOf(".") + 1) : "");
/** A name as messages show it. */
export const dotted = (name: string): string => (name === "" ? "." : name);

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
export const toRRs = (list: Records | undefined): RR[] => (list ?? []).flatMap((r) => (typeof r === "string" ? parseRecords(r) : [r]));

export function ipv4Bytes(s: string): number[] {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`bad IPv4 address ${s}`);
  return parts.map(Number);
}

export function ipv6Bytes(s: string): number[] {
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
