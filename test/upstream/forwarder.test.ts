import { afterEach, describe, expect, test } from "bun:test";
import { UpstreamCounters } from "../../src/metrics/counters";
import type { Forwarder } from "../../src/upstream/forwarder";
import { makeForwarder } from "../helpers/pipeline";
import { openExchanges } from "../../src/upstream/transport";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { StandIn, type StandInOptions } from "../helpers/upstream";
import { FakeClock } from "../helpers/clock";
import { eventually, turn } from "../helpers/wait";

const standIns: StandIn[] = [];
afterEach(() => {
  for (const s of standIns.splice(0)) s.close();
});

async function standIn(opts: StandInOptions = {}) {
  const s = await StandIn.start(opts);
  standIns.push(s);
  return s;
}
const up = (port: number) => `127.0.0.1:${port}`;

async function forward(f: Forwarder, name: string, timeoutMs = 1000, type = "A") {
  const bytes = makeQuery(name, type);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  const ac = new AbortController();
  const deadline = Date.now() + timeoutMs;
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const t0 = Date.now();
  const resp = await f.forward(bytes, q, deadline, ac.signal);
  clearTimeout(timer);
  return { resp: resp ? decode(resp.resp) : null, ms: Date.now() - t0 };
}

/** forward() on a FakeClock: the deadline and its abort are the clock's. */
function forwardOn(clock: FakeClock, f: Forwarder, name: string, timeoutMs: number) {
  const bytes = makeQuery(name);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  const ac = new AbortController();
  clock.after(timeoutMs, () => ac.abort());
  return f.forward(bytes, q, clock.now() + timeoutMs, ac.signal).then((r) => (r ? decode(r.resp) : null));
}

describe("forwarding to upstreams", () => {
  test("the upstream's answer comes back, asked with a random ID and RD set", async () => {
    const s = await standIn();
    const f = makeForwarder([up(s.port)], { timeouts: { upstream_ms: 500 } }, new UpstreamCounters());
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const { resp } = await forward(f, `n${i}.example`);
      expect(resp!.answers![0]!.data).toBe(addrFor(`n${i}.example`));
    }
    for (const r of s.received) ids.add(r.id);
    expect(ids.size).toBeGreaterThan(15); // random, not sequential or fixed
    expect(new Set(s.received.map((r) => r.port)).size).toBeGreaterThan(15); // a fresh source port each time
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("a truncated UDP answer is retried over TCP", async () => {
    const s = await standIn({ truncateUdp: true });
    const counters = new UpstreamCounters();
    const f = makeForwarder([up(s.port)], { timeouts: { upstream_ms: 500 } }, counters);
    const { resp } = await forward(f, "big.example");
    expect(resp!.flag_tc).toBe(false);
    expect(resp!.answers![0]!.data).toBe(addrFor("big.example"));
    expect(s.count("udp")).toBe(1);
    expect(s.count("tcp")).toBe(1);
    expect(counters.tcpRetries).toBe(1);
  });

  test("spoofed answers (wrong ID, wrong question, wrong port) are ignored; the real one is taken", async () => {
    const s = await standIn({ spoof: ["wrong-id", "wrong-question", "wrong-port"] });
    const counters = new UpstreamCounters();
    const f = makeForwarder([up(s.port)], { timeouts: { upstream_ms: 800 } }, counters);
    for (let i = 0; i < 5; i++) {
      const { resp } = await forward(f, `s${i}.example`);
      expect(resp!.answers!.map((a) => a.data)).toEqual([addrFor(`s${i}.example`)]);
    }
    // Wrong-port forgeries never reach a connected socket; the other two are seen and thrown away.
    expect(counters.mismatched).toBe(10);
  });

  test("a silent upstream is abandoned for the next one when its attempt times out", async () => {
    const silent = await standIn({ silent: true });
    const good = await standIn();
    const clock = new FakeClock();
    const f = makeForwarder([up(silent.port), up(good.port)], { timeouts: { upstream_ms: 150 } }, new UpstreamCounters(), clock);
    const pending = forwardOn(clock, f, "next.example", 1500);
    expect(await eventually(() => silent.count() === 1)).toBe(true);
    clock.advance(149);
    await turn();
    expect(good.count()).toBe(0); // still waiting on the silent one
    clock.advance(1);
    const resp = await pending;
    expect(resp!.answers![0]!.data).toBe(addrFor("next.example"));
    expect(good.count()).toBe(1);
  });

  test("a SERVFAIL from one upstream sends the question to the next", async () => {
    const bad = await standIn({ rcode: "SERVFAIL" });
    const good = await standIn();
    const f = makeForwarder([up(bad.port), up(good.port)], { timeouts: { upstream_ms: 300 } }, new UpstreamCounters());
    const { resp } = await forward(f, "fallback.example");
    expect(resp!.rcode).toBe("NOERROR");
    expect(resp!.answers[0]!.data).toBe(addrFor("fallback.example"));
    expect(bad.count()).toBe(1);
    expect(good.count()).toBe(1);
  });

  test("when every upstream is silent, forwarding gives up at the deadline and leaves nothing open", async () => {
    const silent = await standIn({ silent: true });
    const counters = new UpstreamCounters();
    const clock = new FakeClock();
    const f = makeForwarder([up(silent.port)], { timeouts: { upstream_ms: 1000 } }, counters, clock);
    const pending = forwardOn(clock, f, "slow.example", 300);
    expect(await eventually(() => silent.count() === 1)).toBe(true);
    clock.advance(300); // the deadline, before the 1000 ms attempt is over
    expect(await pending).toBeNull();
    expect(silent.count()).toBe(1);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
    expect(counters.cancelled).toBe(1);
    expect(counters.timeouts).toBe(0);
  });
});
