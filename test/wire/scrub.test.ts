import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { toWire } from "../../src/wire/name";
import { scanResponse } from "../../src/wire/scan";
import { scrubResponse, within } from "../../src/wire/scrub";
import { keyOf, readMessage } from "../../src/wire/records";
import { wellFormed } from "../../src/wire/message";
import { decode } from "../helpers/dns";

type Rr = packet.Answer;
const a = (name: string, data: string, ttl = 300): Rr => ({ name, type: "A", class: "IN", ttl, data }) as Rr;
const rr = (name: string, type: string, data: unknown, ttl = 300): Rr => ({ name, type, class: "IN", ttl, data }) as Rr;
const soa = (zone: string): Rr =>
  rr(zone, "SOA", { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 });
const sig = (name: string, covered: string): Rr =>
  rr(name, "RRSIG", { typeCovered: covered, algorithm: 13, labels: 3, originalTTL: 300, expiration: 2, inception: 1, keyTag: 7, signersName: "corp.example", signature: Buffer.from([1, 2, 3, 4]) });

function response(qname: string, qtype: string, s: { answers?: Rr[]; authorities?: Rr[]; additionals?: Rr[]; rcode?: string } = {}): Uint8Array {
  return new Uint8Array(
    packet.encode({
      type: "response",
      id: 4242,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (s.rcode === "NXDOMAIN" ? 3 : 0),
      questions: [{ name: qname, type: qtype as packet.RecordType, class: "IN" }],
      answers: s.answers ?? [],
      authorities: s.authorities ?? [],
      additionals: s.additionals ?? [],
    } as packet.Packet),
  );
}

const CORP = toWire("corp.example");
const ROOT = toWire(".");

/** Scrubs for `zone` and returns the decoded result: owner/type/data triples per section. */
function scrubbed(resp: Uint8Array, zone = CORP) {
  const r = scrubResponse(resp, zone);
  if (!r.ok) throw new Error("malformed");
  expect(wellFormed(r.msg, r.msg.length)).toBe(true);
  const d = decode(r.msg);
  const show = (rs: Array<{ name: string; type: string; data: unknown }>) =>
    rs.map((x) => `${x.name} ${x.type}${typeof x.data === "string" ? ` ${x.data}` : ""}`);
  return { removed: r.removed, msg: r.msg, answers: show(d.answers), authorities: show(d.authorities), additionals: show(d.additionals) };
}

describe("what a forward zone's upstream may say", () => {
  test("records about another zone are removed from the answer, authority and additional sections", () => {
    const r = scrubbed(
      response("www.corp.example", "A", {
        answers: [a("www.corp.example", "192.0.2.1"), a("victim.other-zone", "6.6.6.6")],
        authorities: [rr("other-zone", "NS", "ns.evil"), rr("corp.example", "NS", "ns1.corp.example")],
        additionals: [a("victim.other-zone", "6.6.6.6"), a("ns.evil", "6.6.6.7"), a("ns1.corp.example", "192.0.2.53")],
      }),
    );
    expect(r.answers).toEqual(["www.corp.example A 192.0.2.1"]);
    expect(r.authorities).toEqual(["corp.example NS ns1.corp.example"]);
    expect(r.additionals).toEqual(["ns1.corp.example A 192.0.2.53"]);
    expect(r.removed).toBe(4);
  });

  test("an in-zone CNAME chain is kept whole, with the targets' records and their signatures", () => {
    const r = scrubbed(
      response("www.corp.example", "A", {
        answers: [
          rr("www.corp.example", "CNAME", "web.corp.example"),
          sig("www.corp.example", "CNAME"),
          rr("web.corp.example", "CNAME", "lb.web.corp.example"),
          a("lb.web.corp.example", "192.0.2.10"),
          sig("lb.web.corp.example", "A"),
          a("other.corp.example", "192.0.2.99"),
        ],
      }),
    );
    expect(r.answers).toEqual([
      "www.corp.example CNAME web.corp.example",
      "www.corp.example RRSIG",
      "web.corp.example CNAME lb.web.corp.example",
      "lb.web.corp.example A 192.0.2.10",
      "lb.web.corp.example RRSIG",
    ]);
    expect(r.removed).toBe(1);
  });

  test("a CNAME whose target is outside the zone ends the chain: what follows the target goes", () => {
    const r = scrubbed(
      response("www.corp.example", "A", {
        answers: [rr("www.corp.example", "CNAME", "cdn.other-zone"), a("cdn.other-zone", "6.6.6.6")],
        authorities: [soa("other-zone")],
      }),
    );
    expect(r.answers).toEqual(["www.corp.example CNAME cdn.other-zone"]);
    expect(r.authorities).toEqual([]);
    expect(r.removed).toBe(2);
  });

  test("glue stays only for in-zone names that a kept NS, MX or SRV record points at", () => {
    const r = scrubbed(
      response("corp.example", "MX", {
        answers: [rr("corp.example", "MX", { preference: 10, exchange: "mx.corp.example" }), rr("corp.example", "MX", { preference: 20, exchange: "mx.other-zone" })],
        authorities: [rr("corp.example", "NS", "ns1.corp.example")],
        additionals: [
          a("mx.corp.example", "192.0.2.25"),
          rr("mx.corp.example", "AAAA", "2001:db8::25"),
          a("ns1.corp.example", "192.0.2.53"),
          a("mx.other-zone", "6.6.6.6"),
          a("unrelated.corp.example", "192.0.2.77"),
          rr("mx.corp.example", "TXT", ["hello"]),
        ],
      }),
    );
    expect(r.answers.length).toBe(2);
    expect(r.additionals).toEqual(["mx.corp.example A 192.0.2.25", "mx.corp.example AAAA 2001:db8::25", "ns1.corp.example A 192.0.2.53"]);
    expect(r.removed).toBe(3);
  });

  test("a negative answer keeps the SOA and NSEC of the zone above the question, not a sibling's", () => {
    const r = scrubbed(
      response("nope.corp.example", "A", {
        rcode: "NXDOMAIN",
        authorities: [
          soa("corp.example"),
          soa("sibling.corp.example"),
          rr("mid.corp.example", "NSEC", { nextDomain: "zz.corp.example", rrtypes: ["A"] }),
          rr("zz.corp.example", "NSEC", { nextDomain: "victim.other-zone", rrtypes: ["A"] }),
          sig("corp.example", "SOA"),
          sig("sibling.corp.example", "SOA"),
          a("nope.corp.example", "6.6.6.6"),
        ],
      }),
    );
    expect(r.authorities).toEqual(["corp.example SOA", "mid.corp.example NSEC", "corp.example RRSIG"]);
    expect(r.removed).toBe(4);
    expect(scanResponse(r.msg, r.msg.length).negativeTtl).toBe(60);
  });

  test("the SOA of a CNAME chain's last name is kept for a NODATA at the end of the chain", () => {
    const r = scrubbed(
      response("www.corp.example", "AAAA", {
        answers: [rr("www.corp.example", "CNAME", "host.lab.corp.example")],
        authorities: [soa("lab.corp.example")],
      }),
    );
    expect(r.authorities).toEqual(["lab.corp.example SOA"]);
    expect(r.removed).toBe(0);
  });

  test("a DNAME above the question is kept with the CNAME it makes and the target's records", () => {
    const r = scrubbed(
      response("www.old.corp.example", "A", {
        answers: [
          rr("old.corp.example", "DNAME", "new.corp.example"),
          rr("www.old.corp.example", "CNAME", "www.new.corp.example"),
          a("www.new.corp.example", "192.0.2.8"),
          rr("old.corp.example", "DNAME", "elsewhere.corp.example"),
        ],
      }),
    );
    expect(r.answers).toEqual(["old.corp.example DNAME new.corp.example", "www.old.corp.example CNAME www.new.corp.example", "www.new.corp.example A 192.0.2.8"]);
  });

  test("records of the question's name but another type, and A records of the wrong length, go", () => {
    const resp = response("www.corp.example", "A", { answers: [a("www.corp.example", "192.0.2.1"), rr("www.corp.example", "TXT", ["x"]), a("www.corp.example", "192.0.2.2")] });
    // The last A gets a fifth RDATA byte: RDLENGTH (6 bytes from the end) 4 -> 5, and one byte more.
    const long = new Uint8Array(resp.length + 1);
    long.set(resp);
    long[resp.length - 5] = 5;
    const r = scrubbed(long);
    expect(r.answers).toEqual(["www.corp.example A 192.0.2.1"]);
    expect(r.removed).toBe(2);
  });

  test("a response with nothing to remove is returned as the same object, not a copy", () => {
    const resp = response("www.corp.example", "A", {
      answers: [a("www.corp.example", "192.0.2.1")],
      authorities: [rr("corp.example", "NS", "ns1.corp.example")],
      additionals: [a("ns1.corp.example", "192.0.2.53"), { type: "OPT", name: ".", udpPayloadSize: 1232, options: [] } as never],
    });
    const r = scrubResponse(resp, CORP);
    expect(r).toEqual({ ok: true, msg: resp, removed: 0, tail: null });
    expect(r.ok && r.msg).toBe(resp);
  });

  test("the OPT record is kept, last, when other records go", () => {
    const resp = response("www.corp.example", "A", {
      answers: [a("www.corp.example", "192.0.2.1")],
      additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, options: [] } as never, a("victim.other-zone", "6.6.6.6")],
    });
    const r = scrubResponse(resp, CORP);
    if (!r.ok) throw new Error("malformed");
    const s = scanResponse(r.msg, r.msg.length);
    expect(s.optEnd).toBe(r.msg.length);
    expect(decode(r.msg).additionals.map((x) => x.type)).toEqual(["OPT"]);
  });
});

describe("the default upstreams (the root as bailiwick)", () => {
  test("every name is inside the root, but records beside the chain still go", () => {
    const r = scrubbed(
      response("www.example.com", "A", {
        answers: [rr("www.example.com", "CNAME", "cdn.example.net"), a("cdn.example.net", "192.0.2.1"), a("victim.example.org", "6.6.6.6")],
        authorities: [rr("example.org", "NS", "ns.evil")],
        additionals: [a("ns.evil", "6.6.6.7")],
      }),
      ROOT,
    );
    expect(r.answers).toEqual(["www.example.com CNAME cdn.example.net", "cdn.example.net A 192.0.2.1"]);
    expect(r.authorities).toEqual([]);
    expect(r.additionals).toEqual([]);
  });
});

describe("rewriting a message without the removed records", () => {
  test("names compressed into a removed record are written out in full", () => {
    // Question www.corp.example; answer 1 (removed): mail.corp.example TXT, owner written in full at offset 34;
    // answer 2: www CNAME -> pointer to offset 34; answer 3: pointer to 34, A 192.0.2.5.
    const name = (s: string) => [...toWire(s)];
    const ptr = (o: number) => [0xc0 | (o >> 8), o & 0xff];
    const head = [0x10, 0x92, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
    const question = [...name("www.corp.example"), 0, 1, 0, 1];
    const at = head.length + question.length;
    const txt = [...name("mail.corp.example"), 0, 16, 0, 1, 0, 0, 1, 44, 0, 2, 1, 0x78];
    const cname = [...ptr(12), 0, 5, 0, 1, 0, 0, 1, 44, 0, 2, ...ptr(at)];
    const addr = [...ptr(at), 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 5];
    const resp = new Uint8Array([...head, ...question, ...txt, ...cname, ...addr]);
    expect(wellFormed(resp, resp.length)).toBe(true);
    const r = scrubbed(resp);
    expect(r.answers).toEqual(["www.corp.example CNAME mail.corp.example", "mail.corp.example A 192.0.2.5"]);
    expect(r.removed).toBe(1);
    expect(r.msg.length).toBeLessThan(resp.length); // compressed again on the way out
    const s = scanResponse(r.msg, r.msg.length);
    expect(s.cnameChain).toBe(1);
    expect(s.ttls).toEqual([300, 300]);
  });

  test("the question's name keeps its own spelling (0x20) and answers point at it", () => {
    const resp = response("wWw.CoRp.example", "A", { answers: [a("www.corp.example", "192.0.2.1"), a("x.other", "6.6.6.6")] });
    const r = scrubResponse(resp, CORP);
    if (!r.ok) throw new Error("malformed");
    expect(new TextDecoder().decode(r.msg.subarray(13, 16))).toBe("wWw");
    expect([...r.msg.subarray(34, 36)]).toEqual([0xc0, 12]);
  });
});

describe("hostile bytes", () => {
  const base = response("www.corp.example", "A", {
    answers: [rr("www.corp.example", "CNAME", "web.corp.example"), a("web.corp.example", "192.0.2.1"), a("x.other", "6.6.6.6")],
    authorities: [soa("corp.example"), rr("corp.example", "NS", "ns1.corp.example")],
    additionals: [a("ns1.corp.example", "192.0.2.53")],
  });

  test("a pointer loop, an RDLENGTH past the end and absurd counts end as malformed, not as an exception", () => {
    const loop = new Uint8Array([...base.subarray(0, 12), 0xc0, 12, 0, 1, 0, 1]); // the question name points at itself
    const cut = base.subarray(0, base.length - 3); // the last record's RDATA runs past the end
    const counts = base.slice();
    counts.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 6); // 65535 records in each section
    const rdlen = base.slice();
    const soaRdata = readMessage(base, base.length)!.records.find((x) => x.type === 6)!.rdata;
    rdlen.set([0xff, 0xff], soaRdata - 2); // a record in the middle claims 65535 bytes
    for (const c of [loop, cut, counts, rdlen]) expect(scrubResponse(c, CORP)).toEqual({ ok: false, failure: "malformed" });
  });

  test("a name in RDATA that points forward or at itself makes the message malformed", () => {
    // The SOA's MNAME becomes a pointer to itself.
    const resp = response("corp.example", "SOA", { answers: [soa("corp.example")] });
    const mname = 12 + toWire("corp.example").length + 4 + toWire("corp.example").length + 10;
    resp.set([0xc0, mname & 0xff], mname);
    expect(wellFormed(resp, resp.length)).toBe(true); // the owner names and lengths are fine
    expect(scrubResponse(resp, CORP)).toEqual({ ok: false, failure: "malformed" });
  });

  test("random bytes and random corruptions of a real answer never throw", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 2 ? Uint8Array.from({ length: 12 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)) : base.slice();
      if (i % 2 === 0) for (let k = 0; k < 1 + rand() * 6; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      const r = scrubResponse(bytes, i % 3 ? CORP : ROOT);
      if (r.ok && r.msg !== bytes) expect(wellFormed(r.msg, r.msg.length)).toBe(true);
    }
  });
});

describe("names inside a zone", () => {
  const k = (s: string) => keyOf(toWire(s));
  test("a name is within itself, its parents and the root, compared label by label", () => {
    expect(within(k("a.corp.example"), k("corp.example"))).toBe(true);
    expect(within(k("corp.example"), k("corp.example"))).toBe(true);
    expect(within(k("anything"), k("."))).toBe(true);
    expect(within(k("notcorp.example"), k("corp.example"))).toBe(false);
    expect(within(k("example"), k("corp.example"))).toBe(false);
  });
  test("a label with a dot in it is one label, not two", () => {
    const dotted = new Uint8Array([6, ...new TextEncoder().encode("x.corp"), 7, ...new TextEncoder().encode("example"), 0]);
    expect(within(keyOf(dotted), k("corp.example"))).toBe(false);
  });
});
