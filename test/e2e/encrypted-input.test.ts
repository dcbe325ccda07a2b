// RELIABILITY.md "Encrypted transports": what a hostile or broken client does to the DoT and DoH listeners of a
// real bunbound — silence after the handshake, a handshake never started, garbage, handshake floods past the
// connection cap, HTTP/2 stream floods past doh.max_streams — and that UDP keeps answering through each.
// The limits are set small (tcp_idle_ms 1000, tcp_message_ms 500, max_connections 50, max_streams 5) so each
// case takes about a second.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect as tlsConnect } from "node:tls";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../helpers/app";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { StandIn } from "../helpers/upstream";
import { DohSession, h2Flood, openRaw, startEncrypted, TlsClient, type EncryptedServer } from "../helpers/tls";
import { until } from "../helpers/wait";

setDefaultTimeout(20_000);

const IDLE_MS = 1000;
const MESSAGE_MS = 500;
const MAX_CONNECTIONS = 50;
const MAX_STREAMS = 5;
/** The sweep runs every quarter of the shorter timeout: a connection is cut at most this late (plus scheduling). */
const SLACK_MS = 800;

let b: EncryptedServer;
let upstream: StandIn;
beforeAll(async () => {
  upstream = await StandIn.start({ delayMs: (name) => (name.startsWith("slow") ? 300 : 0) });
  b = await startEncrypted(
    `upstreams = ["${upstream.address}"]\nrecords = ["x.lan 300 A 10.1.1.1"]\n[discovery]\nenabled = false\n` +
      `[timeouts]\ntcp_idle_ms = ${IDLE_MS}\ntcp_message_ms = ${MESSAGE_MS}\n[tcp]\nmax_connections = ${MAX_CONNECTIONS}\n[doh]\nmax_streams = ${MAX_STREAMS}\n`,
  );
});
afterAll(async () => {
  await b?.stop("SIGKILL");
  upstream?.close();
});

/** A deterministic byte source (mulberry32): "random" garbage that is the same on every run. */
function garbage(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

const udpAnswers = async () => decode((await udpAsk(b.udpPort, makeQuery("x.lan"), 1000)) ?? new Uint8Array(0)).answers.length === 1;
const dotAnswers = async () => {
  const c = await TlsClient.open(b.tlsPort);
  c.ask(makeQuery("x.lan", "A", { id: 77 }));
  await c.waitFor(1);
  c.close();
  return c.messages.length === 1 && decode(c.messages[0]!).answers.length === 1;
};

/** A TLS connection (with ALPN) that completes its handshake and then sends nothing; resolves when it is set up. */
function silentTls(port: number, alpn: string): Promise<{ openedAt: number; closedAt: () => number; write: (b: Uint8Array) => void; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    let closedAt = 0;
    const s = tlsConnect({ host: "127.0.0.1", port, ALPNProtocols: [alpn], rejectUnauthorized: false, servername: "localhost" });
    s.on("data", () => {}); // read what comes (a GOAWAY): a paused stream would never see its end
    s.on("close", () => (closedAt ||= performance.now()));
    s.on("error", () => {});
    s.once("secureConnect", () => resolve({ openedAt: performance.now(), closedAt: () => closedAt, write: (d) => void s.write(d), destroy: () => s.destroy() }));
    s.once("error", reject);
  });
}

/** Runs `during` while a UDP query goes out every 10 ms; returns how many were asked and answered. */
async function whileAskingUdp(during: () => Promise<void>): Promise<{ asked: number; answered: number }> {
  let stop = false;
  const results: Array<Promise<boolean>> = [];
  const loop = (async () => {
    while (!stop) {
      results.push(udpAnswers());
      await Bun.sleep(10);
    }
  })();
  await during();
  stop = true;
  await loop;
  const ok = await Promise.all(results);
  return { asked: ok.length, answered: ok.filter(Boolean).length };
}

describe("idle and stalled connections", () => {
  test("a DoT client that completes the handshake and sends nothing is closed by the idle timeout", async () => {
    const c = await TlsClient.open(b.tlsPort);
    const opened = performance.now();
    expect(await c.waitClosed(IDLE_MS + SLACK_MS + 1000)).toBe(true);
    expect(c.closedAt - opened).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(c.closedAt - opened).toBeLessThan(IDLE_MS + SLACK_MS);
  });

  test("a DoH client that completes the handshake and sends nothing is closed by the idle timeout", async () => {
    const s = await silentTls(b.httpsPort, "h2");
    const closed = await until(async () => s.closedAt(), (t) => t > 0, IDLE_MS + SLACK_MS + 1000);
    s.destroy();
    expect(closed - s.openedAt).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(closed - s.openedAt).toBeLessThan(IDLE_MS + SLACK_MS);
  });

  test.each(["DoT", "DoH"] as const)("a TCP connection to the %s listener that never starts TLS is closed by the idle timeout", async (which) => {
    const port = which === "DoT" ? b.tlsPort : b.httpsPort;
    const c = await openRaw(port);
    const opened = performance.now();
    await until(async () => c.closed(), (x) => x, IDLE_MS + SLACK_MS + 1000);
    c.end();
    expect(c.closed()).toBe(true);
    expect(c.closedAt() - opened).toBeLessThan(IDLE_MS + SLACK_MS);
  });

  test("a DoT query that stops half way is closed by the message timeout (slowloris, RFC 7766 rules on TLS too)", async () => {
    const c = await TlsClient.open(b.tlsPort);
    const q = makeQuery("x.lan");
    c.write(Uint8Array.of(q.length >> 8, q.length & 0xff, ...q.subarray(0, 5)));
    const sent = performance.now();
    expect(await c.waitClosed(IDLE_MS + SLACK_MS)).toBe(true);
    expect(c.closedAt - sent).toBeLessThan(MESSAGE_MS + 400);
    expect(c.messages.length).toBe(0);
  });
});

describe("garbage", () => {
  test("random bytes after the DoT handshake: every connection ends, anything sent back is a DNS response, and DoT and UDP go on answering", async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => TlsClient.open(b.tlsPort)));
    clients.forEach((c, i) => c.write(garbage(i + 1, 3000)));
    const ended = await Promise.all(clients.map((c) => c.waitClosed(MESSAGE_MS + IDLE_MS + SLACK_MS)));
    expect(ended.every(Boolean)).toBe(true);
    for (const m of clients.flatMap((c) => c.messages)) expect(m[2]! & 0x80).toBe(0x80); // QR: a response, e.g. FORMERR
    expect(b.proc.exitCode).toBeNull();
    expect(await dotAnswers()).toBe(true);
    expect(await udpAnswers()).toBe(true);
  });

  test.each(["DoT", "DoH"] as const)("random bytes instead of a TLS handshake on the %s listener close the connection, and DoT and UDP go on answering", async (which) => {
    const c = await openRaw(which === "DoT" ? b.tlsPort : b.httpsPort);
    c.write(garbage(99, 2000));
    expect(await until(async () => c.closed(), (x) => x, 3000)).toBe(true);
    expect(await dotAnswers()).toBe(true);
    expect(await udpAnswers()).toBe(true);
  });

  test("random bytes instead of the HTTP/2 preface close the DoH connection, and a new session is answered", async () => {
    const s = await silentTls(b.httpsPort, "h2");
    s.write(garbage(7, 2000));
    const closed = await until(async () => s.closedAt(), (t) => t > 0, 3000);
    expect(closed).toBeGreaterThan(0);
    const doh = await DohSession.open(b.httpsPort);
    expect((await doh.ask(makeQuery("x.lan"))).status).toBe(200);
    doh.close();
  });
});

describe("floods", () => {
  /** Opens `n` TCP connections at once that never start TLS; gives the server a moment to deal with them. */
  async function handshakeFlood(port: number, n: number) {
    const refused = { closed: () => true, closedAt: () => performance.now(), write: () => {}, end: () => {} }; // reset before connect() resolved
    const conns = await Promise.all(Array.from({ length: n }, () => openRaw(port).catch(() => refused)));
    await Bun.sleep(300);
    return conns;
  }
  /** Whether the server closed every one of `conns` within the idle timeout (and some slack). */
  const allClosed = (conns: Array<{ closed: () => boolean }>) => until(async () => conns.every((c) => c.closed()), (x) => x, IDLE_MS + SLACK_MS + 500);

  test(`a handshake flood on the DoT listener (300 connections that never start TLS, max_connections ${MAX_CONNECTIONS}) is bounded and counted, the rest close when idle, and UDP answers throughout`, async () => {
    const counted = () => Promise.all([b.metric("bunbound_tcp_rejected_total"), b.metric("bunbound_tcp_idle_closed_total")]).then(([r, i]) => r + i);
    const before = await counted();
    let conns: Awaited<ReturnType<typeof handshakeFlood>> = [];
    try {
      const udp = await whileAskingUdp(async () => void (conns = await handshakeFlood(b.tlsPort, 300)));
      const open = conns.filter((c) => !c.closed()).length;
      const after = await counted();
      expect(udp.answered).toBe(udp.asked);
      expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(after - before).toBeGreaterThanOrEqual(300 - MAX_CONNECTIONS);
      expect(await allClosed(conns)).toBe(true);
    } finally {
      conns.forEach((c) => c.end());
    }
  });

  test(`a handshake flood on the DoH listener (300 connections that never start TLS, max_connections ${MAX_CONNECTIONS}) is bounded, the rest close when idle, and UDP answers throughout`, async () => {
    let conns: Awaited<ReturnType<typeof handshakeFlood>> = [];
    try {
      const udp = await whileAskingUdp(async () => void (conns = await handshakeFlood(b.httpsPort, 300)));
      const open = conns.filter((c) => !c.closed()).length;
      expect(udp.answered).toBe(udp.asked);
      expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(open).toBeGreaterThan(0);
      expect(await allClosed(conns)).toBe(true);
    } finally {
      conns.forEach((c) => c.end());
    }
  });

  test(`DoT clients that complete the handshake are held to max_connections (${MAX_CONNECTIONS}): the longest idle makes room, and each one let in is answered`, async () => {
    const clients: TlsClient[] = [];
    try {
      for (let i = 0; i < MAX_CONNECTIONS + 10; i++) clients.push(await TlsClient.open(b.tlsPort));
      await Bun.sleep(100);
      expect(clients.filter((c) => !c.closed).length).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(clients.slice(0, 10).every((c) => c.closed)).toBe(true); // the first ones, idle the longest
      const last = clients.at(-1)!;
      last.ask(makeQuery("x.lan", "A", { id: 5 }));
      await last.waitFor(1);
      expect(decode(last.messages[0]!).id).toBe(5);
    } finally {
      clients.forEach((c) => c.close());
    }
  });

  test(`DoH connections refused at the cap are counted (counters.httpsRejected, in process)`, async () => {
    const app = await startApp({ listen_https: ["127.0.0.1:0"], data_dir: join(mkdtempSync(join(tmpdir(), "bunbound-enc-app-")), "data") }, (c) => {
      c.tcp.max_connections = MAX_CONNECTIONS;
    });
    let conns: Awaited<ReturnType<typeof handshakeFlood>> = [];
    try {
      conns = await handshakeFlood(app.https[0]!.boundPort, 300);
      expect(app.https[0]!.connections).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(app.counters.httpsRejected).toBe(300 - app.counters.httpsConnections);
      expect(app.counters.httpsRejected).toBeGreaterThanOrEqual(300 - MAX_CONNECTIONS);
    } finally {
      conns.forEach((c) => c.end());
      await app.shutdown();
    }
  });

  test(`HTTP/2 streams past doh.max_streams (${MAX_STREAMS}) are refused with RST_STREAM REFUSED_STREAM; those within are answered; UDP answers throughout`, async () => {
    let r!: Awaited<ReturnType<typeof h2Flood>>;
    const udp = await whileAskingUdp(async () => void (r = await h2Flood(b.httpsPort, 20, makeQuery("slow1.example", "A", { id: 0 }))));
    expect(r.settings.get(3)).toBe(MAX_STREAMS); // SETTINGS_MAX_CONCURRENT_STREAMS
    expect(r.answered).toBe(MAX_STREAMS);
    expect(r.reset.get(7)).toBe(20 - MAX_STREAMS); // REFUSED_STREAM
    expect(udp.answered).toBe(udp.asked);
  });

  test("a stream flood far past the limit ends that session with GOAWAY; a new session is answered", async () => {
    const r = await h2Flood(b.httpsPort, 1000, makeQuery("slow2.example", "A", { id: 0 }));
    // The server sends GOAWAY and closes with the rest of the flood unread, so the kernel may answer with a TCP
    // reset that discards the GOAWAY before the client reads it: either way the session has ended.
    expect(r.goaway !== null || r.closed).toBe(true);
    if (r.goaway !== null) expect(r.goaway).toBe(11); // ENHANCE_YOUR_CALM
    expect(r.answered).toBeLessThanOrEqual(MAX_STREAMS);
    const doh = await DohSession.open(b.httpsPort);
    expect((await doh.ask(makeQuery("x.lan"))).status).toBe(200);
    doh.close();
    expect(await udpAnswers()).toBe(true);
  });
});
