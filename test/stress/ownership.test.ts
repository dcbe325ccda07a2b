// Ownership stress (seed 000 "shared buffer data race"): many concurrent queries through the upstream path,
// answered by the stand-in out of order after random delays. Every answer must carry exactly its own ID,
// its own question and the upstream's data for that name; afterwards every ring slot is free and no
// ownership violation was counted (the process runs its ring in strict mode: a violation would throw).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addrFor, frame, makeQuery, TcpClient } from "../helpers/dns";
import { startBunbound, type Running } from "../helpers/proc";
import { StandIn } from "../helpers/upstream";

setDefaultTimeout(120_000);
const UDP_QUERIES = Number(process.env.STRESS_UDP ?? 200_000);
const TCP_QUERIES = Number(process.env.STRESS_TCP ?? 100_000);
const WINDOW = 512;
const TCP_CONNS = 32;
const MIXED_QUERIES = Number(process.env.STRESS_MIXED ?? 100_000);
const MIXED_NAMES = 5000;

let up: StandIn;
let b: Running;
beforeAll(async () => {
  up = await StandIn.start({ delayMs: () => Math.floor(Math.random() * 8) });
  const dir = mkdtempSync(join(tmpdir(), "bunbound-stress-"));
  const cfg = join(dir, "stress.toml");
  // The default backend ("auto": mmsg on Linux); STRESS_BACKEND=bun or dgram runs the same checks on the others.
  writeFileSync(cfg, `log_level = "warn"\n[udp]\nbackend = "${process.env.STRESS_BACKEND ?? "auto"}"\n[ring]\nstrict = true\nudp_slots = 2048\n[timeouts]\nquery_ms = 5000\nupstream_ms = 2000\n[tcp]\nmax_inflight_per_connection = 32\n`);
  b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--upstream", up.address, "--log-level", "info"]);
});
afterAll(async () => {
  await b?.stop("SIGTERM");
  up?.close();
});

/** Reads ID, question name and the first A record's address straight from the bytes. */
function check(msg: Uint8Array, expectName: string): string | null {
  let off = 12;
  const labels: string[] = [];
  while (msg[off] !== 0) {
    const len = msg[off]!;
    labels.push(String.fromCharCode(...msg.subarray(off + 1, off + 1 + len)));
    off += len + 1;
  }
  const name = labels.join(".");
  if (name !== expectName) return `question ${name} != ${expectName}`;
  off += 5;
  const an = (msg[6]! << 8) | msg[7]!;
  if (an !== 1) return `ancount ${an} (rcode ${msg[3]! & 15})`;
  // answer owner: a pointer, or labels (dns-packet does not compress); then type(2) class(2) ttl(4) rdlen(2) rdata(4)
  if ((msg[off]! & 0xc0) === 0xc0) off += 2;
  else {
    while (msg[off] !== 0) off += msg[off]! + 1;
    off++;
  }
  const ip = `${msg[off + 10]}.${msg[off + 11]}.${msg[off + 12]}.${msg[off + 13]}`;
  return ip === addrFor(name) ? null : `data ${ip} != ${addrFor(name)} for ${name}`;
}

async function health() {
  return (await (await fetch(`http://127.0.0.1:${b.httpPort}/healthz`)).json()) as any;
}

async function settled() {
  for (let i = 0; i < 50; i++) {
    const h = await health();
    if (h.inflight === 0 && h.ring.udp.inUse === 0 && h.ring.tcp.inUse === 0) return h;
    await Bun.sleep(100);
  }
  return health();
}

/**
 * Sends `total` UDP queries with WINDOW in flight (retransmitting lost ones) and checks every answer's ID,
 * question and data. `nameOf(i)` picks each query's name: unique names exercise the upstream path, repeated
 * names the cache.
 */
async function udpRun(total: number, nameOf: (i: number) => string) {
  const pending = new Map<number, { i: number; sent: number; resent: boolean }>();
  /** ID → the last answered query with that ID, when it had been retransmitted (its duplicate may still come). */
  const retransmitted = new Map<number, number>();
  let duplicates = 0;
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  let retransmits = 0;
  let stray = 0;
  let maxInflight = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const sockets = await Promise.all(
    [0, 1, 2, 3].map(() =>
      Bun.udpSocket({
        hostname: "127.0.0.1",
        binaryType: "uint8array",
        socket: {
          data(_s, msg) {
            const id = (msg[0]! << 8) | msg[1]!;
            const p = pending.get(id);
            if (!p) return void stray++;
            const err = check(msg, nameOf(p.i));
            if (err) {
              // A retransmitted query can be answered twice (the first copy was slow, not lost). If its ID
              // has since been given to a new query, the second answer arrives while that one is pending.
              // It is a late duplicate only if it is, byte for byte, a correct answer to that earlier query.
              const earlier = retransmitted.get(id);
              if (earlier !== undefined && check(msg, nameOf(earlier)) === null) return void duplicates++;
              errors.push(`id ${id}: ${err}`);
            }
            if (p.resent) retransmitted.set(id, p.i);
            if (pending.size > maxInflight) maxInflight = pending.size;
            pending.delete(id);
            done++;
            pump();
            if (done === total) finish();
          },
        },
      }),
    ),
  );
  const send = (i: number) => sockets[i & 3]!.send(makeQuery(nameOf(i), "A", { id: i & 0xffff }), b.udpPort, "127.0.0.1");
  // Fill the window in steps of 64 a turn: a single burst of 512 datagrams overflows a default kernel
  // receive buffer (~256 small datagrams) on whichever side is busy, which tests the kernel, not bunbound.
  let scheduled = false;
  function pump() {
    let burst = 0;
    // An ID is reused only once its earlier query was answered (a query lost twice could otherwise still
    // be pending when its ID comes round again).
    while (pending.size < WINDOW && next < total && burst++ < 64 && !pending.has(next & 0xffff)) {
      pending.set(next & 0xffff, { i: next, sent: performance.now(), resent: false });
      send(next++);
    }
    if (pending.size < WINDOW && next < total && !scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        pump();
      });
    }
  }
  const resend = setInterval(() => {
    const now = performance.now();
    for (const p of pending.values()) {
      if (now - p.sent > 1000) {
        p.sent = now;
        p.resent = true;
        retransmits++;
        send(p.i);
      }
    }
  }, 250);
  const t0 = performance.now();
  pump();
  await finished;
  clearInterval(resend);
  const secs = (performance.now() - t0) / 1000;
  for (const s of sockets) s.close();
  console.log(`udp: ${total} in ${secs.toFixed(1)} s (${Math.round(total / secs)} q/s), retransmits ${retransmits}, late duplicates ${duplicates}, stray ${stray}`);
  return { errors, done, retransmits, duplicates, stray, maxInflight };
}

describe("ownership under load", () => {
  test(`${UDP_QUERIES} UDP queries, ${WINDOW} in flight, each answered with exactly its own ID, question and data`, async () => {
    const r = await udpRun(UDP_QUERIES, (i) => `u${i}.stress.example`);
    expect(r.maxInflight).toBeGreaterThanOrEqual(WINDOW);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.done).toBe(UDP_QUERIES);
    // Some datagrams are lost at ~1% here: Bun.udpSocket 1.4.5 cannot raise SO_RCVBUF, the default buffer
    // holds ~256 small datagrams, and 512 in flight overflows it whenever a process (bunbound, or this one
    // playing client and upstream at once) stalls briefly. Every lost query was retransmitted and its answer
    // checked like the others; the loss itself is a performance figure (issue 7), bounded here loosely.
    expect(r.retransmits).toBeLessThan(UDP_QUERIES / 20);
    // Only a retransmitted query can have a second answer (stray: its ID was free, duplicate: reused).
    expect(r.duplicates + r.stray).toBeLessThanOrEqual(r.retransmits);
    const h = await settled();
    expect(h.ring.udp.inUse).toBe(0);
    expect(h.ring.udp.violations).toBe(0);
    expect(h.upstream.open).toEqual({ udp: 0, tcp: 0 });
    expect(h.inflight).toBe(0);
  });

  test(`${MIXED_QUERIES} UDP queries over ${MIXED_NAMES} names: cache hits and misses mixed, each answer its own`, async () => {
    const before = (await health()).cache;
    // A name's first query misses (and coalesces with its concurrent twins); the rest hit the cache.
    const r = await udpRun(MIXED_QUERIES, (i) => `m${(i * 7919) % MIXED_NAMES}.stress.example`);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.done).toBe(MIXED_QUERIES);
    expect(r.duplicates + r.stray).toBeLessThanOrEqual(r.retransmits);
    const h = await settled();
    expect(h.cache.hits - before.hits).toBeGreaterThan(MIXED_QUERIES / 2);
    expect(h.cache.misses - before.misses).toBeGreaterThanOrEqual(MIXED_NAMES);
    expect(h.ring.udp.inUse).toBe(0);
    expect(h.ring.udp.violations).toBe(0);
    expect(h.inflight).toBe(0);
  });

  test(`${TCP_QUERIES} TCP queries pipelined over ${TCP_CONNS} connections, each answered with its own ID, question and data`, async () => {
    const perConn = Math.ceil(TCP_QUERIES / TCP_CONNS);
    const names = (c: number, i: number) => `t${c}-${i}.stress.example`;
    const errors: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: TCP_CONNS }, async (_, c) => {
        const client = await TcpClient.open(b.udpPort);
        let sent = 0;
        const inflight = new Map<number, number>();
        let seen = 0;
        while (seen < perConn) {
          while (sent < perConn && inflight.size < 24) {
            const id = sent & 0xffff;
            inflight.set(id, sent);
            client.write(frame(makeQuery(names(c, sent), "A", { id })));
            sent++;
          }
          await client.waitFor(seen + 1, 10_000);
          if (client.messages.length <= seen) {
            errors.push(`conn ${c}: stalled at ${seen}`);
            break;
          }
          for (; seen < client.messages.length; seen++) {
            const m = client.messages[seen]!;
            const id = (m[0]! << 8) | m[1]!;
            const i = inflight.get(id);
            if (i === undefined) errors.push(`conn ${c}: unexpected id ${id}`);
            else {
              const err = check(m, names(c, i));
              if (err) errors.push(`conn ${c} id ${id}: ${err}`);
              inflight.delete(id);
            }
            client.messages[seen] = new Uint8Array(0); // keep memory flat
          }
        }
        client.close();
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    console.log(`tcp: ${perConn * TCP_CONNS} in ${secs.toFixed(1)} s (${Math.round((perConn * TCP_CONNS) / secs)} q/s)`);
    expect(errors.slice(0, 5)).toEqual([]);
    const h = await settled();
    expect(h.ring.tcp.inUse).toBe(0);
    expect(h.ring.tcp.violations).toBe(0);
    expect(h.ring.udp.violations).toBe(0);
    expect(h.upstream.open).toEqual({ udp: 0, tcp: 0 });
    expect(h.queries.tcpQueries).toBe(perConn * TCP_CONNS);
  });
});
