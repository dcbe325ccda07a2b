// The request entry and the transports against a stub handler (no App, no Pipeline): what a transport does with
// each Outcome, the pending table's bound and policies, and slot ownership across a miss.
import { afterEach, describe, expect, test } from "bun:test";
import { Outcome, type RequestHandler, type Waiting } from "../../src/pipeline/handler";
import { ServerCounters } from "../../src/metrics/counters";
import { Requests, type RequestSettings } from "../../src/server/request";
import { Ring } from "../../src/server/ring";
import { TcpServer } from "../../src/server/tcp";
import { UdpServer } from "../../src/server/udp";
import { errorResponse } from "../../src/wire/response";
import { parseQuery, type QueryInfo } from "../../src/wire/query";
import { decode, frame, makeQuery, TcpClient, udpAsk } from "../helpers/dns";
import { defaults } from "../helpers/pipeline";

/** The question name of a query, dotted. */
function nameOf(buf: Uint8Array): string {
  const labels: string[] = [];
  for (let o = 12; buf[o] !== 0; o += buf[o]! + 1) labels.push(String.fromCharCode(...buf.subarray(o + 1, o + 1 + buf[o]!)));
  return labels.join(".");
}

/** Answers names starting with "now" at once (NOERROR, no records), drops "drop*", and holds the rest as misses. */
class StubHandler implements RequestHandler<string> {
  inflight = 0;
  readonly held: Array<{ name: string; settle: (r: string | null) => void }> = [];
  finished: Array<string | null> = [];

  answerNow(buf: Uint8Array, len: number, q: QueryInfo): number {
    parseQuery(buf, len, q);
    const name = nameOf(buf);
    if (name.startsWith("drop")) return Outcome.DROP;
    if (name.startsWith("now")) return errorResponse(buf, q, 0);
    return Outcome.PENDING;
  }

  miss(query: Uint8Array): Waiting<string> {
    const name = nameOf(query);
    let settle!: (r: string | null) => void;
    const promise = new Promise<string | null>((r) => (settle = r));
    this.inflight++;
    this.held.push({ name, settle: (r) => (this.inflight--, settle(r)) });
    return { promise, cancel: () => settle(null) };
  }

  /** NOERROR for an answer, SERVFAIL for null; the question echoed. */
  finish(buf: Uint8Array, q: QueryInfo, _udp: boolean, result: string | null): number {
    this.finished.push(result);
    return errorResponse(buf, q, result === null ? 2 : 0);
  }

  settle(name: string, result: string | null = "answer"): void {
    this.held.find((h) => h.name === name)!.settle(result);
  }
}

const cleanup: Array<() => unknown> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function setup(capacity = 8, pending: Partial<RequestSettings["config"]["pending"]> = {}) {
  const handler = new StubHandler();
  const counters = new ServerCounters();
  const settings: RequestSettings = { config: { ...defaults, pending: { ...defaults.pending, ...pending } }, limit: null };
  const requests = new Requests(handler, counters, capacity, () => settings);
  return { handler, counters, requests };
}

describe("the request entry over UDP, with a stub handler", () => {
  async function udp(capacity = 8, pending: Partial<RequestSettings["config"]["pending"]> = {}) {
    const s = setup(capacity, pending);
    const ring = new Ring(16, 4096, 0, true);
    const server = new UdpServer("127.0.0.1", 0, ring, s.requests, s.counters, { backend: "bun", receive_buffer_bytes: 1 << 20, reusePort: false });
    await server.start();
    cleanup.push(() => server.close());
    return { ...s, ring, server, port: server.boundPort };
  }

  test("an answer now is sent at once; a dropped query gets nothing; neither keeps a slot", async () => {
    const { port, ring } = await udp();
    expect(decode((await udpAsk(port, makeQuery("now.example")))!).rcode).toBe("NOERROR");
    expect(await udpAsk(port, makeQuery("drop.example"), 200)).toBeNull();
    expect(ring.inUse).toBe(0);
  });

  test("a miss leaves the ring at once and is answered when it settles, in a slot borrowed for that", async () => {
    const { port, ring, handler, requests, server } = await udp();
    const answer = udpAsk(port, makeQuery("later.example"), 2000);
    for (let i = 0; i < 100 && handler.held.length === 0; i++) await Bun.sleep(5);
    expect(requests.pending).toBe(1);
    expect(server.inflight).toBe(1);
    expect(ring.inUse).toBe(0);
    handler.settle("later.example");
    const m = decode((await answer)!);
    expect(m.rcode).toBe("NOERROR");
    expect(m.questions[0]!.name).toBe("later.example");
    expect(requests.pending).toBe(0);
    expect(server.inflight).toBe(0);
    expect(ring.inUse).toBe(0);
  });

  test("more misses than 16 ring slots all wait, each in the table", async () => {
    const { port, handler, requests, ring } = await udp(32);
    const answers = Array.from({ length: 30 }, (_, i) => udpAsk(port, makeQuery(`m${i}.example`), 2000));
    for (let i = 0; i < 100 && handler.held.length < 30; i++) await Bun.sleep(5);
    expect(requests.pending).toBe(30);
    expect(ring.inUse).toBe(0);
    for (const h of handler.held) h.settle("x");
    expect((await Promise.all(answers)).every((a) => a && decode(a).rcode === "NOERROR")).toBe(true);
  });
});

describe("the pending table when full", () => {
  /** A sink that records what it is handed, for the entry alone. */
  function sink(ring = new Ring(4, 512, 0, true)) {
    const got: Array<{ target: unknown; n: number; rcode: number }> = [];
    return {
      ring,
      transport: 0,
      got,
      deliver(target: unknown, _port: number, h: number, n: number) {
        got.push({ target, n, rcode: h >= 0 ? ring.payload(h)[3]! & 0xf : -1 });
        if (h >= 0) ring.release(h);
      },
    };
  }
  function receive(requests: Requests, s: ReturnType<typeof sink>, name: string, q: QueryInfo) {
    const h = s.ring.acquire();
    const buf = s.ring.payload(h);
    const bytes = makeQuery(name);
    buf.set(bytes);
    const n = requests.receive(s, buf, bytes.length, q, name, 0, "127.0.0.1");
    const rcode = n > 0 ? buf[3]! & 0xf : -1;
    s.ring.release(h);
    return { n, rcode };
  }

  test("servfail: a miss beyond capacity is answered at once with what finish() makes of nothing", async () => {
    const { requests, handler, counters } = setup(2, { when_full: "servfail" });
    const s = sink();
    const q = new (await import("../../src/wire/query")).QueryInfo();
    expect(receive(requests, s, "a.example", q).n).toBe(Outcome.PENDING);
    expect(receive(requests, s, "b.example", q).n).toBe(Outcome.PENDING);
    const third = receive(requests, s, "c.example", q);
    expect(third.n).toBeGreaterThan(0);
    expect(third.rcode).toBe(2);
    expect(handler.finished).toEqual([null]);
    expect(counters.pendingRefused).toBe(1);
    expect(requests.pending).toBe(2);
  });

  test("drop_oldest with jostle 0: the oldest is answered (SERVFAIL) and its wait cancelled, the new one admitted", async () => {
    const { requests, handler, counters } = setup(2, { when_full: "drop_oldest", jostle_ms: 0 });
    const s = sink();
    const q = new (await import("../../src/wire/query")).QueryInfo();
    receive(requests, s, "a.example", q);
    receive(requests, s, "b.example", q);
    expect(receive(requests, s, "c.example", q).n).toBe(Outcome.PENDING);
    expect(s.got).toEqual([{ target: "a.example", n: expect.any(Number), rcode: 2 }]);
    expect(counters.pendingEvicted).toBe(1);
    expect(requests.pending).toBe(2);
    // a.example's wait was cancelled: settling it later hands nothing to the sink again.
    handler.settle("a.example");
    handler.settle("b.example");
    await Bun.sleep(0);
    expect(s.got.map((g) => g.target)).toEqual(["a.example", "b.example"]);
    expect(s.ring.inUse).toBe(0);
  });
});

describe("the request entry over TCP, with a stub handler", () => {
  test("pipelined misses are answered as they settle, out of order, on the same connection", async () => {
    const { requests, handler, counters } = setup();
    const ring = new Ring(4, 4096, 2, true);
    const tcp = new TcpServer("127.0.0.1", 0, ring, requests, counters, () => defaults);
    tcp.start(null);
    cleanup.push(() => tcp.close());
    const c = await TcpClient.open(tcp.boundPort);
    cleanup.push(() => c.close());
    c.write(frame(makeQuery("one.example", "A", { id: 1 })));
    c.write(frame(makeQuery("two.example", "A", { id: 2 })));
    c.write(frame(makeQuery("now.example", "A", { id: 3 })));
    for (let i = 0; i < 100 && handler.held.length < 2; i++) await Bun.sleep(5);
    expect(ring.inUse).toBe(0);
    handler.settle("two.example");
    handler.settle("one.example");
    await c.waitFor(3);
    expect(c.messages.map((m) => decode(m).id)).toEqual([3, 2, 1]);
    expect(tcp.inflight).toBe(0);
  });
});
