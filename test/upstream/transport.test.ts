import { afterEach, describe, expect, test } from "bun:test";
import { openExchanges, tcpExchange, udpExchange, type Ask, type Upstream } from "../../src/upstream/transport";
import { frame, makeQuery } from "../helpers/dns";

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

function ask(name = "x.example"): Ask {
  const msg = makeQuery(name);
  return { msg, id: (msg[0]! << 8) | msg[1]!, question: msg.slice(12), exactCase: false };
}
const at = (port: number): Upstream => ({ host: "127.0.0.1", port, family: 4, protocol: "udp", label: `127.0.0.1:${port}` });
const never = () => new AbortController().signal;

/** A reply to `query` built from its own bytes: QR set, ID changed by `idDelta`, optionally cut after the header. */
function reply(query: Uint8Array, o: { idDelta?: number; bogusCount?: boolean } = {}): Uint8Array {
  const r = query.slice();
  const id = (((r[0]! << 8) | r[1]!) + (o.idDelta ?? 0)) & 0xffff;
  r[0] = id >> 8;
  r[1] = id & 0xff;
  r[2]! |= 0x80;
  if (o.bogusCount) r[7] = 3; // three answers counted, none there
  return r;
}

/** A UDP server on loopback that answers every datagram with what `answer` makes of it (or nothing). */
async function udpServer(answer: (q: Uint8Array) => Uint8Array[]) {
  const s = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: { data: (sock, data, port, addr) => answer(data.slice()).forEach((m) => sock.send(m, port, addr)) },
  });
  closers.push(() => s.close());
  return s.port;
}

/** A TCP server on loopback that handles each framed query with `onQuery` (write framed replies, or close). */
function tcpServer(onQuery: (q: Uint8Array, sock: { write(d: Uint8Array): number; end(): void }) => void) {
  const l = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { binaryType: "uint8array", data: (sock, chunk: Uint8Array) => onQuery(chunk.slice(2), sock) },
  });
  closers.push(() => l.stop(true));
  return l.port;
}

describe("how an upstream exchange ends", () => {
  test("a UDP port with nothing behind it ends as refused", async () => {
    // Port 9 (discard) has nothing listening on loopback here: ICMP port unreachable.
    const r = await udpExchange(at(9), ask(), 1000, never());
    expect(r).toEqual({ ok: false, failure: "refused", mismatched: 0 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("a refused TCP connect ends as refused", async () => {
    const r = await tcpExchange(at(9), ask(), 1000, never());
    expect(r).toEqual({ ok: false, failure: "refused", mismatched: 0 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("only forged datagrams until the timer fires is a timeout that counts them", async () => {
    const port = await udpServer((q) => [reply(q, { idDelta: 1 }), reply(q, { idDelta: 2 })]);
    const r = await udpExchange(at(port), ask(), 100, never());
    expect(r).toEqual({ ok: false, failure: "timeout", mismatched: 2 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("a datagram with our ID and question whose records are missing is thrown away like a forgery", async () => {
    const port = await udpServer((q) => [reply(q, { bogusCount: true }), reply(q)]);
    const r = await udpExchange(at(port), ask(), 500, never());
    expect(r.ok).toBe(true);
    expect(r.mismatched).toBe(1);
  });

  test("the caller's abort ends it as cancelled, before or during the wait", async () => {
    const port = await udpServer(() => []);
    const before = new AbortController();
    before.abort();
    expect(await udpExchange(at(port), ask(), 1000, before.signal)).toEqual({ ok: false, failure: "cancelled", mismatched: 0 });
    const during = new AbortController();
    setTimeout(() => during.abort(), 20);
    expect(await tcpExchange(at(tcpServer(() => {})), ask(), 1000, during.signal)).toEqual({ ok: false, failure: "cancelled", mismatched: 0 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("a TCP connection closed before the answer ends as closed", async () => {
    const port = tcpServer((_q, sock) => sock.end());
    expect(await tcpExchange(at(port), ask(), 1000, never())).toEqual({ ok: false, failure: "closed", mismatched: 0 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("over TCP, an answer to another question ends as mismatch and one that does not parse as malformed", async () => {
    const wrong = tcpServer((q, sock) => sock.write(frame(reply(q, { idDelta: 1 }))));
    expect(await tcpExchange(at(wrong), ask(), 1000, never())).toEqual({ ok: false, failure: "mismatch", mismatched: 0 });
    const broken = tcpServer((q, sock) => sock.write(frame(reply(q, { bogusCount: true }))));
    expect(await tcpExchange(at(broken), ask(), 1000, never())).toEqual({ ok: false, failure: "malformed", mismatched: 0 });
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("a TCP answer split across writes, byte by byte, is put back together", async () => {
    const port = tcpServer((q, sock) => {
      const f = frame(reply(q));
      f.forEach((b, i) => setTimeout(() => sock.write(new Uint8Array([b])), i));
    });
    const r = await tcpExchange(at(port), ask(), 2000, never());
    expect(r.ok).toBe(true);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });
});

describe("per-upstream figures", () => {
  test("a refused upstream counts failures and refusals, not timeouts", async () => {
    const { makeForwarder, makePool } = await import("../helpers/pipeline");
    const { UpstreamCounters } = await import("../../src/metrics/counters");
    const { QueryInfo, parseQuery } = await import("../../src/wire/query");
    const { pool } = makePool(["127.0.0.1:9"]);
    const counters = new UpstreamCounters();
    const f = makeForwarder([], { pool, timeouts: { upstream_ms: 500 } }, counters);
    const bytes = makeQuery("refused.example");
    const q = new QueryInfo();
    parseQuery(bytes, bytes.length, q);
    expect(await f.forward(bytes, q, Date.now() + 1000, new AbortController().signal)).toBeNull();
    const s = pool.defaults[0]!;
    expect(s.failures).toBe(3);
    expect(s.timeouts).toBe(0);
    expect({ refused: counters.refused, failures: counters.failures, timeouts: counters.timeouts }).toEqual({ refused: 3, failures: 3, timeouts: 0 });
  });
});
