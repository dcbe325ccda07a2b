import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { Cookie, cookieClock, parseIp, setCookieSecret } from "../../src/wire/cookie";
import { parseQuery, QueryInfo } from "../../src/wire/query";
import { beginResponse, finishResponse } from "../../src/wire/response";
import { cookieOf, cookieOption, hex, queryWithOpt, slotWith, toHex } from "./edns";

const realClock = cookieClock.now;
const SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"; // RFC 9018 Appendix A.1-A.3
const T = 1559731985; // Wed Jun  5 10:53:05 UTC 2019 (A.1)

beforeEach(() => {
  setCookieSecret(hex(SECRET));
  cookieClock.now = () => T;
});
afterAll(() => {
  cookieClock.now = realClock;
  setCookieSecret(crypto.getRandomValues(new Uint8Array(16)));
});

/** Parses a query for example.com carrying `cookie` (hex) from `peer` at time `now`; returns the verdict on it. */
function receive(cookie: string, peer: string, now = T): QueryInfo {
  cookieClock.now = () => now;
  const msg = queryWithOpt(cookieOption(cookie));
  const q = new QueryInfo();
  q.peer = peer;
  parseQuery(msg, msg.length, q);
  return q;
}

/** Our answer's COOKIE option (hex) to `q`, written at time `now`. */
function answerCookie(q: QueryInfo, now = T): string {
  cookieClock.now = () => now;
  const slot = slotWith(queryWithOpt(cookieOption(toHex(q.cookieData.subarray(0, 8)))));
  return cookieOf(slot.subarray(0, finishResponse(slot, beginResponse(slot, q, 0, true), q, 0, 0, 0)));
}

describe("RFC 9018 Appendix A", () => {
  test("A.1: a client cookie alone from 198.51.100.100 gets the server cookie 010000005cf79f111f8130c3eee29480", () => {
    const q = receive("2464c4abcf10c957", "198.51.100.100");
    expect(q.cookie).toBe(Cookie.CLIENT);
    expect(answerCookie(q)).toBe("2464c4abcf10c957" + "010000005cf79f111f8130c3eee29480");
  });

  test("A.2: forty minutes later that cookie is good, and the answer renews it", () => {
    const later = 1559734385;
    const q = receive("2464c4abcf10c957" + "010000005cf79f111f8130c3eee29480", "198.51.100.100", later);
    expect(q.cookie).toBe(Cookie.GOOD);
    expect(answerCookie(q, later)).toBe("2464c4abcf10c957" + "010000005cf7a871d4a564a1442aca77");
  });

  test("A.3: reserved bytes are hashed as sent, and the answer is a fresh cookie with them zero", () => {
    const sent = "fc93fc62807ddb86" + "01abcdef5cf78f71a314227b6679ebf5"; // made at 1559727985
    expect(receive(sent, "203.0.113.203", 1559727985 + 60).cookie).toBe(Cookie.GOOD);
    // At A.3's own time the cookie is 6715 s old: past the one-hour window of 4.3, yet answered all the same.
    const q = receive(sent, "203.0.113.203", 1559734700);
    expect(q.cookie).toBe(Cookie.BAD);
    expect(answerCookie(q, 1559734700)).toBe("fc93fc62807ddb86" + "010000005cf7a9acf73a7810aca2381e");
  });

  test("A.4: an IPv6 client's cookie verifies under the old secret, and the new secret makes the fresh one", () => {
    setCookieSecret(hex("dd3bdf9344b678b185a6f5cb60fca715"));
    const q = receive("22681ab97d52c298" + "010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961);
    expect(q.cookie).toBe(Cookie.GOOD);
    setCookieSecret(hex("445536bcd2513298075a5d379663c962"));
    expect(answerCookie(q, 1559741961)).toBe("22681ab97d52c298" + "010000005cf7c609a6bb79d16625507a");
  });
});

describe("verifying a server cookie", () => {
  const client = "0123456789abcdef";
  /** The server cookie we hand `peer` for `client` at time `at`. */
  const issued = (peer: string, at = T) => answerCookie(receive(client, peer, at), at).slice(16);

  test("one we made verifies for the same client cookie and address", () => {
    expect(receive(client + issued("192.0.2.7"), "192.0.2.7").cookie).toBe(Cookie.GOOD);
  });

  test("it does not verify from another address", () => {
    expect(receive(client + issued("192.0.2.7"), "192.0.2.8").cookie).toBe(Cookie.BAD);
    expect(receive(client + issued("2001:db8::7"), "2001:db8::8").cookie).toBe(Cookie.BAD);
  });

  test("it does not verify with another client cookie", () => {
    expect(receive("0123456789abcdee" + issued("192.0.2.7"), "192.0.2.7").cookie).toBe(Cookie.BAD);
  });

  test("it does not verify under another secret", () => {
    const cookie = issued("192.0.2.7");
    setCookieSecret(hex("00112233445566778899aabbccddeeff"));
    expect(receive(client + cookie, "192.0.2.7").cookie).toBe(Cookie.BAD);
  });

  test("it verifies up to an hour old and not after (RFC 9018 4.3)", () => {
    const cookie = issued("192.0.2.7");
    expect(receive(client + cookie, "192.0.2.7", T + 3600).cookie).toBe(Cookie.GOOD);
    expect(receive(client + cookie, "192.0.2.7", T + 3601).cookie).toBe(Cookie.BAD);
  });

  test("it verifies up to five minutes in the future and not beyond", () => {
    const cookie = issued("192.0.2.7");
    expect(receive(client + cookie, "192.0.2.7", T - 300).cookie).toBe(Cookie.GOOD);
    expect(receive(client + cookie, "192.0.2.7", T - 301).cookie).toBe(Cookie.BAD);
  });

  test("the timestamp compares as a serial number across the 32-bit wrap", () => {
    const cookie = issued("192.0.2.7", 0xffffff00);
    expect(receive(client + cookie, "192.0.2.7", 0x100).cookie).toBe(Cookie.GOOD);
  });

  test("a tampered hash, another version, or another length is bad", () => {
    const cookie = issued("192.0.2.7");
    const flipped = cookie.slice(0, 31) + (cookie[31] === "0" ? "1" : "0");
    expect(receive(client + flipped, "192.0.2.7").cookie).toBe(Cookie.BAD);
    expect(receive(client + "02" + cookie.slice(2), "192.0.2.7").cookie).toBe(Cookie.BAD);
    expect(receive(client + cookie + "00", "192.0.2.7").cookie).toBe(Cookie.BAD);
    expect(receive(client + cookie.slice(0, 16), "192.0.2.7").cookie).toBe(Cookie.BAD);
  });

  test("an IPv4-mapped address and the plain IPv4 address are the same client", () => {
    expect(receive(client + issued("::ffff:192.0.2.7"), "192.0.2.7").cookie).toBe(Cookie.GOOD);
  });

  test("alternating peers never mix up their addresses", () => {
    const a = issued("192.0.2.7");
    const b = issued("2001:db8::1");
    expect(receive(client + a, "192.0.2.7").cookie).toBe(Cookie.GOOD);
    expect(receive(client + b, "2001:db8::1").cookie).toBe(Cookie.GOOD);
    expect(receive(client + a, "2001:db8::1").cookie).toBe(Cookie.BAD);
  });

  test("a secret must be 16 bytes", () => {
    expect(() => setCookieSecret(new Uint8Array(8))).toThrow(RangeError);
  });
});

describe("reading the peer's address", () => {
  const ip = (s: string) => {
    const out = new Uint8Array(16);
    return toHex(out.subarray(0, parseIp(s, out, 0)));
  };

  test("IPv4 is its 4 bytes", () => {
    expect(ip("198.51.100.100")).toBe("c6336464");
    expect(ip("0.0.0.0")).toBe("00000000");
  });

  test("IPv6 is its 16 bytes, with :: expanded wherever it stands", () => {
    expect(ip("2001:db8:220:1:59de:d0f4:8769:82b8")).toBe("20010db80220000159ded0f4876982b8");
    expect(ip("::1")).toBe("00000000000000000000000000000001");
    expect(ip("::")).toBe("00000000000000000000000000000000");
    expect(ip("2001:db8::")).toBe("20010db8000000000000000000000000");
    expect(ip("2001:DB8::8:800:200C:417A")).toBe("20010db80000000000080800200c417a");
  });

  test("an IPv4-mapped address is its IPv4 address; a zone index is ignored", () => {
    expect(ip("::ffff:192.0.2.7")).toBe("c0000207");
    expect(ip("::ffff:c000:207")).toBe("c0000207");
    expect(ip("fe80::1%eth0")).toBe("fe800000000000000000000000000001");
  });

  test("text that is not an address is no address", () => {
    for (const s of ["", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":1", "1:"]) {
      expect(`${s}: ${ip(s)}`).toBe(`${s}: `);
    }
  });
});
