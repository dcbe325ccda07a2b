import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { toWire } from "../../src/wire/name";
import { wellFormed } from "../../src/wire/message";
import { scanResponse } from "../../src/wire/scan";

const soa = (zone: string, ttl = 300, minimum = 60) =>
  ({ name: zone, type: "SOA", class: "IN", ttl, data: { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum } }) as packet.Answer;

function response(qname: string, s: { answers?: packet.Answer[]; authorities?: packet.Answer[] } = {}): Uint8Array {
  return new Uint8Array(
    packet.encode({
      type: "response",
      id: 1,
      flags: 0,
      questions: [{ name: qname, type: "A", class: "IN" }],
      answers: s.answers ?? [],
      authorities: s.authorities ?? [],
    } as packet.Packet),
  );
}

/** Offset of the first record's RDATA when the question and that record's owner are `qname`, uncompressed. */
const firstRdata = (qname: string) => 12 + 2 * toWire(qname).length + 4 + 10;

describe("scanning a response", () => {
  test("it finds every TTL, the SOA's negative TTL and the CNAME chain's length", () => {
    const resp = response("a.example", {
      answers: [{ name: "a.example", type: "CNAME", class: "IN", ttl: 30, data: "b.example" } as packet.Answer, { name: "b.example", type: "A", class: "IN", ttl: 20, data: "192.0.2.1" } as packet.Answer],
      authorities: [soa("example", 300, 60)],
    });
    const s = scanResponse(resp, resp.length);
    expect(s.ttls).toEqual([30, 20, 300]);
    expect(s.minAnswerTtl).toBe(20);
    expect(s.negativeTtl).toBe(60);
    expect(s.cnameChain).toBe(1);
  });
});

describe("scanning hostile bytes", () => {
  test("a SOA whose MNAME points at itself gives no negative TTL, and the scan ends", () => {
    const resp = response("example", { authorities: [soa("example")] });
    const at = 12 + toWire("example").length + 4 + toWire("example").length + 10;
    resp.set([0xc0, at], at);
    expect(wellFormed(resp, resp.length)).toBe(true); // the check covers owners and lengths, not names in RDATA
    const s = scanResponse(resp, resp.length);
    expect(s.negativeTtl).toBe(-1);
    expect(s.ttls).toEqual([300]);
  });

  test("a SOA whose RDATA ends before its numbers gives no negative TTL", () => {
    const resp = response("example", { authorities: [soa("example")] });
    const rdlenAt = 12 + toWire("example").length + 4 + toWire("example").length + 8;
    const rdlen = (resp[rdlenAt]! << 8) | resp[rdlenAt + 1]!;
    const short = new Uint8Array([...resp.subarray(0, rdlenAt), 0, rdlen - 8, ...resp.subarray(rdlenAt + 2, resp.length - 8)]);
    expect(wellFormed(short, short.length)).toBe(true);
    expect(scanResponse(short, short.length).negativeTtl).toBe(-1);
  });

  test("a CNAME target that is a pointer loop reads as no name: the chain is not followed into it", () => {
    const resp = response("a.example", { answers: [{ name: "a.example", type: "CNAME", class: "IN", ttl: 30, data: "b.example" } as packet.Answer] });
    const at = firstRdata("a.example");
    resp.set([0xc0, at], at); // the target points at itself (forward pointers are not refused by readName: the hop limit ends it)
    expect(wellFormed(resp, resp.length)).toBe(true);
    expect(scanResponse(resp, resp.length).cnameChain).toBe(1);
  });

  test("counts beyond the bytes, a record cut short, or garbage stop the scan instead of throwing or hanging", () => {
    const resp = response("a.example", { answers: [{ name: "a.example", type: "A", class: "IN", ttl: 30, data: "192.0.2.1" } as packet.Answer] });
    const counts = resp.slice();
    counts.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 6);
    expect(scanResponse(counts, counts.length).ttls).toEqual([30]);
    const cut = resp.subarray(0, resp.length - 8);
    expect(() => scanResponse(cut, cut.length)).not.toThrow();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 12 + Math.floor(rand() * 120) }, () => Math.floor(rand() * 256));
      expect(() => scanResponse(bytes, bytes.length)).not.toThrow();
    }
  });
});
