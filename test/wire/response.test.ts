import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cookieClock } from "../../src/wire/cookie";
import { Rcode } from "../../src/wire/constants";
import { Cookie, parseQuery, QueryInfo, Verdict } from "../../src/wire/query";
import { beginResponse, errorResponse, finishResponse, OPT_LEN, optLen, truncateTo, writeOpt } from "../../src/wire/response";
import { decode, makeQuery } from "../helpers/dns";
import { cookieOf, cookieOption, queryWithOpt, slotWith } from "./edns";

const realClock = cookieClock.now;
const T = 0x5cf79f11;
beforeAll(() => (cookieClock.now = () => T));
afterAll(() => (cookieClock.now = realClock));

const CLIENT = "2464c4abcf10c957";

/** The slot and QueryInfo of `msg` received from `peer`. */
function received(msg: Uint8Array, peer = "192.0.2.1"): [Uint8Array, QueryInfo, number] {
  const slot = slotWith(msg);
  const q = new QueryInfo();
  q.peer = peer;
  return [slot, q, parseQuery(slot, msg.length, q)];
}

/** Checks the COOKIE option of an answer: our client cookie echoed, then a 16-byte version-1 cookie stamped T. */
function expectOurCookie(answer: Uint8Array): void {
  const c = cookieOf(answer);
  expect(c.length).toBe(2 * 24);
  expect(c.slice(0, 16)).toBe(CLIENT);
  expect(c.slice(16, 32)).toBe("01000000" + T.toString(16).padStart(8, "0"));
}

describe("our OPT without options (the cheap path)", () => {
  test("a query without options gets exactly the 11-byte OPT it always got", () => {
    const [slot, q] = received(makeQuery("example.com", "A", { edns: 4096, dnssec: true }));
    const n = finishResponse(slot, beginResponse(slot, q, 0, true), q, 0, 0, 0);
    expect(n).toBe(q.questionEnd + OPT_LEN);
    expect([...slot.subarray(q.questionEnd, n)]).toEqual([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    expect(optLen(q)).toBe(OPT_LEN);
  });

  test("unknown options in the query add nothing to our OPT", () => {
    const [slot, q] = received(queryWithOpt([0xfd, 0xe9, 0, 1, 7]));
    const n = finishResponse(slot, beginResponse(slot, q, 0, true), q, 0, 0, 0);
    expect(n - q.questionEnd).toBe(OPT_LEN);
  });

  test("writeOpt without the query (our upstream queries) never carries a client's cookie", () => {
    const buf = new Uint8Array(64);
    expect(writeOpt(buf, 0, 0, false)).toBe(OPT_LEN);
    expect(buf[10]).toBe(0);
  });
});

describe("answering a query that carried a cookie (RFC 7873 5.2)", () => {
  test("optLen counts the COOKIE option: 11 + 4 + 8 + 16 bytes", () => {
    const [, q] = received(queryWithOpt(cookieOption(CLIENT)));
    expect(optLen(q)).toBe(39);
  });

  test("finishResponse echoes the client cookie with a fresh server cookie", () => {
    const [slot, q] = received(queryWithOpt(cookieOption(CLIENT)));
    const n = finishResponse(slot, beginResponse(slot, q, 0, true), q, 0, 0, 0);
    expect(n - q.questionEnd).toBe(optLen(q));
    expectOurCookie(slot.subarray(0, n));
  });

  test("a bad server cookie is answered normally, with a fresh one", () => {
    const [slot, q] = received(queryWithOpt(cookieOption(CLIENT + "0100000011223344aabbccddeeff0011")));
    expect(q.cookie).toBe(Cookie.BAD);
    const n = finishResponse(slot, beginResponse(slot, q, 0, true), q, 0, 0, 0);
    expect(decode(slot.subarray(0, n)).rcode).toBe("NOERROR");
    expectOurCookie(slot.subarray(0, n));
  });

  test("errorResponse carries the cookie", () => {
    const [slot, q] = received(queryWithOpt(cookieOption(CLIENT)));
    const n = errorResponse(slot, q, Rcode.SERVFAIL);
    expect(decode(slot.subarray(0, n)).rcode).toBe("SERVFAIL");
    expectOurCookie(slot.subarray(0, n));
  });

  test("a BADVERS answer carries the cookie", () => {
    const [slot, q, v] = received(queryWithOpt(cookieOption(CLIENT), { version: 1 }));
    expect(v).toBe(Rcode.BADVERS);
    const n = errorResponse(slot, q, v);
    expect(slot[q.questionEnd + 5]).toBe(1); // extended rcode 16 >> 4
    expectOurCookie(slot.subarray(0, n));
  });

  test("truncateTo keeps the cookie in the cut answer", () => {
    const [slot, q] = received(queryWithOpt(cookieOption(CLIENT)));
    const off = beginResponse(slot, q, 0, true);
    slot.fill(0xab, off, off + 600); // stands for answer records
    const n = truncateTo(slot, finishResponse(slot, off + 600, q, 0, 1, 0), q, 512);
    const m = decode(slot.subarray(0, n));
    expect(m.flag_tc).toBe(true);
    expect(n).toBe(q.questionEnd + optLen(q));
    expectOurCookie(slot.subarray(0, n));
  });

  test("a FORMERR for a malformed OPT has an OPT but no cookie", () => {
    const [slot, q, v] = received(queryWithOpt([...cookieOption(CLIENT), ...cookieOption(CLIENT)]));
    const n = errorResponse(slot, q, v);
    expect(decode(slot.subarray(0, n)).rcode).toBe("FORMERR");
    expect(n - q.questionEnd).toBe(OPT_LEN);
  });
});

describe("a request for a server cookie (QDCOUNT=0, RFC 7873 5.4)", () => {
  test("is answered NOERROR with the cookie and no question", () => {
    const [slot, q, v] = received(queryWithOpt(cookieOption(CLIENT), { qd: 0, id: 777 }));
    expect(v).toBe(Verdict.COOKIE_ONLY);
    const n = errorResponse(slot, q, Rcode.NOERROR);
    expect(n).toBe(12 + optLen(q));
    const m = decode(slot.subarray(0, n));
    expect(m.id).toBe(777);
    expect(m.type).toBe("response");
    expect(m.rcode).toBe("NOERROR");
    expect(m.questions).toEqual([]);
    expectOurCookie(slot.subarray(0, n));
  });

  test("errorResponse takes the COOKIE_ONLY verdict itself for NOERROR", () => {
    const [a, qa] = received(queryWithOpt(cookieOption(CLIENT), { qd: 0 }));
    const [b, qb, v] = received(queryWithOpt(cookieOption(CLIENT), { qd: 0 }));
    const n = errorResponse(a, qa, Rcode.NOERROR);
    expect(errorResponse(b, qb, v)).toBe(n);
    expect([...b.subarray(0, n)]).toEqual([...a.subarray(0, n)]);
  });
});

describe("EDNS padding on encrypted transports (RFC 7830, RFC 8467)", () => {
  test("an answer to a query that came over TLS or HTTPS ends on a 468-byte boundary, padded with zeros", async () => {
    const { QueryInfo: Q, parseQuery: parse } = await import("../../src/wire/query");
    const { finishResponse: finish, beginResponse: begin } = await import("../../src/wire/response");
    const { makeQuery } = await import("../helpers/dns");
    const query = makeQuery("pad.example", "A", { edns: 1232 });
    const slot = new Uint8Array(4096);
    slot.set(query);
    const q = new Q();
    q.encrypted = true;
    parse(slot, query.length, q);
    const n = finish(slot, begin(slot, q, 0, false), q, 0, 0, 0);
    expect(n).toBe(468);
    const opt = q.questionEnd;
    const rdlen = (slot[opt + 9]! << 8) | slot[opt + 10]!;
    expect(rdlen).toBe(n - opt - 11);
    expect((slot[opt + 11]! << 8) | slot[opt + 12]!).toBe(12); // PADDING
    expect([...slot.subarray(opt + 15, n)].every((b) => b === 0)).toBe(true);
  });
  test("over UDP and TCP there is no padding: the OPT stays 11 bytes", async () => {
    const { QueryInfo: Q, parseQuery: parse } = await import("../../src/wire/query");
    const { finishResponse: finish, beginResponse: begin } = await import("../../src/wire/response");
    const { makeQuery } = await import("../helpers/dns");
    const query = makeQuery("pad.example", "A", { edns: 1232 });
    const slot = new Uint8Array(4096);
    slot.set(query);
    const q = new Q();
    parse(slot, query.length, q);
    expect(finish(slot, begin(slot, q, 0, false), q, 0, 0, 0)).toBe(q.questionEnd + 11);
  });
});
