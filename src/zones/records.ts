// Local records from text: 'NAME [TTL] [IN] TYPE DATA' (the --record flag and `records = [...]`).
// dns-packet encodes the RDATA: this runs at config load, never per query. Character-strings are decoded
// here, as in master files (RFC 1035 5.1 escapes), and handed over as bytes so nothing re-encodes them.
import * as packet from "dns-packet";
import { isIPv4, isIPv6 } from "node:net";
import { toWire, type WireName } from "../wire/name";
import { unescapeBytes } from "./rdata";

export interface LocalRecord {
  name: string; // lowercased, no trailing dot
  wire: WireName;
  ttl: number;
  type: string;
  typeCode: number;
  data: unknown; // dns-packet's shape for this type; for CAA the RDATA bytes (dns-packet writes CAA values as text)
}

const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, CAA: 257 };
export const SUPPORTED_TYPES = Object.keys(TYPE_CODES);

/** Splits on white space but keeps a "quoted string" (in which \" is a quote) as one token; escapes are kept. */
function tokens(line: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < line.length; ) {
    if (/\s/.test(line[i]!)) {
      i++;
      continue;
    }
    const quoted = line[i] === '"';
    const from = quoted ? ++i : i;
    while (i < line.length && (quoted ? line[i] !== '"' : !/[\s"]/.test(line[i]!))) i += line[i] === "\\" ? 2 : 1;
    if (quoted && i >= line.length) throw new Error(`unterminated quoted string in "${line}"`);
    out.push(line.slice(from, quoted ? i++ : i));
  }
  return out;
}

/**
 * The bytes a character-string stands for. A config string is Unicode text, so its characters count as their
 * UTF-8 bytes, and \DDD / \X escapes are decoded as in a master file.
 */
function stringBytes(text: string): Buffer {
  try {
    return Buffer.from(unescapeBytes(Buffer.from(text, "utf8").toString("latin1")));
  } catch (e) {
    // The message quotes the bytes; show them as the text they were given as.
    throw new Error(Buffer.from((e as Error).message, "latin1").toString("utf8"));
  }
}

function hostname(value: string | undefined, what: string): string {
  if (!value) throw new Error(`missing ${what}`);
  toWire(value); // validates
  return value.replace(/\.$/, "").toLowerCase();
}

function u16(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${what} must be 0..65535, got "${value ?? ""}"`);
  return n;
}

function u8(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 0 || n > 255) throw new Error(`${what} must be 0..255, got "${value ?? ""}"`);
  return n;
}

function rdata(type: string, args: string[]): unknown {
  switch (type) {
    case "A":
      if (args.length !== 1 || !isIPv4(args[0]!)) throw new Error(`A needs one IPv4 address, got "${args.join(" ")}"`);
      return args[0];
    case "AAAA":
      if (args.length !== 1 || !isIPv6(args[0]!)) throw new Error(`AAAA needs one IPv6 address, got "${args.join(" ")}"`);
      return args[0];
    case "CNAME":
    case "NS":
    case "PTR":
      if (args.length !== 1) throw new Error(`${type} needs one target name`);
      return hostname(args[0], `${type} target`);
    case "MX":
      return { preference: u16(args[0], "MX preference"), exchange: hostname(args[1], "MX exchange") };
    case "SRV":
      return { priority: u16(args[0], "SRV priority"), weight: u16(args[1], "SRV weight"), port: u16(args[2], "SRV port"), target: hostname(args[3], "SRV target") };
    case "TXT":
      if (args.length === 0) throw new Error("TXT needs at least one string");
      return args.map((s) => {
        const b = stringBytes(s);
        if (b.length > 255) throw new Error(`TXT string "${s}" is ${b.length} bytes, longer than 255`);
        return b;
      });
    case "CAA": {
      if (args.length !== 3) throw new Error('CAA needs FLAGS TAG "VALUE"');
      const flags = u8(args[0], "CAA flags");
      if (!/^[A-Za-z0-9]{1,15}$/.test(args[1]!)) throw new Error(`CAA tag "${args[1]}" must be 1-15 letters or digits`);
      return Buffer.concat([Buffer.from([flags, args[1]!.length]), Buffer.from(args[1]!), stringBytes(args[2]!)]);
    }
    default:
      throw new Error(`unsupported type "${type}" (supported: ${SUPPORTED_TYPES.join(", ")})`);
  }
}

/** Parses one record line; throws an Error whose message says what is wrong. */
export function parseRecord(line: string): LocalRecord {
  const t = tokens(line);
  if (t.length < 3) throw new Error(`expected 'NAME [TTL] [IN] TYPE DATA', got "${line}"`);
  const name = hostname(t[0], "name");
  let i = 1;
  let ttl = 3600;
  if (/^\d+$/.test(t[i]!)) {
    ttl = Number(t[i++]);
    if (ttl > 2147483647) throw new Error(`TTL ${ttl} is larger than 2147483647`);
  }
  if (t[i]?.toUpperCase() === "IN") i++;
  const type = (t[i++] ?? "").toUpperCase();
  if (!(type in TYPE_CODES)) throw new Error(`unsupported type "${t[i - 1] ?? ""}" (supported: ${SUPPORTED_TYPES.join(", ")})`);
  const data = rdata(type, t.slice(i));
  return { name, wire: toWire(name), ttl, type, typeCode: TYPE_CODES[type]!, data };
}

// dns-packet exports its per-RR codec but @types/dns-packet does not declare it.
const rrCodec = (packet as unknown as { answer: { encode(a: packet.Answer): Uint8Array } }).answer;

/** The full wire RR (uncompressed owner) for a record. */
export function encodeRecord(r: LocalRecord): Uint8Array {
  if (r.data instanceof Uint8Array) {
    const out = new Uint8Array(r.wire.length + 10 + r.data.length);
    const v = new DataView(out.buffer);
    out.set(r.wire);
    v.setUint16(r.wire.length, r.typeCode);
    v.setUint16(r.wire.length + 2, 1); // IN
    v.setUint32(r.wire.length + 4, r.ttl);
    v.setUint16(r.wire.length + 8, r.data.length);
    out.set(r.data, r.wire.length + 10);
    return out;
  }
  return new Uint8Array(rrCodec.encode({ name: r.name, type: r.type, class: "IN", ttl: r.ttl, data: r.data } as packet.Answer));
}
