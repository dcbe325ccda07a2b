// rate_limit.udp_per_ip: answers per client address over UDP, with slip, and the DNS cookie exemption.
import { afterEach, describe, expect, test } from "bun:test";
import { RateLimit } from "../../src/server/ratelimit";
import { sleep } from "../../src/lifecycle/tasks";
import { decode, tcpAsk, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { cookieOf, cookieOption, hex, queryWithOpt } from "../wire/edns";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe("the per-address bucket", () => {
  test("a burst of one second's worth goes through, then one answer per 1/rate seconds", () => {
    let now = 1000;
    const r = new RateLimit(10, 0, () => now);
    const first = Array.from({ length: 15 }, () => r.check("192.0.2.1"));
    expect(first.filter((v) => v === "ok").length).toBe(10);
    expect(first.slice(10)).toEqual(Array(5).fill("drop"));
    now += 100;
    expect(r.check("192.0.2.1")).toBe("ok");
    expect(r.check("192.0.2.1")).toBe("drop");
  });
  test("addresses have buckets of their own", () => {
    const r = new RateLimit(2, 0, () => 5);
    expect([r.check("192.0.2.1"), r.check("192.0.2.1"), r.check("192.0.2.1")]).toEqual(["ok", "ok", "drop"]);
    expect([r.check("2001:db8::1"), r.check("2001:db8::1")]).toEqual(["ok", "ok"]);
  });
  test("every slip-th limited answer is truncated instead of dropped", () => {
    const r = new RateLimit(1, 2, () => 5);
    r.check("192.0.2.1");
    expect([r.check("192.0.2.1"), r.check("192.0.2.1"), r.check("192.0.2.1"), r.check("192.0.2.1")]).toEqual(["drop", "slip", "drop", "slip"]);
  });
});

describe("rate_limit in the server", () => {
  async function app() {
    const a = await startApp({ record: ["example.com 60 A 192.0.2.7"] }, (c) => {
      c.rate_limit.udp_per_ip = 20;
      c.rate_limit.slip = 2;
    });
    cleanup.push(() => a.shutdown());
    return a;
  }
  /** Sends `n` queries from one socket and collects what comes back within 300 ms. */
  async function burst(port: number, query: (i: number) => Uint8Array, n: number) {
    const got: Uint8Array[] = [];
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", binaryType: "uint8array", socket: { data: (_s, d) => void got.push(d.slice()) } });
    for (let i = 0; i < n; i++) sock.send(query(i), port, "127.0.0.1");
    await sleep(300);
    sock.close();
    return got.map(decode);
  }

  test("past the rate, answers to one address are dropped or truncated (TC=1) by turns; TCP is not limited", async () => {
    const a = await app();
    const answers = await burst(a.port, (i) => queryWithOpt([], { id: i }), 100);
    const full = answers.filter((m) => !m.flag_tc && m.answers.length === 1).length;
    const tc = answers.filter((m) => m.flag_tc && m.answers.length === 0).length;
    expect(full).toBeGreaterThanOrEqual(20);
    expect(full).toBeLessThanOrEqual(22); // the bucket refills a little while the burst goes out
    expect(tc).toBeGreaterThanOrEqual(38);
    expect(full + tc).toBeLessThan(100);
    expect(a.counters.rateLimited).toBe(100 - full);
    const overTcp = await Promise.all(Array.from({ length: 10 }, (_, i) => tcpAsk(a.port, queryWithOpt([], { id: i }))));
    expect(overTcp.map((m) => decode(m!).answers.length)).toEqual(Array(10).fill(1));
  });

  test("a client with a good server cookie is exempt", async () => {
    const a = await app();
    const client = "0102030405060708";
    const first = (await udpAsk(a.port, queryWithOpt(cookieOption(client))))!;
    const cookie = cookieOf(first); // our client cookie and the server's
    expect(cookie.startsWith(client)).toBe(true);
    const answers = await burst(a.port, (i) => queryWithOpt(cookieOption(hex(cookie)), { id: i }), 100);
    expect(answers.filter((m) => !m.flag_tc && m.answers.length === 1).length).toBe(100);
    expect(a.counters.rateLimited).toBe(0);
  });
});
