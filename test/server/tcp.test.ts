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

  test("a slowloris (partial length prefix, then silence) is cut at the message deadline, UDP unaffected", async () => {
    const { app } = await setup((cfg) => (cfg.timeouts.tcp_message_ms = 500));
    const c = await client(app);
    c.write(new Uint8Array([0]));
    const t0 = Date.now();
    const r = await udpAsk(app.port, makeQuery("a.lan"));
    expect(decode(r!).answers![0]!.data).toBe("10.0.0.5");
    expect(await c.waitClosed(4000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(app.counters.tcpMessageTimeouts).toBe(1);
  });

  test("a message trickling in a byte at a time is cut at the message deadline, though each byte resets the idle timer", async () => {
    const { app } = await setup((cfg) => {
      cfg.timeouts.tcp_message_ms = 600;
      cfg.timeouts.tcp_idle_ms = 10_000;
    });
    const c = await client(app);
    const bytes = frame(makeQuery("a.lan", "A", { id: 1 }));
    const t0 = Date.now();
    for (let i = 0; i < bytes.length - 1 && !c.closed; i++) {
      c.write(bytes.subarray(i, i + 1));
      await sleep(100);
    }
    expect(c.closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(app.counters.tcpMessageTimeouts).toBe(1);
    expect(c.messages.length).toBe(0);
  });

  test("whole messages held back by the in-flight cap are not cut by the message deadline", async () => {
    const { app } = await setup((cfg) => {
      cfg.timeouts.tcp_message_ms = 200;
      cfg.tcp.max_inflight_per_connection = 1;
    }, { delayMs: () => 300 });
    const c = await client(app);
    c.write(new Uint8Array([...frame(makeQuery("h1.example", "A", { id: 1 })), ...frame(makeQuery("h2.example", "A", { id: 2 }))]));
    await c.waitFor(2, 3000);
    expect(c.messages.map((m) => decode(m).id)).toEqual([1, 2]);
    expect(app.counters.tcpMessageTimeouts).toBe(0);
  });

  test("a client that half-closes after its query still gets the answer of a miss, then the connection closes", async () => {
    const { app } = await setup(() => {}, { delayMs: () => 200 });
    const c = await client(app);
    c.write(frame(makeQuery("late.example", "A", { id: 42 })));
    c.shutdownWrite();
    await c.waitFor(1, 3000);
    expect(decode(c.messages[0]!).answers[0]!.data).toBe(addrFor("late.example"));
    expect(await c.waitClosed(2000)).toBe(true);
  });

  test("the idle timeout shrinks as the connection table fills", async () => {
    const { app } = await setup((cfg) => {
      cfg.tcp.max_connections = 10;
      cfg.timeouts.tcp_idle_ms = 10_000;
    });
    const tcp = app.tcp[0]!;
    for (let i = 0; i < 5; i++) await client(app);
    await sleep(50);
    expect(tcp.idleLimitMs()).toBe(10_000);
    for (let i = 0; i < 5; i++) await client(app);
    await sleep(50);
    expect(tcp.idleLimitMs()).toBe(500);
  });

  test("a full connection table closes its longest-idle connection to admit a new one (RFC 7766 6.2.3)", async () => {
    const { app } = await setup((cfg) => (cfg.tcp.max_connections = 3));
    const cs: TcpClient[] = [];
    for (let i = 0; i < 5; i++) {
      cs.push(await client(app));
      await sleep(20); // an order of idleness
    }
    await sleep(100);
    expect(cs.map((c) => c.closed)).toEqual([true, true, false, false, false]);
    expect(app.counters.tcpIdleClosed).toBe(2);
    expect(app.counters.tcpRejected).toBe(0);
    cs[4]!.write(frame(makeQuery("a.lan", "A", { id: 5 })));
    await cs[4]!.waitFor(1);
    expect(decode(cs[4]!.messages[0]!).answers[0]!.data).toBe("10.0.0.5");
  });

  test("a full table of busy connections (queries in flight) refuses a new one", async () => {
    const { app } = await setup((cfg) => (cfg.tcp.max_connections = 2), { silent: true });
    for (let i = 0; i < 2; i++) (await client(app)).write(frame(makeQuery(`busy${i}.example`)));
    await sleep(50);
    const late = await client(app);
    expect(await late.waitClosed(1000)).toBe(true);
    expect(app.counters.tcpRejected).toBe(1);
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
