// Test-side builders for queries with EDNS options, byte by byte (so malformed lengths can be written), and a
// reader for the options of our answers through dns-packet (an independent decoder).
import * as packet from "dns-packet";

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const QUESTION = [7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0, 1, 0, 1]; // example.com A IN

/** One option as (code, length, data); `len` overrides the length written. */
export function option(code: number, data: Uint8Array | number[], len = data.length): number[] {
  return [code >> 8, code & 255, len >> 8, len & 255, ...data];
}

export const cookieOption = (cookie: string | Uint8Array): number[] => option(10, typeof cookie === "string" ? hex(cookie) : cookie);

/**
 * A query for example.com A with one OPT record whose RDATA is `rdata` (`rdlen` overrides its length);
 * `qd: 0` leaves the question out.
 */
export function queryWithOpt(rdata: number[], o: { qd?: 0 | 1; id?: number; version?: number; rdlen?: number } = {}): Uint8Array {
  const id = o.id ?? 0x1234;
  const qd = o.qd ?? 1;
  const rdlen = o.rdlen ?? rdata.length;
  return new Uint8Array([
    id >> 8, id & 255, 0x01, 0x00, 0, qd, 0, 0, 0, 0, 0, 1,
    ...(qd ? QUESTION : []),
    0, 0, 41, 0x10, 0x00, 0, o.version ?? 0, 0, 0, rdlen >> 8, rdlen & 255, ...rdata,
  ]);
}

/** A slot holding `msg`, as the transports hand one to the pipeline. */
export function slotWith(msg: Uint8Array, size = 1500): Uint8Array {
  const slot = new Uint8Array(size);
  slot.set(msg);
  return slot;
}

interface Opt {
  udpPayloadSize: number;
  options: { code: number; data: Buffer }[];
}

/** The OPT record of an answer, decoded by dns-packet. */
export function optOf(answer: Uint8Array): Opt {
  const m = packet.decode(Buffer.from(answer)) as unknown as { additionals: (Opt & { type: string })[] };
  const opt = m.additionals.find((r) => r.type === "OPT");
  if (!opt) throw new Error("no OPT in the answer");
  return opt;
}

/** The COOKIE option data of an answer, as hex. */
export function cookieOf(answer: Uint8Array): string {
  const c = optOf(answer).options.find((o) => o.code === 10);
  if (!c) throw new Error("no COOKIE in the answer's OPT");
  return toHex(c.data);
}
