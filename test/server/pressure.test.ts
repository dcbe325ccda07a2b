// Cheap answers never wait behind misses: a flood of misses to a silent upstream, over UDP and over TCP, while a
// cached name is asked again and again (issue: ring slots held by misses starved cache hits).
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sleep } from "../../src/lifecycle/tasks";
import { decode, frame, makeQuery, TcpClient, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { StandIn } from "../helpers/upstream";

setDefaultTimeout(30_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** bunbound with a working default upstream and a silent one for `slow.example`, hot.example already cached. */
async function setup() {
  const up = await StandIn.start();
  const silent = await StandIn.start({ silent: true });
  cleanup.push(() => up.close(), () => silent.close());
  const app = await startApp({ upstream: [up.address] }, (c) => {
    c.forward = [{ zone: "slow.example", upstreams: [silent.address] }];
  });
  cleanup.push(() => app.shutdown());
  expect(decode((await udpAsk(app.port, makeQuery("hot.example")))!).rcode).toBe("NOERROR");
  return { app, up, silent };
}

/** Asks hot.example every `everyMs` while `busy` runs; resolves to each answer's rcode and latency. */
async function askWhile(port: number, busy: Promise<unknown>, everyMs: number, count: number) {
  const results: Array<{ rcode: string; ms: number }> = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const a = await udpAsk(port, makeQuery("hot.example"), 1000);
    results.push({ rcode: a ? decode(a).rcode : "none", ms: performance.now() - t0 });
    await sleep(everyMs);
  }
  await busy;
  return results;
}

describe("cheap answers under a flood of misses", () => {
  test("UDP: a cached name is answered every time while 6,000 misses to a silent upstream wait", async () => {
    const { app, silent } = await setup();
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data() {} } });
    cleanup.push(() => sock.close());
    const flood = (async () => {
      for (let i = 0; i < 6000; i++) {
        sock.send(makeQuery(`m${i}.slow.example`), app.port, "127.0.0.1");
        if (i % 60 === 59) await sleep(10); // 6,000 in about a second
      }
    })();
    const results = await askWhile(app.port, flood, 100, 20);
    expect(results.filter((r) => r.rcode === "NOERROR").length).toBe(20);
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(250);
    expect(app.counters.ringExhausted).toBe(0);
    expect(silent.count()).toBeGreaterThan(3000); // the misses really were waiting on the silent upstream
    expect(app.requests.pending).toBeLessThanOrEqual(app.config.pending.max_queries);
  });

  test("TCP: a fresh connection's cached query is answered at once while 20 connections × 40 pipelined misses wait", async () => {
    const { app } = await setup();
    const conns = await Promise.all(Array.from({ length: 20 }, () => TcpClient.open(app.port)));
    cleanup.push(() => conns.forEach((c) => c.close()));
    conns.forEach((c, k) => c.write(new Uint8Array(Array.from({ length: 40 }, (_, i) => [...frame(makeQuery(`t${k}-${i}.slow.example`))]).flat())));
    await sleep(200);
    expect(app.tcp[0]!.inflight).toBe(20 * app.config.tcp.max_inflight_per_connection);
    for (let i = 0; i < 5; i++) {
      const fresh = await TcpClient.open(app.port);
      const t0 = performance.now();
      fresh.write(frame(makeQuery("hot.example", "A", { id: i })));
      await fresh.waitFor(1, 1000);
      expect(decode(fresh.messages[0]!).rcode).toBe("NOERROR");
      expect(performance.now() - t0).toBeLessThan(250);
      fresh.close();
    }
    expect(app.counters.ringExhausted).toBe(0);
    expect(app.tcpRing.inUse).toBe(0);
  });

  test("TCP: a fresh client is answered when the connection table is full of idle clients", async () => {
    const { app } = await setup();
    app.config.tcp.max_connections = 50;
    const idle = await Promise.all(Array.from({ length: 50 }, () => TcpClient.open(app.port)));
    cleanup.push(() => idle.forEach((c) => c.close()));
    await sleep(50);
    expect(app.tcp[0]!.connections).toBe(50);
    const fresh = await TcpClient.open(app.port);
    fresh.write(frame(makeQuery("hot.example")));
    await fresh.waitFor(1, 1000);
    expect(decode(fresh.messages[0]!).rcode).toBe("NOERROR");
    expect(app.counters.tcpRejected).toBe(0);
    expect(idle.filter((c) => c.closed).length).toBe(1);
    fresh.close();
  });
});
