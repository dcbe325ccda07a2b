import { afterEach, describe, expect, test } from "bun:test";
import { sleep } from "../../src/lifecycle/tasks";
import { addrFor, decode, frame, makeQuery, TcpClient, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { StandIn } from "../helpers/upstream";
import type { App } from "../../src/app";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(tweak: Parameters<typeof startApp>[1] = () => {}, upstreamOpts: Parameters<typeof StandIn.start>[0] = {}) {
  const up = await StandIn.start(upstreamOpts);
  cleanup.push(() => up.close());
  const app = await startApp({ upstream: [up.address], record: ["a.lan 60 A 10.0.0.5"] }, tweak);
  cleanup.push(() => app.shutdown());
  return { up, app };
}

async function client(app: App & { port: number }) {
  const c = await TcpClient.open(app.port);
  cleanup.push(() => c.close());
  return c;
}

describe("DNS over TCP (RFC 7766)", () => {
  test("a length prefix and message split across single-byte writes is reassembled", async () => {
    const { app } = await setup();
    const c = await client(app);
    const bytes = frame(makeQuery("a.lan", "A", { id: 99 }));
    for (const b of bytes) {
      c.write(new Uint8Array([b]));
      await sleep(2);
    }
    await c.waitFor(1);
    const r = decode(c.messages[0]!);
    expect(r.id).toBe(99);
    expect(r.answers![0]!.data).toBe("10.0.0.5");
  });

  test("several messages in one write are all answered", async () => {
    const { app } = await setup();
    const c = await client(app);
    const parts = [1, 2, 3, 4, 5].map((id) => frame(makeQuery("a.lan", "A", { id })));
    c.write(new Uint8Array(parts.flatMap((p) => [...p])));
    await c.waitFor(5);
    expect(c.messages.map((m) => decode(m).id).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  test("pipelined queries are answered as they complete, out of order", async () => {
    const { app } = await setup(() => {}, { delayMs: (n) => (n.startsWith("slow") ? 200 : 0) });
    const c = await client(app);
    c.write(frame(makeQuery("slow.example", "A", { id: 1 })));
    c.write(frame(makeQuery("fast.example", "A", { id: 2 })));
    c.write(frame(makeQuery("a.lan", "A", { id: 3 })));
    await c.waitFor(3);
    const order = c.messages.map((m) => decode(m));
    expect(order.map((m) => m.id)).toEqual([3, 2, 1]);
    expect(order[2]!.answers![0]!.data).toBe(addrFor("slow.example"));
  });

  test("a zero-length message closes the connection", async () => {
    const { app } = await setup();
    const c = await client(app);
    c.write(new Uint8Array([0, 0]));
    expect(await c.waitClosed(2000)).toBe(true);
  });

  test("a slowloris (partial length prefix, then silence) is cut at the idle timeout, UDP unaffected", async () => {
    const { app } = await setup((cfg) => (cfg.timeouts.tcp_idle_ms = 1000));
    const c = await client(app);
    c.write(new Uint8Array([0]));
    const t0 = Date.now();
    const r = await udpAsk(app.port, makeQuery("a.lan"));
    expect(decode(r!).answers![0]!.data).toBe("10.0.0.5");
    expect(await c.waitClosed(4000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(app.counters.tcpIdleClosed).toBe(1);
  });

  test("connections over the global cap are refused", async () => {
    const { app } = await setup((cfg) => (cfg.tcp.max_connections = 3));
    const cs = await Promise.all([0, 1, 2, 3, 4].map(() => client(app)));
    await sleep(100);
    expect(cs.filter((c) => c.closed).length).toBe(2);
    expect(app.counters.tcpRejected).toBe(2);
  });

  test("the per-connection in-flight cap holds back further queries until answers go out", async () => {
    const { app, up } = await setup((cfg) => (cfg.tcp.max_inflight_per_connection = 2), { delayMs: () => 150 });
    const c = await client(app);
    for (let i = 0; i < 6; i++) c.write(frame(makeQuery(`q${i}.example`, "A", { id: i })));
    await sleep(80);
    expect(up.count()).toBe(2);
    await c.waitFor(6, 3000);
    expect(c.messages.length).toBe(6);
    expect(up.count()).toBe(6);
  });

  test("500 idle TCP connections do not stop UDP service", async () => {
    const { app } = await setup();
    const cs: TcpClient[] = [];
    for (let i = 0; i < 500; i++) cs.push(await client(app));
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      const r = await udpAsk(app.port, makeQuery("a.lan", "A", { id: i }), 1000);
      expect(decode(r!).id).toBe(i);
    }
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(cs.filter((c) => c.closed).length).toBe(0);
  });
});
