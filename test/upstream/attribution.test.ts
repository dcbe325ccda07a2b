// Failures are charged to the upstream whose exchange had them, however many other exchanges are in flight.
import { afterEach, describe, expect, test } from "bun:test";
import { UpstreamCounters } from "../../src/metrics/counters";
import { setLogLevel, setLogSink } from "../../src/metrics/log";
import { openExchanges } from "../../src/upstream/transport";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { makeForwarder, makePool } from "../helpers/pipeline";
import { StandIn } from "../helpers/upstream";

const standIns: StandIn[] = [];
afterEach(() => {
  for (const s of standIns.splice(0)) s.close();
});

describe("failure attribution under concurrency", () => {
  test("each upstream's breaker and figures count only its own failures while many forwards overlap", async () => {
    const silent = await StandIn.start({ silent: true });
    const answering = await StandIn.start({ delayMs: () => 30 });
    standIns.push(silent, answering);
    // Nothing listens on port 9 of loopback: every datagram there is refused (ICMP port unreachable).
    const refusing = "127.0.0.1:9";
    const { pool } = makePool([silent.address, refusing, answering.address], {
      strategy: "ordered",
      breaker_failures: 10_000, breaker_open_ms: 60_000, breaker_max_open_ms: 60_000,
    });
    const counters = new UpstreamCounters();
    const f = makeForwarder([], { pool, timeouts: { upstream_ms: 100 } }, counters);
    const n = 40;
    const names = Array.from({ length: n }, (_, i) => `attr${i}.example`);
    const results = await Promise.all(
      names.map(async (name) => {
        const bytes = makeQuery(name);
        const q = new QueryInfo();
        parseQuery(bytes, bytes.length, q);
        const r = await f.forward(bytes, q, Date.now() + 3000, new AbortController().signal);
        return r ? decode(r.resp).answers[0]?.data : null;
      }),
    );
    expect(results).toEqual(names.map(addrFor));
    const [s, r, a] = pool.defaults;
    // Every forward tried the silent one, then the refusing one, then got its answer.
    expect({ failures: a!.failures, timeouts: a!.timeouts, consecutive: a!.breaker.consecutiveFailures, state: a!.state }).toEqual({
      failures: 0,
      timeouts: 0,
      consecutive: 0,
      state: "closed",
    });
    expect(a!.srttMs).toBeGreaterThan(0);
    expect({ failures: s!.failures, timeouts: s!.timeouts }).toEqual({ failures: n, timeouts: n });
    expect(silent.count("udp")).toBe(n);
    expect({ failures: r!.failures, timeouts: r!.timeouts }).toEqual({ failures: n, timeouts: 0 });
    expect(s!.srttMs).toBe(0);
    expect(r!.srttMs).toBe(0);
    expect(counters.timeouts).toBe(n);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("each failed attempt logs one debug line naming the upstream and how it failed", async () => {
    const silent = await StandIn.start({ silent: true });
    const answering = await StandIn.start({ rcode: "SERVFAIL" });
    standIns.push(silent, answering);
    const { pool } = makePool([silent.address, "127.0.0.1:9", answering.address], { strategy: "ordered" });
    const f = makeForwarder([], { pool, timeouts: { upstream_ms: 50 } });
    const lines: Array<Record<string, unknown>> = [];
    const prev = setLogSink((line) => lines.push(JSON.parse(line)));
    setLogLevel("debug");
    try {
      const bytes = makeQuery("logged.example");
      const q = new QueryInfo();
      parseQuery(bytes, bytes.length, q);
      await f.forward(bytes, q, Date.now() + 1000, new AbortController().signal);
    } finally {
      setLogLevel("info");
      setLogSink(prev);
    }
    const failed = lines.filter((l) => l.msg === "upstream attempt failed").map((l) => `${l.upstream} ${l.failure}${l.rcode === undefined ? "" : ` ${l.rcode}`}`);
    expect(failed.slice(0, 3)).toEqual([`${silent.address} timeout`, "127.0.0.1:9 refused", `${answering.address} rcode 2`]);
    expect(failed.length).toBe(6); // two rounds over the three
  });
});
