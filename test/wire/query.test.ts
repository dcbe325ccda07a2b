import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { Cookie, parseQuery, QueryInfo, Verdict } from "../../src/wire/query";
import { hashName, toWire } from "../../src/wire/name";
import { makeQuery } from "../helpers/dns";
import { cookieOption, option, queryWithOpt, slotWith, toHex } from "./edns";

function parse(bytes: Uint8Array): [number, QueryInfo] {
  const q = new QueryInfo();
  return [parseQuery(bytes, bytes.length, q), q];
}

/** header(id, flags, qd, an, ns, ar) + body */
function raw(header: number[], ...body: number[][]): Uint8Array {
  const [id, flags, qd, an, ns, ar] = header as [number, number, number, number, number, number];
  return new Uint8Array([id >> 8, id & 255, flags >> 8, flags & 255, 0, qd, 0, an, 0, ns, 0, ar, ...body.flat()]);
}
const QNAME = [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]; // www.example.com
const A_IN = [0, 1, 0, 1];

describe("reading a well-formed query", () => {
  test("header, question and hash match what dns-packet encoded", () => {
    const bytes = makeQuery("WWW.Example.com", "AAAA", { id: 4242 });
    const [v, q] = parse(bytes);
    expect(v).toBe(Verdict.OK);
    expect(q.id).toBe(4242);
    expect(q.qtype).toBe(28);
    expect(q.qclass).toBe(1);
    expect(q.qnameEnd).toBe(12 + 17);
    expect(q.questionEnd).toBe(bytes.length);
    const w = toWire("www.example.com");
    expect(q.nameHash).toBe(hashName(w, 0, w.length));
    expect(q.edns).toBe(false);
    expect(q.maxUdpResponse()).toBe(512);
  });

  test("EDNS size, DO bit and version are read from the OPT record", () => {
    const [v, q] = parse(makeQuery("example.com", "A", { edns: 4096, dnssec: true }));
    expect(v).toBe(Verdict.OK);
    expect(q.edns).toBe(true);
    expect(q.udpSize).toBe(4096);
    expect(q.dnssecOk).toBe(true);
    expect(q.maxUdpResponse()).toBe(1232);
  });

  test("an EDNS size below 512 is treated as 512", () => {
    const [, q] = parse(makeQuery("example.com", "A", { edns: 100 }));
    expect(q.udpSize).toBe(512);
  });

  test("unknown EDNS options are ignored", () => {
    const bytes = new Uint8Array(
      packet.encode({
        type: "query",
        id: 1,
        questions: [{ name: "a.example", type: "A", class: "IN" }],
        additionals: [{ type: "OPT", name: ".", udpPayloadSize: 1232, options: [{ code: 65001, data: Buffer.from([1, 2, 3]) }] } as never],
      }),
    );
    const [v, q] = parse(bytes);
    expect(v).toBe(Verdict.OK);
    expect(q.edns).toBe(true);
  });

  test("trailing bytes after the message are ignored", () => {
    const bytes = makeQuery("example.com");
    const [v] = parse(new Uint8Array([...bytes, 0xde, 0xad]));
    expect(v).toBe(Verdict.OK);
  });
});

describe("malformed input (RELIABILITY.md)", () => {
  test("shorter than 12 bytes is dropped", () => {
    expect(parse(new Uint8Array(11))[0]).toBe(Verdict.DROP);
    expect(parse(new Uint8Array(0))[0]).toBe(Verdict.DROP);
  });
  test("a response (QR=1) is dropped", () => {
    expect(parse(raw([1, 0x8000, 1, 0, 0, 0], QNAME, A_IN))[0]).toBe(Verdict.DROP);
  });
  test("header only, QDCOUNT=0 is FORMERR", () => {
    expect(parse(raw([1, 0x0100, 0, 0, 0, 0]))[0]).toBe(1);
  });
  test("QDCOUNT > 1 is FORMERR", () => {
    expect(parse(raw([1, 0, 2, 0, 0, 0], QNAME, A_IN, QNAME, A_IN))[0]).toBe(1);
  });
  test("a compression pointer loop in the question is FORMERR", () => {
    expect(parse(raw([1, 0, 1, 0, 0, 0], [0xc0, 12], A_IN))[0]).toBe(1);
  });
  test("a forward or out-of-bounds pointer is FORMERR", () => {
    expect(parse(raw([1, 0, 1, 0, 0, 0], [0xc0, 40], A_IN))[0]).toBe(1);
    expect(parse(raw([1, 0, 1, 0, 0, 0], [0xff, 0xff], A_IN))[0]).toBe(1);
  });
  test("a label longer than 63 is FORMERR", () => {
    expect(parse(raw([1, 0, 1, 0, 0, 0], [64, ...new Array(64).fill(97), 0], A_IN))[0]).toBe(1);
  });
  test("a name longer than 255 is FORMERR", () => {
    const label = [63, ...new Array(63).fill(97)];
    expect(parse(raw([1, 0, 1, 0, 0, 0], label, label, label, label, [0], A_IN))[0]).toBe(1);
  });
  test("a truncated name is FORMERR", () => {
    expect(parse(raw([1, 0, 1, 0, 0, 0], [7, 101, 120]))[0]).toBe(1);
  });
  test("a question without qtype/qclass is FORMERR", () => {
    const [v, q] = parse(raw([1, 0, 1, 0, 0, 0], QNAME, [0, 1]));
    expect(v).toBe(1);
    expect(q.hasQuestion).toBe(false);
  });
  test("an opcode other than QUERY is NOTIMP, with the question parsed for the echo", () => {
    const [v, q] = parse(raw([1, 2 << 11, 1, 0, 0, 0], QNAME, A_IN));
    expect(v).toBe(4);
    expect(q.hasQuestion).toBe(true);
  });
  test("a class other than IN/CH/ANY is REFUSED", () => {
    expect(parse(raw([1, 0, 1, 0, 0, 0], QNAME, [0, 1, 0, 4]))[0]).toBe(5);
    expect(parse(raw([1, 0, 1, 0, 0, 0], QNAME, [0, 1, 0, 3]))[0]).toBe(Verdict.OK);
  });
  test("two OPT records are FORMERR", () => {
    const opt = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0];
    expect(parse(raw([1, 0, 1, 0, 0, 2], QNAME, A_IN, opt, opt))[0]).toBe(1);
  });
  test("an OPT outside the additional section is FORMERR", () => {
    const opt = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0];
    expect(parse(raw([1, 0, 1, 1, 0, 0], QNAME, A_IN, opt))[0]).toBe(1);
  });
  test("an OPT with version 1 is BADVERS", () => {
    const opt = [0, 0, 41, 4, 208, 0, 1, 0, 0, 0, 0];
    const [v, q] = parse(raw([1, 0, 1, 0, 0, 1], QNAME, A_IN, opt));
    expect(v).toBe(16);
    expect(q.edns).toBe(true);
  });
  test("huge ANCOUNT/NSCOUNT/ARCOUNT claims with no data are FORMERR", () => {
    expect(parse(raw([1, 0, 1, 0xff, 0, 0], QNAME, A_IN))[0]).toBe(1);
    expect(parse(raw([1, 0, 1, 0, 0xff, 0], QNAME, A_IN))[0]).toBe(1);
    expect(parse(raw([1, 0, 1, 0, 0, 0xff], QNAME, A_IN))[0]).toBe(1);
  });
  test("random bytes never throw", () => {
    const q = new QueryInfo();
    for (let i = 0; i < 20_000; i++) {
      const n = Math.floor(Math.random() * 80);
      const b = new Uint8Array(n);
      crypto.getRandomValues(b);
      if (n > 5 && i % 2) b[4] = 0, b[5] = 1; // often a plausible QDCOUNT
      expect(() => parseQuery(b, n, q)).not.toThrow();
    }
  });
});

describe("EDNS options (RFC 6891 6.1.2)", () => {
  test("an option whose length runs past the OPT RDATA is FORMERR", () => {
    expect(parse(queryWithOpt(option(65001, [1, 2, 3], 4)))[0]).toBe(1);
  });

  test("an option whose length runs past the message is FORMERR", () => {
    const bytes = queryWithOpt(option(65001, [1, 2, 3]));
    expect(parse(bytes.subarray(0, bytes.length - 1))[0]).toBe(1);
  });

  test("bytes after the last option that cannot hold an option header are FORMERR", () => {
    expect(parse(queryWithOpt([...option(65001, [1]), 0, 3, 0]))[0]).toBe(1);
    expect(parse(queryWithOpt([0]))[0]).toBe(1);
  });

  test("unknown and empty options that fill the RDATA exactly are skipped", () => {
    const [v, q] = parse(queryWithOpt([...option(65001, [1, 2, 3]), ...option(3, []), ...option(12, [0, 0])]));
    expect(v).toBe(Verdict.OK);
    expect(q.edns).toBe(true);
    expect(q.cookie).toBe(Cookie.NONE);
  });
});

describe("the COOKIE option (RFC 7873 5.2.2)", () => {
  const bytesOf = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  test("a COOKIE of 0, 7, 9, 15 or 41 bytes is FORMERR", () => {
    for (const n of [0, 7, 9, 15, 41]) expect(`${n}: ${parse(queryWithOpt(option(10, bytesOf(n))))[0]}`).toBe(`${n}: 1`);
  });

  test("a COOKIE of 8 bytes, or of 16 to 40 bytes, is accepted", () => {
    for (const n of [8, 16, 17, 24, 39, 40]) expect(`${n}: ${parse(queryWithOpt(option(10, bytesOf(n))))[0]}`).toBe(`${n}: ${Verdict.OK}`);
  });

  test("two COOKIE options are FORMERR", () => {
    expect(parse(queryWithOpt([...cookieOption("0102030405060708"), ...cookieOption("0102030405060708")]))[0]).toBe(1);
  });

  test("a client cookie alone reads as Cookie.CLIENT, with the cookie copied", () => {
    const [v, q] = parse(queryWithOpt([...option(65001, [9]), ...cookieOption("2464c4abcf10c957")]));
    expect(v).toBe(Verdict.OK);
    expect(q.cookie).toBe(Cookie.CLIENT);
    expect(toHex(q.cookieData.subarray(0, 8))).toBe("2464c4abcf10c957");
    expect(q.serverCookieLen).toBe(0);
  });

  test("the cookies are copied out of the query, so they outlive the answer written over it", () => {
    const msg = queryWithOpt(cookieOption("2464c4abcf10c957 0100000011223344 aabbccddeeff0011"));
    const slot = slotWith(msg);
    const q = new QueryInfo();
    parseQuery(slot, msg.length, q);
    slot.fill(0);
    expect(q.cookie).toBe(Cookie.BAD);
    expect(toHex(q.cookieData.subarray(0, 8))).toBe("2464c4abcf10c957");
    expect(toHex(q.cookieData.subarray(8, 8 + q.serverCookieLen))).toBe("0100000011223344aabbccddeeff0011");
  });

  test("a malformed OPT leaves no cookie to answer with", () => {
    const [v, q] = parse(queryWithOpt([...cookieOption("2464c4abcf10c957"), ...option(65001, [1], 2)]));
    expect(v).toBe(1);
    expect(q.cookie).toBe(Cookie.NONE);
  });

  test("QDCOUNT=0 with a COOKIE is a request for a server cookie (RFC 7873 5.4)", () => {
    const [v, q] = parse(queryWithOpt(cookieOption("2464c4abcf10c957"), { qd: 0 }));
    expect(v).toBe(Verdict.COOKIE_ONLY);
    expect(q.hasQuestion).toBe(false);
    expect(q.cookie).toBe(Cookie.CLIENT);
  });

  test("QDCOUNT=0 with an OPT but no COOKIE is FORMERR", () => {
    expect(parse(queryWithOpt(option(65001, [1]), { qd: 0 }))[0]).toBe(1);
    expect(parse(queryWithOpt([], { qd: 0 }))[0]).toBe(1);
  });

  test("QDCOUNT=0 with a COOKIE in EDNS version 1 is BADVERS", () => {
    expect(parse(queryWithOpt(cookieOption("2464c4abcf10c957"), { qd: 0, version: 1 }))[0]).toBe(16);
  });

  test("reset() keeps the peer the transport set, and clears the cookie", () => {
    const q = new QueryInfo();
    q.peer = "192.0.2.1";
    const msg = queryWithOpt(cookieOption("2464c4abcf10c957"));
    parseQuery(msg, msg.length, q);
    q.reset();
    expect(q.peer).toBe("192.0.2.1");
    expect(q.cookie).toBe(Cookie.NONE);
  });

  test("copyFrom carries the peer and the cookies", () => {
    const [, q] = parse(queryWithOpt(cookieOption("2464c4abcf10c957 0100000011223344 aabbccddeeff0011")));
    q.peer = "2001:db8::1";
    const c = new QueryInfo().copyFrom(q);
    expect(c.peer).toBe("2001:db8::1");
    expect(c.cookie).toBe(q.cookie);
    expect(c.serverCookieLen).toBe(16);
    expect(toHex(c.cookieData.subarray(0, 24))).toBe("2464c4abcf10c9570100000011223344aabbccddeeff0011");
  });
});
