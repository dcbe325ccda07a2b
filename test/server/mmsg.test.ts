// The "mmsg" UDP backend (libc recvmmsg/sendmmsg through bun:ffi) on its own: addresses both ways, bind
// errors, SO_REUSEPORT, bursts, oversized datagrams, close. The DNS behaviour over it runs in udp.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import { sleep } from "../../src/lifecycle/tasks";
import { mmsgLoopState, mmsgUnsupported, openMmsg, type MmsgOptions } from "../../src/server/mmsg";
import { SendBatch, type DatagramSocket } from "../../src/server/datagram";
import { decode, frame, makeQuery, TcpClient, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { StandIn } from "../helpers/upstream";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** An echo server on the mmsg backend: answers each datagram with itself, QR set, batched like UdpServer. */
function echo(host: string, opts: MmsgOptions = { receive_buffer_bytes: 1 << 20, reusePort: false }, seen: Array<[string, number]> = []) {
  const out = new SendBatch(64);
  let sock!: DatagramSocket;
  sock = openMmsg(host, 0, opts, (_s, data, off, len, port, address) => {
    seen.push([address, port]);
    const copy = data.slice(off, off + len);
    copy[2]! |= 0x80;
    out.add(copy, len, port, address, 0);
  }, () => {
    if (out.count) expect(sock.sendBatch!(out)).toBe(out.count);
    out.count = 0;
  });
  cleanup.push(() => sock.close());
  return sock;
}

/** A loopback client that collects the IDs of the answers it gets. */
async function idClient() {
  const ids = new Set<number>();
  const client = await Bun.udpSocket({ hostname: "127.0.0.1", binaryType: "uint8array", socket: { data: (_c, d) => void ids.add(decode(d).id) } });
  cleanup.push(() => client.close());
  return { ids, client };
}

/** Sends `bursts` bursts of 8 queries (IDs from `firstId` up, names from `name`) to port, `gapMs` apart. */
async function sendBursts(client: Bun.udp.Socket<"uint8array">, port: number, bursts: number, firstId: number, gapMs: number, name: (id: number) => string) {
  for (let b = 0; b < bursts; b++) {
    const flat: Array<Uint8Array | number | string> = [];
    for (let i = 0; i < 8; i++) {
      const id = firstId + b * 8 + i;
      flat.push(makeQuery(name(id), "A", { id }), port, "127.0.0.1");
    }
    expect(client.sendMany(flat)).toBe(8);
    await sleep(gapMs);
  }
}

/** Waits up to 3 s for `n` answers. */
async function answered(ids: Set<number>, n: number) {
  const t0 = Date.now();
  while (ids.size < n && Date.now() - t0 < 3000) await sleep(10);
  expect(ids.size).toBe(n);
}

describe.skipIf(mmsgUnsupported() !== null)("mmsg UDP backend", () => {
  test("IPv4 and IPv6: datagrams come in with the sender's address and port, and answers go back to it", async () => {
    for (const host of ["127.0.0.1", "::1"]) {
      const seen: Array<[string, number]> = [];
      const s = echo(host, undefined, seen);
      const q = makeQuery("echo.example", "A", { id: 77 });
      const r = await udpAsk(s.port, q, 2000, host);
      expect(r).not.toBeNull();
      expect(decode(r!).id).toBe(77);
      expect(seen[0]![0]).toBe(host);
      expect(seen[0]![1]).toBeGreaterThan(0);
    }
  });

  test('"::" is dual-stack like Bun.udpSocket: an IPv4 client is seen as ::ffff:127.0.0.1 and answered', async () => {
    const seen: Array<[string, number]> = [];
    const s = echo("::", undefined, seen);
    const r = await udpAsk(s.port, makeQuery("dual.example", "A", { id: 78 }), 2000, "127.0.0.1");
    expect(decode(r!).id).toBe(78);
    expect(seen[0]![0]).toBe("::ffff:127.0.0.1");
  });

  test("binding a port in use fails with EADDRINUSE; with SO_REUSEPORT on both, two sockets share it", async () => {
    const a = echo("127.0.0.1");
    expect(() => openMmsg("127.0.0.1", a.port, { receive_buffer_bytes: 1 << 20, reusePort: false }, () => {}, () => {})).toThrow(/EADDRINUSE/);
    const shared = { receive_buffer_bytes: 1 << 20, reusePort: true };
    const b = echo("127.0.0.1", shared);
    const c = openMmsg("127.0.0.1", b.port, shared, () => {}, () => {});
    cleanup.push(() => c.close());
    expect(c.port).toBe(b.port);
  });

  test("a burst of 3,000 datagrams sent at once is received whole (SO_RCVBUF), and answers go out in batches", async () => {
    const seen: Array<[string, number]> = [];
    const s = echo("127.0.0.1", { receive_buffer_bytes: 8 << 20, reusePort: false }, seen);
    let answers = 0;
    const client = await Bun.udpSocket({ hostname: "127.0.0.1", binaryType: "uint8array", socket: { data: () => void answers++ } });
    cleanup.push(() => client.close());
    const N = 3000;
    const flat: Array<Uint8Array | number | string> = [];
    for (let i = 0; i < N; i++) flat.push(makeQuery(`b${i}.example`, "A", { id: i }), s.port, "127.0.0.1");
    expect(client.sendMany(flat)).toBe(N);
    const end = Date.now() + 3000;
    while (seen.length < N && Date.now() < end) await sleep(20);
    expect(seen.length).toBe(N); // none lost at the server, though it was busy the whole time
    expect(answers).toBeGreaterThan(0); // (the client's own small buffer may drop some of the answers)
  });

  test("an idle loop parks (the watcher worker waits for data) and the next datagram wakes it and is answered", async () => {
    const s = echo("127.0.0.1");
    for (let round = 0; round < 3; round++) {
      const before = mmsgLoopState().wakeups;
      const t0 = Date.now();
      while (!mmsgLoopState().parked && Date.now() - t0 < 2000) await sleep(10);
      expect(mmsgLoopState().parked).toBe(true);
      const r = await udpAsk(s.port, makeQuery("wake.example", "A", { id: 900 + round }), 1000);
      expect(decode(r!).id).toBe(900 + round);
      expect(mmsgLoopState().wakeups).toBe(before + 1);
      expect(mmsgLoopState().parked).toBe(false);
    }
  });

  test("coalescing waits only under load: one query at a time never waits; bursts do, and every one is answered", async () => {
    const s = echo("127.0.0.1", { receive_buffer_bytes: 4 << 20, reusePort: false, coalesce_us: 200 });
    const { ids, client } = await idClient();
    // Light traffic: each read brings one datagram, which goes out at once and the loop never waits.
    const before = mmsgLoopState().coalesced;
    for (let i = 0; i < 30; i++) {
      client.send(makeQuery(`one${i}.example`, "A", { id: i }), s.port, "127.0.0.1");
      const t0 = Date.now();
      while (!ids.has(i) && Date.now() - t0 < 1000) await sleep(1);
      expect(ids.has(i)).toBe(true);
    }
    expect(mmsgLoopState().coalesced).toBe(before);
    // Load: bursts of 8 — reads bring several, so the loop waits out windows; nothing is lost or left unanswered.
    await sendBursts(client, s.port, 50, 1000, 1, (id) => `load${id}.example`);
    await answered(ids, 30 + 400);
    expect(mmsgLoopState().coalesced).toBeGreaterThan(before);
  });

  test("in the server: udp.coalesce_us reaches the receive loop, and bursts are answered whole", async () => {
    const app = await startApp({ upstream: [], listen: ["127.0.0.1:0"] }, (c) => {
      c.udp.backend = "mmsg";
      c.udp.coalesce_us = 150;
    });
    cleanup.push(() => app.shutdown());
    const { ids, client } = await idClient();
    const before = mmsgLoopState().coalesced;
    await sendBursts(client, app.port, 25, 0, 2, () => "localhost");
    await answered(ids, 200);
    expect(mmsgLoopState().coalesced).toBeGreaterThan(before);
    expect(app.udpRing.inUse).toBe(0);
  });

  test("slices last 4 ms only while nothing else waits on the event loop; otherwise the event loop gets a turn every 1 ms", async () => {
    let other = false;
    const s = echo("127.0.0.1", { receive_buffer_bytes: 4 << 20, reusePort: false, otherWork: () => other });
    const { ids, client } = await idClient();
    const q0 = mmsgLoopState().quietSlices;
    await sendBursts(client, s.port, 20, 0, 1, (id) => `q${id}.example`);
    await answered(ids, 160);
    const q1 = mmsgLoopState().quietSlices;
    expect(q1).toBeGreaterThan(q0);
    other = true; // e.g. an upstream query in flight
    await sendBursts(client, s.port, 20, 160, 1, (id) => `q${id}.example`);
    await answered(ids, 320);
    expect(mmsgLoopState().quietSlices).toBe(q1);
  });

  test("in the server: an open TCP connection keeps slices short; once it closes they may be long again", async () => {
    const app = await startApp({ upstream: [], listen: ["127.0.0.1:0"] }, (c) => (c.udp.backend = "mmsg"));
    cleanup.push(() => app.shutdown());
    const { ids, client } = await idClient();
    const tcp = await TcpClient.open(app.port);
    tcp.write(frame(makeQuery("localhost", "A", { id: 7 })));
    await tcp.waitFor(1); // the server has the connection
    const q0 = mmsgLoopState().quietSlices;
    await sendBursts(client, app.port, 20, 0, 1, () => "localhost");
    await answered(ids, 160);
    expect(mmsgLoopState().quietSlices).toBe(q0);
    tcp.close();
    const t0 = Date.now();
    while (app.tcp[0]!.connections > 0 && Date.now() - t0 < 2000) await sleep(10);
    await sendBursts(client, app.port, 20, 160, 1, () => "localhost");
    await answered(ids, 320);
    expect(mmsgLoopState().quietSlices).toBeGreaterThan(q0);
  });

  test("in the server: while an upstream query is in flight, slices stay short", async () => {
    const up = await StandIn.start({ delayMs: () => 400 });
    cleanup.push(() => up.close());
    const app = await startApp({ upstream: [up.address], listen: ["127.0.0.1:0"] }, (c) => (c.udp.backend = "mmsg"));
    cleanup.push(() => app.shutdown());
    const { ids, client } = await idClient();
    const slow = udpAsk(app.port, makeQuery("slow.example", "A", { id: 5 }), 2000);
    const t0 = Date.now();
    while (app.pipeline.inflight === 0 && Date.now() - t0 < 1000) await sleep(1);
    const q0 = mmsgLoopState().quietSlices;
    await sendBursts(client, app.port, 20, 0, 1, () => "localhost");
    await answered(ids, 160);
    expect(app.pipeline.inflight).toBe(1); // still waiting on the upstream all along
    expect(mmsgLoopState().quietSlices).toBe(q0);
    expect(decode((await slow)!).answers.length).toBe(1);
  });

  test("while answers are awaited, an empty read parks the loop at once: the event loop is not held in poll()", async () => {
    let awaiting = false;
    const s = echo("127.0.0.1", { receive_buffer_bytes: 4 << 20, reusePort: false, awaiting: () => awaiting });
    expect(await udpAsk(s.port, makeQuery("wake.example"), 1000)).not.toBeNull();
    awaiting = true;
    expect(await udpAsk(s.port, makeQuery("again.example"), 1000)).not.toBeNull();
    // Parked within a turn or two of the answer, not after IDLE_AFTER_MS of empty slices.
    const t0 = performance.now();
    while (!mmsgLoopState().parked && performance.now() - t0 < 40) await Bun.sleep(0);
    expect(mmsgLoopState().parked).toBe(true);
    // And timers fire on time meanwhile: a 1 ms timer is not kept waiting behind the receive loop.
    const lateness: number[] = [];
    for (let i = 0; i < 20; i++) {
      const at = performance.now();
      await Bun.sleep(1);
      lateness.push(performance.now() - at - 1);
      await udpAsk(s.port, makeQuery(`t${i}.example`), 1000);
    }
    lateness.sort((a, b) => a - b);
    expect(lateness[10]!).toBeLessThan(1);
  });

  test("close is idempotent and the socket stops receiving", async () => {
    const s = echo("127.0.0.1");
    const port = s.port;
    expect(await udpAsk(port, makeQuery("x.example"), 1000)).not.toBeNull();
    s.close();
    s.close();
    expect(s.closed).toBe(true);
    expect(await udpAsk(port, makeQuery("x.example"), 300)).toBeNull();
  });

  test("in the server: datagrams larger than a ring slot are dropped and counted; IPv6 clients are logged by address", async () => {
    const app = await startApp({ upstream: [], listen: ["127.0.0.1:0"] }, (c) => {
      c.udp.backend = "mmsg";
      c.ring.udp_slot_size = 512;
    });
    cleanup.push(() => app.shutdown());
    const big = new Uint8Array(2000);
    big.set(makeQuery("big.example"));
    expect(await udpAsk(app.port, big, 300)).toBeNull();
    expect(app.counters.dropped).toBe(1);
    expect(decode((await udpAsk(app.port, makeQuery("localhost")))!).answers[0]!.data).toBe("127.0.0.1");
    expect(app.udpRing.inUse).toBe(0);

    const v6 = await startApp({ upstream: [], listen: ["[::1]:0"] }, (c) => (c.udp.backend = "mmsg"));
    cleanup.push(() => v6.shutdown());
    expect(decode((await udpAsk(v6.port, makeQuery("localhost", "AAAA"), 2000, "::1"))!).answers[0]!.data).toBe("::1");
    expect(v6.observer.log.recent(1)[0]!.client).toBe("::1");
  });
});
