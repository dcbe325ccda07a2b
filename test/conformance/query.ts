// Raw queries for the conformance suite (any class, any type, EDNS with or without DO) and one exchange
// over UDP or TCP. dns-packet is not used here: it cannot send class CH questions with an OPT record, and the
// suite wants the exact bytes it sends to be the same for every server.
import { tcpAsk, udpAsk } from "../helpers/dns";

export const TYPE_CODES: Record<string, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35, DNAME: 39, OPT: 41,
  DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51, CDS: 59, CDNSKEY: 60, HTTPS: 65, SVCB: 64,
  AXFR: 252, ANY: 255, CAA: 257,
};
export const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k]));
export const CLASS_CODES: Record<string, number> = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 };
export const CLASS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(CLASS_CODES).map(([k, v]) => [v, k]));

export const typeCode = (t: string): number => TYPE_CODES[t.toUpperCase()] ?? Number(/^TYPE(\d+)$/i.exec(t)?.[1] ?? NaN);
export const typeName = (n: number): string => TYPE_NAMES[n] ?? `TYPE${n}`;
export const className = (n: number): string => CLASS_NAMES[n] ?? `CLASS${n}`;

export interface QueryOptions {
  id?: number;
  qclass?: string;
  /** EDNS UDP payload size; absent: no OPT record. */
  edns?: number;
  dnssecOk?: boolean;
  rd?: boolean;
  cd?: boolean;
}

/** Wire form of a presentation name without escapes ("a.b.", "a.b" and "." all work). */
export function nameWire(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    if (label === "") continue;
    const bytes = [...Buffer.from(label, "latin1")];
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

export function buildQuery(name: string, type: string, o: QueryOptions = {}): Uint8Array {
  const id = o.id ?? Math.floor(Math.random() * 65536);
  const flags = (o.rd ? 0x0100 : 0) | (o.cd ? 0x0010 : 0);
  const qtype = typeCode(type);
  if (!Number.isInteger(qtype)) throw new Error(`unknown type ${type}`);
  const qclass = CLASS_CODES[o.qclass ?? "IN"]!;
  const bytes = [id >> 8, id & 255, flags >> 8, flags & 255, 0, 1, 0, 0, 0, 0, 0, o.edns === undefined ? 0 : 1];
  bytes.push(...nameWire(name), qtype >> 8, qtype & 255, qclass >> 8, qclass & 255);
  if (o.edns !== undefined) bytes.push(0, 0, 41, o.edns >> 8, o.edns & 255, 0, 0, o.dnssecOk ? 0x80 : 0, 0, 0, 0);
  return new Uint8Array(bytes);
}

export type Transport = "udp" | "tcp";

/** One exchange; null when nothing came back in time. */
export async function exchange(transport: Transport, port: number, msg: Uint8Array, timeoutMs = 3000): Promise<Uint8Array | null> {
  if (transport === "udp") return await udpAsk(port, msg, timeoutMs);
  return await Promise.race([tcpAsk(port, msg).catch(() => null), Bun.sleep(timeoutMs).then(() => null)]);
}

/** A seeded PRNG (mulberry32), so a run's random case can be reproduced from the seed it prints. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The name with each letter's case flipped at random (draft-vixie-dnsext-dns0x20); at least one flip when possible. */
export function randomCase(name: string, random: () => number): string {
  const chars = [...name].map((c) => (/[a-z]/i.test(c) && random() < 0.5 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c));
  let out = chars.join("");
  if (out === name) {
    const i = chars.findIndex((c) => /[a-z]/i.test(c));
    if (i >= 0) out = name.slice(0, i) + name[i]!.toUpperCase() + name.slice(i + 1);
  }
  return out;
}

/** Runs `fn` over `items` with at most `width` in flight, keeping the order of results. */
export async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}
