import { describe, expect, test } from "bun:test";
import { UpstreamCounters } from "../../src/metrics/counters";
import { openExchanges, tcpExchange, udpExchange } from "../../src/upstream/transport";
import { makeQuery } from "../helpers/dns";

describe("upstream exchanges that fail", () => {
  test("a refused UDP port and a refused TCP connect each count one failure and free everything", async () => {
    // Port 9 (discard) has nothing listening on loopback here: ICMP port unreachable / RST.
    const up = { host: "127.0.0.1", port: 9, family: 4 as const, label: "127.0.0.1:9" };
    const msg = makeQuery("x.example");
    const question = msg.slice(12);
    const counters = new UpstreamCounters();
    const ac = new AbortController();
    expect(await udpExchange(up, msg, (msg[0]! << 8) | msg[1]!, question, 1000, ac.signal, counters)).toBeNull();
    expect(await tcpExchange(up, msg, (msg[0]! << 8) | msg[1]!, question, 1000, ac.signal, counters)).toBeNull();
    expect(counters.failures).toBe(2);
    expect(counters.timeouts).toBe(0);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });
});

describe("per-upstream figures", () => {
  test("a refused upstream counts failures, not timeouts", async () => {
    const { makeForwarder, makePool } = await import("../helpers/pipeline");
    const { QueryInfo, parseQuery } = await import("../../src/wire/query");
    const { pool } = makePool(["127.0.0.1:9"]);
    const f = makeForwarder([], { pool, attemptTimeoutMs: 500 });
    const bytes = makeQuery("refused.example");
    const q = new QueryInfo();
    parseQuery(bytes, bytes.length, q);
    expect(await f.forward(bytes, q, Date.now() + 1000, new AbortController().signal)).toBeNull();
    const s = pool.defaults[0]!;
    expect(s.failures).toBeGreaterThanOrEqual(3);
    expect(s.timeouts).toBe(0);
  });
});
