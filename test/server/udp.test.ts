import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { sleep } from "../../src/lifecycle/tasks";
import { openExchanges } from "../../src/upstream/transport";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { defaults, makePipeline } from "../helpers/pipeline";
import { Ring } from "../../src/server/ring";
import { UdpServer } from "../../src/server/udp";
import { Requests } from "../../src/server/request";
import { ServerCounters } from "../../src/metrics/counters";
import type { DatagramSocket, SendBatch } from "../../src/server/datagram";
import { StandIn, type StandInOptions } from "../helpers/upstream";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

let backend: "bun" | "dgram" | "mmsg" = "bun";

async function setup(tweak: Parameters<typeof startApp>[1] = () => {}, upstreamOpts: StandInOptions = {}) {
  const up = await StandIn.start(upstreamOpts);
  cleanup.push(() => up.close());
  const app = await startApp({ upstream: [up.address] }, (c) => {
    c.udp.backend = backend;
    tweak(c);
  });
  cleanup.push(() => app.shutdown());
  return { up, app };
}

describe.each(["bun", "dgram", "mmsg"] as const)("DNS over UDP (%s backend)", (b) => {
  beforeAll(() => {
    backend = b;
  });

  test("malformed datagrams are dropped or answered FORMERR, and service goes on", async () => {
    const { app } = await setup();
    expect(await udpAsk(app.port, new Uint8Array(5), 300)).toBeNull();
    const response = makeQuery("x.example");
    response[2]! |= 0x80;
    expect(await udpAsk(app.port, response, 300)).toBeNull();
    const loop = new Uint8Array([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const r = decode((await udpAsk(app.port, loop))!);
    expect(r.rcode).toBe("FORMERR");
    expect(r.id).toBe(7);
    expect(decode((await udpAsk(app.port, makeQuery("localhost")))!).answers[0]!.data).toBe("127.0.0.1");
    expect(app.counters.dropped).toBe(2);
    expect(app.counters.formerr).toBe(1);
  });

  test("random garbage never crashes the server", async () => {
    const { app } = await setup();
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data() {} } });
    for (let i = 0; i < 2000; i++) {
      const junk = new Uint8Array(1 + Math.floor(Math.random() * 100));
      crypto.getRandomValues(junk);
      if (junk.length > 3) junk[2]! &= 0x7f;
      sock.send(junk, app.port, "127.0.0.1");
      if (i % 100 === 0) await sleep(1);
    }
    sock.close();
    await sleep(100);
    expect(decode((await udpAsk(app.port, makeQuery("localhost")))!).answers[0]!.data).toBe("127.0.0.1");
    expect(app.udpRing.inUse).toBe(0);
  });

  test("misses do not hold ring slots: with 16 slots, 30 concurrent misses are all answered and every slot comes back", async () => {
    const { app } = await setup((c) => (c.ring.udp_slots = 16), { delayMs: () => 300 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => udpAsk(app.port, makeQuery(`r${i}.example`), 1500)));
    expect(answers.filter((a) => a !== null && decode(a).rcode === "NOERROR").length).toBe(30);
    expect(app.counters.ringExhausted).toBe(0);
    expect(app.udpRing.inUse).toBe(0);
    expect(app.udpRing.violations).toBe(0);
  });

  test("a full pending table answers its oldest miss with SERVFAIL to admit a new one (drop_oldest)", async () => {
    const { app } = await setup((c) => {
      c.pending.max_queries = 16;
      c.pending.jostle_ms = 0;
    }, { delayMs: () => 300 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await sleep(i * 3); // in order: the first 14 are the oldest when the table fills
        return udpAsk(app.port, makeQuery(`p${i}.example`), 1500);
      }),
    );
    const rcodes = answers.map((a) => (a ? decode(a).rcode : "none"));
    expect(rcodes.slice(0, 14)).toEqual(Array(14).fill("SERVFAIL"));
    expect(rcodes.slice(14)).toEqual(Array(16).fill("NOERROR"));
    expect(app.counters.pendingEvicted).toBe(14);
    expect(app.requests.pending).toBe(0);
  });

  test("drop_oldest pushes out only a miss that has waited jostle_ms; until then the new one is answered at once", async () => {
    const { app } = await setup((c) => {
      c.pending.max_queries = 16;
      c.pending.jostle_ms = 150;
    }, { delayMs: () => 400 });
    const first = Array.from({ length: 16 }, (_, i) => udpAsk(app.port, makeQuery(`j${i}.example`), 1500));
    await sleep(30);
    const early = decode((await udpAsk(app.port, makeQuery("early.example"), 1500))!); // the oldest waited 30 ms
    await sleep(200);
    const late = udpAsk(app.port, makeQuery("late.example"), 1500); // the oldest has waited 230 ms
    const rcodes = (await Promise.all(first)).map((a) => decode(a!).rcode);
    expect(early.rcode).toBe("SERVFAIL");
    expect(rcodes.filter((r) => r === "SERVFAIL").length).toBe(1); // j0, pushed out by late.example
    expect(decode((await late)!).rcode).toBe("NOERROR");
    expect(app.counters.pendingRefused).toBe(1);
    expect(app.counters.pendingEvicted).toBe(1);
  });

  test("a full pending table answers the new miss with SERVFAIL at once (servfail)", async () => {
    const { app } = await setup((c) => {
      c.pending.max_queries = 16;
      c.pending.when_full = "servfail";
    }, { delayMs: () => 300 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        await sleep(i * 3);
        return udpAsk(app.port, makeQuery(`s${i}.example`), 1500);
      }),
    );
    const rcodes = answers.map((a) => (a ? decode(a).rcode : "none"));
    expect(rcodes.slice(0, 16)).toEqual(Array(16).fill("NOERROR"));
    expect(rcodes.slice(16)).toEqual(Array(14).fill("SERVFAIL"));
    expect(app.counters.pendingRefused).toBe(14);
  });

  test("an answer larger than the client's UDP size is truncated; the client's EDNS size is honoured up to 1232", async () => {
    const big = Array.from({ length: 5 }, () => '"' + "y".repeat(200) + '"').join(" ");
    const up = await StandIn.start();
    cleanup.push(() => up.close());
    const app = await startApp({ upstream: [up.address], record: [`big.lan 60 TXT ${big}`] }, (c) => (c.udp.backend = backend));
    cleanup.push(() => app.shutdown());
    const small = decode((await udpAsk(app.port, makeQuery("big.lan", "TXT")))!);
    expect(small.flag_tc).toBe(true);
    const large = decode((await udpAsk(app.port, makeQuery("big.lan", "TXT", { edns: 1232 })))!);
    expect(large.flag_tc).toBe(false);
  });

  test("a query past its deadline gets SERVFAIL and leaves no socket, timer or slot behind", async () => {
    const { app } = await setup((c) => {
      c.timeouts.query_ms = 300;
      c.timeouts.upstream_ms = 100;
    }, { silent: true });
    const t0 = Date.now();
    const r = decode((await udpAsk(app.port, makeQuery("late.example")))!);
    expect(r.rcode).toBe("SERVFAIL");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(app.pipeline.inflight).toBe(0);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
    expect(app.udpRing.inUse).toBe(0);
  });

  test("shutdown past the drain timeout cancels in-flight queries: they get SERVFAIL, then sockets close", async () => {
    const { app } = await setup((c) => (c.timeouts.drain_ms = 100), { delayMs: () => 2000 });
    const pending = udpAsk(app.port, makeQuery("stuck.example"), 3000);
    await sleep(50);
    const t0 = Date.now();
    await Promise.all([app.shutdown(), app.shutdown()]);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(decode((await pending)!).rcode).toBe("SERVFAIL");
    expect(app.inflight).toBe(0);
    expect(app.tasks.list().every((t) => t.state === "stopped")).toBe(true);
    expect(app.tasks.byCategory()).toEqual({});
    expect(await udpAsk(app.port, makeQuery("localhost"), 200)).toBeNull();
  });
});

describe("UDP send batches", () => {
  test("answers given in one receive turn leave in batches of at most 64, each slot released once, none lost", () => {
    const { pipeline } = makePipeline(["a.lan 300 A 10.0.0.1"]);
    const ring = new Ring(256, 4096, 0, true); // strict: a double release or stale use throws
    const counters = new ServerCounters();
    const udp = new UdpServer("127.0.0.1", 0, ring, new Requests(pipeline, counters, 64, () => ({ config: defaults, limit: null })), counters);
    const sizes: number[] = [];
    const ids: number[] = [];
    const sock: DatagramSocket = {
      port: 0,
      closed: false,
      flushesBatches: true,
      send: () => undefined,
      sendBatch: (b: SendBatch) => {
        sizes.push(b.count);
        for (let i = 0; i < b.count; i++) {
          expect(ring.isLive(b.slots[i]!)).toBe(true); // still owned while it is being sent
          const answer = decode(b.bufs[i]!.slice(0, b.lens[i]!));
          expect(answer.answers[0]!.data).toBe("10.0.0.1");
          expect(b.ports[i]).toBe(40000 + (answer.id % 7));
          ids.push(answer.id);
        }
        return b.count;
      },
      close: () => undefined,
    };
    const u = udp as unknown as { onDatagram: (...a: unknown[]) => void; flushBatch: () => void };
    const rbuf = new Uint8Array(150 * 512);
    for (let id = 0; id < 150; id++) {
      const q = makeQuery("a.lan", "A", { id });
      rbuf.set(q, id * 512);
      u.onDatagram(sock, rbuf, id * 512, q.length, 40000 + (id % 7), "127.0.0.1"); // one backend batch, as offsets
    }
    u.flushBatch(); // what the backend's onBatch does after its read
    expect(sizes).toEqual([64, 64, 22]);
    expect(ids).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(ring.inUse).toBe(0);
    expect(ring.violations).toBe(0);
  });
});
