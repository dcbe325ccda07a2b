// DNS over TLS to upstreams: Unbound's DoT and a stand-in TLS server, the certificate a self-signed one given as
// tls_ca. What the server sees (connections, IDs, bytes) is counted on its side.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { UpstreamCounters } from "../../src/metrics/counters";
import { parseUpstream } from "../../src/net/address";
import { dotLink } from "../../src/upstream/dot";
import { openEncrypted } from "../../src/upstream/channel";
import type { Link } from "../../src/upstream/link";
import { loadTrust } from "../../src/upstream/tls-ca";
import type { Ask } from "../../src/upstream/transport";
import type { UpstreamState } from "../../src/upstream/pool";
import type { Forwarder } from "../../src/upstream/forwarder";
import { QueryInfo } from "../../src/wire/query";
import { systemClock, type Clock } from "../../src/lifecycle/clock";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { DotStandIn, testCertificate, udpWitness, type DotStandInOptions, type TestCertificate } from "../helpers/encrypted";
import { forwardQuery, makeForwarder, makePipeline, makePool, warnings } from "../helpers/pipeline";
import { FakeClock } from "../helpers/clock";
import { eventually } from "../helpers/wait";
import { startUnboundTls, unboundBinary, type UnboundTls } from "../helpers/unbound-tls";
import { Outcome } from "../../src/pipeline";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const cert = await testCertificate({ names: ["dns.test"], addresses: ["127.0.0.1"] });

function standIn(opts: Partial<DotStandInOptions> = {}, c: TestCertificate = cert): DotStandIn {
  const s = new DotStandIn({ cert: c, ...opts });
  cleanup.push(() => s.close());
  return s;
}

function link(upstream: string, o: { clock?: Clock; idleMs?: number; caFile?: string | null; counters?: UpstreamCounters } = {}): Link {
  const l = dotLink(parseUpstream(upstream), {
    clock: o.clock ?? systemClock,
    counters: o.counters ?? new UpstreamCounters(),
    trust: loadTrust(o.caFile === null ? undefined : (o.caFile ?? cert.caFile)),
    idleMs: o.idleMs ?? 10_000,
  });
  cleanup.push(() => l.close());
  return l;
}

function ask(name: string, id?: number): Ask {
  const msg = makeQuery(name, "A", { id });
  return { msg, id: (msg[0]! << 8) | msg[1]!, question: msg.slice(12), exactCase: false };
}
const never = () => new AbortController().signal;
const nameIn = (resp: Uint8Array) => decode(resp).answers[0]?.data;

function forwarder(upstreams: string[], o: { caFile?: string; upstreamMs?: number; breakerFailures?: number; counters?: UpstreamCounters } = {}) {
  const { pool } = makePool(upstreams, { breaker_failures: o.breakerFailures ?? 5 });
  const f = makeForwarder(upstreams, { pool, upstream: { tls_ca: o.caFile ?? cert.caFile }, timeouts: { upstream_ms: o.upstreamMs ?? 1000 } }, o.counters ?? new UpstreamCounters());
  cleanup.push(() => pool.defaults.forEach((s) => s.close()));
  return { f, states: pool.defaults };
}

async function forward(f: Forwarder, name: string, timeoutMs = 2000) {
  const r = await forwardQuery(f, name, timeoutMs);
  return r ? decode(r.resp) : null;
}


describe.skipIf(!unboundBinary)("DNS over TLS to Unbound", () => {
  let unbound: UnboundTls;
  beforeAll(async () => {
    unbound = await startUnboundTls();
  });
  afterAll(() => unbound?.stop());

  test("Unbound's answer comes back over DoT, its certificate verified against tls_ca, and SRTT is measured", async () => {
    const { f, states } = forwarder([`tls://127.0.0.1:${unbound.tlsPort}#dns.test`], { caFile: unbound.cert.caFile });
    const resp = await forward(f, "x.test");
    expect(resp!.answers[0]!.data).toBe("192.0.2.1");
    expect(states[0]!.srttMs).toBeGreaterThan(0);
  });

  test("a hundred concurrent queries travel on one connection", async () => {
    const counters = new UpstreamCounters();
    const { f } = forwarder([`tls://127.0.0.1:${unbound.tlsPort}#dns.test`], { caFile: unbound.cert.caFile, counters });
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => forward(f, `n${i}.test`)));
    expect(answers.map((a) => a!.answers[0]!.data)).toEqual(Array(100).fill("192.0.2.1"));
    expect(await eventually(() => unbound.connections(unbound.tlsPort) === 1)).toBe(true);
    expect({ opened: counters.connectionsOpened, reused: counters.connectionReuses }).toEqual({ opened: 1, reused: 99 });
  });
});

describe("pipelining on one connection", () => {
  test("queries in flight together carry distinct IDs, even when asked with the same one", async () => {
    const s = standIn({ delayMs: () => 20 });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => l.exchange(ask(`same-id-${i}.example`, 4242), 2000, never())));
    results.forEach((r, i) => expect(r.ok && nameIn(r.resp)).toBe(addrFor(`same-id-${i}.example`)));
    expect(s.accepted).toBe(1);
    expect(new Set(s.idsOn(1)).size).toBe(50);
  });

  test("answers that come back out of order each reach their own query", async () => {
    const s = standIn({ delayMs: () => Math.random() * 50 });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => l.exchange(ask(`o${i}.example`), 2000, never())));
    results.forEach((r, i) => expect(r.ok && nameIn(r.resp)).toBe(addrFor(`o${i}.example`)));
    expect(s.accepted).toBe(1);
  });

  test("beyond 100 queries in flight on a connection, a second one opens", async () => {
    const s = standIn({ delayMs: () => 100 });
    const counters = new UpstreamCounters();
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`, { counters });
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => l.exchange(ask(`c${i}.example`), 2000, never())));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(s.accepted).toBe(2);
    expect(s.idsOn(1).length).toBe(100);
    expect(counters.connectionsOpened).toBe(2);
  });
});

describe("bounds", () => {
  test("beyond four full connections and the bounded queue behind them, an attempt fails busy at once", async () => {
    const s = standIn({ silent: true });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const results = Array.from({ length: 1500 }, (_, i) => l.exchange(ask(`b${i}.example`), 300, never()));
    const busy = await Promise.all(results.slice(1424));
    expect(busy.every((r) => !r.ok && r.failure === "busy")).toBe(true);
    expect(await eventually(() => s.accepted === 4 && s.received.length === 400)).toBe(true);
    const rest = await Promise.all(results.slice(0, 1424));
    expect(rest.every((r) => !r.ok && r.failure === "timeout")).toBe(true);
    expect(openEncrypted.tls).toBe(0);
  });
});

describe("certificate verification (RFC 8310 strict profile)", () => {
  test("a certificate that does not carry the auth name fails as tls, charges the upstream, logs one line, and sends nothing", async () => {
    const s = standIn();
    const witness = await udpWitness(s.port);
    cleanup.push(() => witness.close());
    const counters = new UpstreamCounters();
    const { f, states } = forwarder([`tls://127.0.0.1:${s.port}#wrong.test`], { counters });
    const { value: resp, lines } = await warnings(() => forward(f, "secret.example"));
    expect(resp).toBeNull();
    expect(counters.tlsFailures).toBe(3); // every attempt; no other kind
    expect(counters.failures).toBe(3);
    expect(states[0]!.failures).toBe(3);
    expect(lines.length).toBe(counters.connectionFailures); // one per connection that failed, not per query
    expect(lines[0]).toMatchObject({ msg: "upstream connection failed", upstream: `tls://127.0.0.1:${s.port}#wrong.test`, failure: "tls" });
    expect(String(lines[0]!.reason)).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(s.bytes).toBe(0);
    expect(witness.received()).toBe(0);
  });

  test("a certificate from an authority that is not trusted fails as tls and sends nothing", async () => {
    const s = standIn();
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`, { caFile: null });
    const { value: r, lines } = await warnings(() => l.exchange(ask("untrusted.example"), 1000, never()));
    expect(r).toEqual({ ok: false, failure: "tls", mismatched: 0 });
    expect(lines.length).toBe(1);
    expect(String(lines[0]!.reason)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i);
    expect(s.bytes).toBe(0);
  });

  test("without an auth name, the certificate must name the upstream's address", async () => {
    const nameOnly = await testCertificate({ names: ["dns.test"], addresses: [] });
    const s = standIn({}, nameOnly);
    expect(await link(`tls://127.0.0.1:${s.port}`, { caFile: nameOnly.caFile }).exchange(ask("a.example"), 1000, never())).toMatchObject({ ok: false, failure: "tls" });
    const t = standIn();
    const r = await link(`tls://127.0.0.1:${t.port}`).exchange(ask("a.example"), 1000, never());
    expect(r.ok && nameIn(r.resp)).toBe(addrFor("a.example"));
  });
});

describe("deadlines and cancellation", () => {
  test("an exchange whose signal aborts ends as cancelled; its late answer is ignored and the connection serves the next", async () => {
    const s = standIn({ delayMs: (n) => (n === "late.example" ? 100 : 0) });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const ac = new AbortController();
    const pending = l.exchange(ask("late.example"), 2000, ac.signal);
    expect(await eventually(() => s.received.length === 1)).toBe(true);
    ac.abort();
    expect(await pending).toEqual({ ok: false, failure: "cancelled", mismatched: 0 });
    expect(openEncrypted.tls).toBe(0);
    await Bun.sleep(150); // the late answer arrives, for nobody
    const next = await l.exchange(ask("next.example"), 1000, never());
    expect(next.ok && nameIn(next.resp)).toBe(addrFor("next.example"));
    expect(s.accepted).toBe(1);
  });

  test("an exchange that reaches its deadline ends as timeout, by the clock; a connection that heard nothing since is given up", async () => {
    const s = standIn({ silent: true });
    const clock = new FakeClock();
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`, { clock });
    let settled = false;
    const pending = l.exchange(ask("silent.example"), 500, never()).finally(() => (settled = true));
    expect(await eventually(() => s.received.length === 1)).toBe(true);
    clock.advance(499);
    await Bun.sleep(5);
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await pending).toEqual({ ok: false, failure: "timeout", mismatched: 0 });
    expect(openEncrypted.tls).toBe(0);
    // Nothing was heard on the connection since the query went out: it is given up on, not kept.
    expect(await eventually(() => s.open === 0)).toBe(true);
    expect(clock.pending).toBe(0);
  });
});

describe("connection lifetime", () => {
  test("a connection without a query for connection_idle_ms is closed", async () => {
    const s = standIn();
    const clock = new FakeClock();
    const counters = new UpstreamCounters();
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`, { clock, idleMs: 1000, counters });
    expect((await l.exchange(ask("idle.example"), 1000, never())).ok).toBe(true);
    clock.advance(999);
    await Bun.sleep(20);
    expect(s.open).toBe(1);
    clock.advance(1);
    expect(await eventually(() => s.open === 0)).toBe(true);
    expect(openEncrypted.connections).toBe(0);
    expect(counters.connectionsIdleClosed).toBe(1);
    expect(clock.pending).toBe(0);
  });

  test("a connection the server closes mid-flight fails its exchanges as closed, and the next query reconnects", async () => {
    const s = standIn({ closeFirstAfter: 3 });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const cut = await Promise.all([1, 2, 3].map((i) => l.exchange(ask(`cut${i}.example`), 2000, never())));
    expect(cut.map((r) => !r.ok && r.failure)).toEqual(["closed", "closed", "closed"]);
    const next = await l.exchange(ask("again.example"), 2000, never());
    expect(next.ok && nameIn(next.resp)).toBe(addrFor("again.example"));
    expect(s.accepted).toBe(2);
  });

  test("a refused connect backs the next one off, doubling, and a query that cannot wait that long fails at once", async () => {
    const closed = new DotStandIn({ cert });
    const port = closed.port;
    closed.close(); // nothing listens there now
    const clock = new FakeClock();
    const counters = new UpstreamCounters();
    const l = link(`tls://127.0.0.1:${port}#dns.test`, { clock, counters });
    const { value, lines } = await warnings(async () => {
      const first = await l.exchange(ask("r1.example"), 1000, never());
      const hasty = await l.exchange(ask("r2.example"), 50, never()); // the backoff (100 ms) outlasts it
      const patient = l.exchange(ask("r3.example"), 1000, never());
      await Bun.sleep(20);
      const opensBefore = counters.connectionsOpened;
      clock.advance(100);
      return { first, hasty, patient: await patient, opensBefore };
    });
    expect(value.first).toMatchObject({ ok: false, failure: "refused" });
    expect(value.hasty).toMatchObject({ ok: false, failure: "refused" });
    expect(value.opensBefore).toBe(1); // the hasty one opened nothing
    expect(value.patient).toMatchObject({ ok: false, failure: "refused" });
    expect(counters.connectionsOpened).toBe(2);
    expect(lines.map((l) => l.retry_in_ms)).toEqual([100, 200]);
  });

  test("closing the upstream (shutdown) cancels what waits and closes its connections", async () => {
    const s = standIn({ silent: true });
    const l = link(`tls://127.0.0.1:${s.port}#dns.test`);
    const pending = l.exchange(ask("bye.example"), 5000, never());
    expect(await eventually(() => s.received.length === 1)).toBe(true);
    l.close();
    expect(await pending).toMatchObject({ ok: false, failure: "cancelled" });
    expect(await eventually(() => s.open === 0)).toBe(true);
    expect(openEncrypted).toEqual({ tls: 0, https: 0, connections: 0 });
  });
});

describe("the forwarder with DoT upstreams", () => {
  test("a silent DoT upstream times out and opens its breaker, as a UDP one does", async () => {
    const s = standIn({ silent: true });
    const counters = new UpstreamCounters();
    const { f, states } = forwarder([`tls://127.0.0.1:${s.port}#dns.test`], { upstreamMs: 100, breakerFailures: 2, counters });
    expect(await forward(f, "quiet.example", 400)).toBeNull();
    const state: UpstreamState = states[0]!;
    expect(state.state).toBe("open");
    expect(counters.timeouts).toBeGreaterThanOrEqual(2);
    expect(counters.tlsFailures).toBe(0);
  });

  test("a reload with the same tls_ca keeps the connection; another tls_ca moves queries to a new one", async () => {
    const s = standIn();
    const upstream = `tls://127.0.0.1:${s.port}#dns.test`;
    const { pool } = makePool([upstream]);
    cleanup.push(() => pool.defaults.forEach((u) => u.close()));
    const run = (caFile: string) => forward(makeForwarder([upstream], { pool, upstream: { tls_ca: caFile } }), "reload.example");
    expect((await run(cert.caFile))!.answers[0]!.data).toBe(addrFor("reload.example"));
    expect((await run(cert.caFile))!.answers[0]!.data).toBe(addrFor("reload.example"));
    expect(s.accepted).toBe(1);
    const other = await testCertificate();
    const both = join(mkdtempSync(join(tmpdir(), "bunbound-ca-")), "both.pem");
    writeFileSync(both, cert.certPem + other.certPem);
    expect((await run(both))!.answers[0]!.data).toBe(addrFor("reload.example"));
    expect(s.accepted).toBe(2);
    expect(await eventually(() => s.open === 1)).toBe(true); // the old one, drained, is closed
    expect(pool.defaults[0]!.queries).toBe(3); // health carried over
  });

  test("identical concurrent misses make one DoT query", async () => {
    const s = standIn({ delayMs: () => 50 });
    const { pipeline, cacheCounters, snapshot } = makePipeline([], [`tls://127.0.0.1:${s.port}#dns.test`], { forwarder: { upstream: { tls_ca: cert.caFile } } });
    cleanup.push(() => snapshot.forwarder.opts.pool.defaults.forEach((u) => u.close()));
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const bytes = makeQuery("shared.example", "A", { id: i });
        const slot = new Uint8Array(4096);
        slot.set(bytes);
        const q = new QueryInfo();
        const n = pipeline.answerNow(slot, bytes.length, q, true);
        expect(n).toBe(Outcome.PENDING);
        return decode(slot.subarray(0, await pipeline.resolve(slot, new QueryInfo().copyFrom(q), true, Date.now() + 2000)));
      }),
    );
    expect(answers.every((a) => a.answers[0]!.data === addrFor("shared.example"))).toBe(true);
    expect(s.received.length).toBe(1);
    expect(cacheCounters.coalesced).toBe(19);
  });
});
