import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { buildQuery, classifyAnswer, glueOf } from "../../src/recursion/message";
import { keyOf } from "../../src/wire/records";
import { toWire } from "../../src/wire/name";

const k = (name: string) => keyOf(toWire(name));

function reply(o: { rcode?: string; aa?: boolean; answers?: packet.Answer[]; authorities?: packet.Answer[]; additionals?: packet.Answer[]; qname?: string }): Uint8Array {
  return new Uint8Array(
    packet.encode({
      type: "response",
      id: 1,
      flags: (o.aa ? packet.AUTHORITATIVE_ANSWER : 0) | ({ NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as Record<string, number>)[o.rcode ?? "NOERROR"]!,
      questions: [{ name: o.qname ?? "www.example.com", type: "A", class: "IN" }],
      answers: o.answers ?? [],
      authorities: o.authorities ?? [],
      additionals: o.additionals ?? [],
    } as packet.Packet),
  );
}
const ns = (owner: string, target: string, ttl = 172800): packet.Answer => ({ name: owner, type: "NS", ttl, class: "IN", data: target });
const a = (owner: string, ip: string): packet.Answer => ({ name: owner, type: "A", ttl: 300, class: "IN", data: ip });
const soa = (owner: string): packet.Answer => ({ name: owner, type: "SOA", ttl: 300, class: "IN", data: { mname: "ns1." + owner, rname: "h." + owner, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } });

describe("classifying an authoritative server's answer", () => {
  test("a referral to a cut below the zone asked and above the name: its NS names and the smallest TTL", () => {
    const resp = reply({ authorities: [ns("example.com", "ns1.example.com", 3600), ns("example.com", "ns2.example.net", 7200)], additionals: [a("ns1.example.com", "192.0.2.53")] });
    const c = classifyAnswer(resp, k("com"), k("www.example.com"));
    expect(c.kind).toBe("referral");
    if (c.kind !== "referral") return;
    expect(c.referral).toEqual({ zone: k("example.com"), names: [k("ns1.example.com"), k("ns2.example.net")], ttl: 3600 });
    expect([...glueOf(resp, c.msg, c.referral.names)]).toEqual([[k("ns1.example.com"), ["192.0.2.53"]]]);
  });

  test("an upward referral (NS of the root from com's server) and a sideways one are lame", () => {
    expect(classifyAnswer(reply({ authorities: [ns(".", "a.root-servers.net")] }), k("com"), k("www.example.com")).kind).toBe("lame");
    expect(classifyAnswer(reply({ authorities: [ns("example.net", "ns1.example.net")] }), k("com"), k("www.example.com")).kind).toBe("lame");
    expect(classifyAnswer(reply({ authorities: [ns("com", "a.nic.com")] }), k("com"), k("www.example.com")).kind).toBe("lame");
  });

  test("REFUSED and SERVFAIL are lame; NXDOMAIN is NXDOMAIN; an answer is an answer", () => {
    expect(classifyAnswer(reply({ rcode: "REFUSED" }), k("com"), k("www.example.com")).kind).toBe("lame");
    expect(classifyAnswer(reply({ rcode: "SERVFAIL" }), k("com"), k("www.example.com")).kind).toBe("lame");
    expect(classifyAnswer(reply({ rcode: "NXDOMAIN", aa: true, authorities: [soa("example.com")] }), k("example.com"), k("www.example.com")).kind).toBe("nxdomain");
    expect(classifyAnswer(reply({ aa: true, answers: [a("www.example.com", "192.0.2.1")] }), k("example.com"), k("www.example.com")).kind).toBe("answer");
  });

  test("NODATA needs an SOA or AA; a non-authoritative empty answer without either is lame", () => {
    expect(classifyAnswer(reply({ authorities: [soa("example.com")] }), k("example.com"), k("www.example.com")).kind).toBe("nodata");
    expect(classifyAnswer(reply({ aa: true }), k("example.com"), k("www.example.com")).kind).toBe("nodata");
    expect(classifyAnswer(reply({}), k("example.com"), k("www.example.com")).kind).toBe("lame");
  });
});

describe("the query to an authoritative server", () => {
  test("RD clear, one question, our OPT with DO as asked, a random ID; without EDNS no OPT", () => {
    const q = buildQuery(k("www.example.com"), 1, { cd: false, dnssecOk: true, edns: true, randomizeCase: false });
    const d = packet.decode(Buffer.from(q.msg));
    expect(d.flags! & packet.RECURSION_DESIRED).toBe(0);
    expect(d.questions).toEqual([{ name: "www.example.com", type: "A", class: "IN" }]);
    expect((d.additionals![0] as unknown as { flags: number }).flags & packet.DNSSEC_OK).toBe(packet.DNSSEC_OK);
    expect(q.id).toBe(d.id!);
    expect(packet.decode(Buffer.from(buildQuery(k("www.example.com"), 1, { cd: false, dnssecOk: false, edns: false, randomizeCase: false }).msg)).additionals).toEqual([]);
  });

  test("0x20: the letters' case is randomised, and the answer must echo it exactly", () => {
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const q = buildQuery(k("abcdefghij.example.com"), 1, { cd: false, dnssecOk: false, edns: false, randomizeCase: true });
      expect(q.exactCase).toBe(true);
      names.add(packet.decode(Buffer.from(q.msg)).questions![0]!.name);
    }
    expect(names.size).toBeGreaterThan(10);
    for (const n of names) expect(n.toLowerCase()).toBe("abcdefghij.example.com");
  });
});
