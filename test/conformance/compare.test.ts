// The comparison itself: the parser keeps bytes exact, and each allowance removes only the difference it names.
import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { ALLOW } from "./allowances";
import { differences, normalise, rawDiff, type Context } from "./compare";

const ctx = (qtype = "A", qname = "a.example"): Context => ({ qname, qtype, qclass: "IN", dnssecOk: false, transport: "udp" });

function msg(p: Partial<packet.Packet> & { flags?: number }): ReturnType<typeof normalise> {
  return normalise(new Uint8Array(packet.encode({ type: "response", id: 1, questions: [{ name: "a.example", type: "A", class: "IN" }], ...p } as packet.Packet)));
}

const A = (data: string, ttl = 60, name = "a.example") => ({ name, type: "A", class: "IN", ttl, data }) as packet.Answer;
const AA = packet.AUTHORITATIVE_ANSWER;
const RA = packet.RECURSION_AVAILABLE;

describe("normalise", () => {
  test("TXT bytes come out exactly: UTF-8 as \\DDD pairs, not characters", () => {
    const n = msg({ answers: [{ name: "a.example", type: "TXT", class: "IN", ttl: 1, data: [Buffer.from("café", "utf8")] } as packet.Answer] });
    expect(n.answer[0]!.fields).toEqual(['"caf\\195\\169"']);
  });

  test("owner names are lowercased, the question keeps its case, RDATA names keep theirs", () => {
    const n = normalise(new Uint8Array(packet.encode({ type: "response", id: 1, questions: [{ name: "A.Example", type: "CNAME", class: "IN" }], answers: [{ name: "A.Example", type: "CNAME", class: "IN", ttl: 1, data: "B.Example" }] } as packet.Packet)));
    expect(n.question).toBe("A.Example. CNAME IN");
    expect(n.answer[0]!.owner).toBe("a.example.");
    expect(n.answer[0]!.fields).toEqual(["B.Example."]);
  });

  test("an unknown type is shown in RFC 3597 form (dns-packet cannot even encode it)", () => {
    const name = [1, 97, 7, ...Buffer.from("example"), 0];
    const header = [0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
    const n = normalise(new Uint8Array([...header, ...name, 0, 1, 0, 1, 0xc0, 12, 0xff, 0, 0, 1, 0, 0, 0, 1, 0, 2, 10, 11]));
    expect(n.answer[0]!.type).toBe("TYPE65280");
    expect(n.answer[0]!.fields).toEqual(["\\#", "2", "0a0b"]);
  });
});

describe("differences", () => {
  test("a changed address, a missing RR and a different rcode are each reported", () => {
    const ref = msg({ flags: AA, answers: [A("192.0.2.1"), A("192.0.2.2")] });
    const sub = msg({ flags: AA | 3, answers: [A("192.0.2.9")] });
    expect(rawDiff(ref, sub)).toEqual(["rcode: NOERROR ≠ NXDOMAIN", "answer - a.example. 60 IN A 192.0.2.1", "answer - a.example. 60 IN A 192.0.2.2", "answer + a.example. 60 IN A 192.0.2.9"]);
  });

  test("a duplicated RR is a difference (each RR once)", () => {
    expect(rawDiff(msg({ answers: [A("192.0.2.1")] }), msg({ answers: [A("192.0.2.1"), A("192.0.2.1")] }))).toEqual(["answer + a.example. 60 IN A 192.0.2.1"]);
  });

  test("ra-on-authoritative removes bunbound's RA and nothing else: a missing AA stays", () => {
    const c = differences(msg({ flags: AA, answers: [A("192.0.2.1")] }), msg({ flags: RA, answers: [A("192.0.2.1")] }), [ALLOW.raOnAuthoritative], ctx());
    expect(c.diffs).toEqual(['flags: "qr aa" ≠ "qr"']);
  });

  test("ra-on-authoritative does not excuse RA missing from bunbound", () => {
    const c = differences(msg({ flags: RA }), msg({}), [ALLOW.raOnAuthoritative], ctx());
    expect(c.diffs).toEqual(['flags: "qr ra" ≠ "qr"']);
  });

  test("minimal-any accepts one of the reference's RRsets, not different data", () => {
    const txt = { name: "a.example", type: "TXT", class: "IN", ttl: 60, data: ["x"] } as packet.Answer;
    const full = msg({ flags: AA, answers: [A("192.0.2.1"), txt] });
    expect(differences(full, msg({ flags: AA, answers: [A("192.0.2.1")] }), [ALLOW.minimalAny], ctx("ANY")).diffs).toEqual([]);
    expect(differences(full, msg({ flags: AA, answers: [A("192.0.2.7")] }), [ALLOW.minimalAny], ctx("ANY")).diffs).not.toEqual([]);
    expect(differences(full, msg({ flags: AA, answers: [A("192.0.2.1")] }), [ALLOW.minimalAny], ctx("A")).diffs).not.toEqual([]);
  });

  test("own-signatures masks signature, dates and key tag but not the labels or original TTL", () => {
    const sig = (labels: number, originalTTL: number, keyTag: number) =>
      ({ name: "a.example", type: "RRSIG", class: "IN", ttl: 60, data: { typeCovered: "A", algorithm: 13, labels, originalTTL, expiration: 2, inception: 1, keyTag, signersName: "example", signature: Buffer.from([keyTag]) } }) as packet.Answer;
    expect(differences(msg({ answers: [sig(2, 60, 1)] }), msg({ answers: [sig(2, 60, 2)] }), [ALLOW.signatures], ctx()).diffs).toEqual([]);
    expect(differences(msg({ answers: [sig(2, 60, 1)] }), msg({ answers: [sig(1, 60, 2)] }), [ALLOW.signatures], ctx()).diffs.length).toBe(2);
    expect(differences(msg({ answers: [sig(2, 60, 1)] }), msg({ answers: [sig(2, 300, 2)] }), [ALLOW.signatures], ctx()).diffs.length).toBe(2);
  });

  test("optional-additional excuses missing addresses of an NS answer, not missing referral glue", () => {
    const ns = { name: "example", type: "NS", class: "IN", ttl: 60, data: "ns.example" } as packet.Answer;
    const glue = A("192.0.2.53", 60, "ns.example");
    expect(differences(msg({ flags: AA, answers: [ns], additionals: [glue] }), msg({ flags: AA, answers: [ns] }), [ALLOW.optionalAdditional], ctx("NS")).diffs).toEqual([]);
    expect(differences(msg({ authorities: [ns], additionals: [glue] }), msg({ authorities: [ns] }), [ALLOW.optionalAdditional], ctx()).diffs).toEqual(["additional - ns.example. 60 IN A 192.0.2.53"]);
  });

  test("ttl-aging excuses a few seconds, not a different TTL", () => {
    expect(differences(msg({ answers: [A("192.0.2.1", 599)] }), msg({ answers: [A("192.0.2.1", 600)] }), [ALLOW.ttlAging], ctx()).diffs).toEqual([]);
    expect(differences(msg({ answers: [A("192.0.2.1", 3600)] }), msg({ answers: [A("192.0.2.1", 300)] }), [ALLOW.ttlAging], ctx()).diffs.length).toBe(2);
  });
});

describe("udp-cap-1232", () => {
  const big = Array.from({ length: 8 }, (_, i) => ({ name: "a.example", type: "TXT", class: "IN", ttl: 60, data: [String.fromCharCode(97 + i).repeat(250)] }) as packet.Answer);
  const udp4096 = { ...ctx("TXT"), ednsSize: 4096 };

  test("excuses TC=1 from bunbound where the reference sent more than 1232 bytes over UDP to a 4096-byte client", () => {
    expect(differences(msg({ answers: big }), msg({ flags: packet.TRUNCATED_RESPONSE }), [ALLOW.udpCap1232], udp4096).diffs).toEqual([]);
  });

  test("does not excuse TC=1 for a client that offered 1232, or over TCP", () => {
    expect(differences(msg({ answers: big }), msg({ flags: packet.TRUNCATED_RESPONSE }), [ALLOW.udpCap1232], { ...udp4096, ednsSize: 1232 }).diffs).not.toEqual([]);
    expect(differences(msg({ answers: big }), msg({ flags: packet.TRUNCATED_RESPONSE }), [ALLOW.udpCap1232], { ...udp4096, transport: "tcp" }).diffs).not.toEqual([]);
  });
});
