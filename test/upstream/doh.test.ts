// DNS over HTTPS to upstreams: Unbound's DoH endpoint and a stand-in node:http2 server, the certificate a
// self-signed one given as tls_ca. What the server sees (sessions, requests, reset streams) is counted on its side.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { UpstreamCounters } from "../../src/metrics/counters";
import { parseUpstream } from "../../src/net/address";
import { dohLink } from "../../src/upstream/doh";
import { openEncrypted } from "../../src/upstream/channel";
import type { Link } from "../../src/upstream/link";
import { loadTrust } from "../../src/upstream/tls-ca";
import type { Ask } from "../../src/upstream/transport";
import type { Forwarder } from "../../src/upstream/forwarder";
import { systemClock, type Clock } from "../../src/lifecycle/clock";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { DohStandIn, testCertificate, udpWitness, type DohStandInOptions } from "../helpers/encrypted";
import { forwardQuery, makeForwarder, makePool, warnings } from "../helpers/pipeline";
import { FakeClock } from "../helpers/clock";
import { eventually } from "../helpers/wait";
import { startUnboundTls, unboundBinary, type UnboundTls } from "../helpers/unbound-tls";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const cert = await testCertificate({ names: ["dns.test"], addresses: ["127.0.0.1"] });

async function standIn(opts: Partial<DohStandInOptions> = {}): Promise<DohStandIn> {
  const s = await DohStandIn.start({ cert, ...opts });
  cleanup.push(() => s.close());
  return s;
}

const url = (port: number, host = "dns.test") => `https://${host}:${port}/dns-query#127.0.0.1`;

function link(upstream: string, o: { clock?: Clock; idleMs?: number; caFile?: string | null; counters?: UpstreamCounters } = {}): Link {
  const l = dohLink(parseUpstream(upstream), {
    clock: o.clock ?? systemClock,
    counters: o.counters ?? new UpstreamCounters(),
    trust: loadTrust(o.caFile === null ? undefined : (o.caFile ?? cert.caFile)),
    idleMs: o.idleMs ?? 10_000,
  });
  cleanup.push(() => l.close());
  return l;
}

function ask(name: string): Ask {
  const msg = makeQuery(name);
  return { msg, id: (msg[0]! << 8) | msg[1]!, question: msg.slice(12), exactCase: false };
}
const never = () => new AbortController().signal;
const nameIn = (resp: Uint8Array) => decode(resp).answers[0]?.data;

function forwarder(upstreams: string[], o: { caFile?: string; counters?: UpstreamCounters } = {}) {
  const { pool } = makePool(upstreams);
  const f = makeForwarder(upstreams, { pool, upstream: { tls_ca: o.caFile ?? cert.caFile }, timeouts: { upstream_ms: 1000 } }, o.counters ?? new UpstreamCounters());
  cleanup.push(() => pool.defaults.forEach((s) => s.close()));
  return { f, states: pool.defaults };
}

async function forward(f: Forwarder, name: string, timeoutMs = 2000) {
  const r = await forwardQuery(f, name, timeoutMs);
  return r ? decode(r.resp) : null;
}


describe.skipIf(!unboundBinary)("DNS over HTTPS to Unbound", () => {
  let unbound: UnboundTls;
  beforeAll(async () => {
    unbound = await startUnboundTls();
  });
  afterAll(() => unbound?.stop());

  test("Unbound's answer comes back over DoH, its certificate verified against tls_ca", async () => {
    const { f, states } = forwarder([url(unbound.httpsPort)], { caFile: unbound.cert.caFile });
    expect((await forward(f, "x.test"))!.answers[0]!.data).toBe("192.0.2.1");
    expect(states[0]!.srttMs).toBeGreaterThan(0);
  });

  test("a hundred concurrent queries are streams of one HTTP/2 session", async () => {
    const counters = new UpstreamCounters();
    const { f } = forwarder([url(unbound.httpsPort)], { caFile: unbound.cert.caFile, counters });
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => forward(f, `n${i}.test`)));
    expect(answers.map((a) => a!.answers[0]!.data)).toEqual(Array(100).fill("192.0.2.1"));
    expect(await eventually(() => unbound.connections(unbound.httpsPort) === 1)).toBe(true);
    expect(counters.connectionsOpened).toBe(1);
  });
});

describe("DoH requests", () => {
  test("a query is a POST of application/dns-message with ID 0, to the URL's path and authority", async () => {
    const s = await standIn();
    const l = link(`https://dns.test:${s.port}/custom-path#127.0.0.1`);
    const r = await l.exchange(ask("post.example"), 1000, never());
    expect(r.ok && nameIn(r.resp)).toBe(addrFor("post.example"));
    expect(s.requests).toEqual([
      { method: "POST", path: "/custom-path", authority: `dns.test:${s.port}`, contentType: "application/dns-message", accept: "application/dns-message", id: 0, name: "post.example", session: 1 },
    ]);
  });

  test("concurrent queries share one session, and each answer reaches its own stream", async () => {
    const s = await standIn({ delayMs: () => Math.random() * 30 });
    const l = link(url(s.port));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => l.exchange(ask(`m${i}.example`), 2000, never())));
    results.forEach((r, i) => expect(r.ok && nameIn(r.resp)).toBe(addrFor(`m${i}.example`)));
    expect(s.sessions).toBe(1);
  });

  test("a status other than 200 fails as http, logged once per session", async () => {
    const s = await standIn({ status: 404 });
    const counters = new UpstreamCounters();
    const { f } = forwarder([url(s.port)], { counters });
    const { value, lines } = await warnings(() => forward(f, "missing.example"));
    expect(value).toBeNull();
    expect(counters.httpErrors).toBe(3);
    expect(counters.failures).toBe(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: "upstream answered DoH with an HTTP error", status: 404 });
  });

  test("a content type other than application/dns-message fails as http", async () => {
    const s = await standIn({ contentType: "text/html" });
    const { value: r } = await warnings(() => link(url(s.port)).exchange(ask("html.example"), 1000, never()));
    expect(r).toEqual({ ok: false, failure: "http", mismatched: 0 });
  });

  test("a body longer than a DNS message can be fails as malformed", async () => {
    const s = await standIn({ bodyBytes: 70_000 });
    expect(await link(url(s.port)).exchange(ask("huge.example"), 2000, never())).toEqual({ ok: false, failure: "malformed", mismatched: 0 });
  });
});

describe("certificate verification (RFC 8310 strict profile)", () => {
  test("a certificate that does not carry the URL's host fails as tls, charges the upstream, logs one line, and sends nothing", async () => {
    const s = await standIn();
    const witness = await udpWitness(s.port);
    cleanup.push(() => witness.close());
    const counters = new UpstreamCounters();
    const { f, states } = forwarder([url(s.port, "wrong.test")], { counters });
    const { value, lines } = await warnings(() => forward(f, "secret.example"));
    expect(value).toBeNull();
    expect(counters.tlsFailures).toBe(3);
    expect(states[0]!.failures).toBe(3);
    expect(lines.length).toBe(counters.connectionFailures);
    expect(lines[0]).toMatchObject({ msg: "upstream connection failed", failure: "tls" });
    expect(String(lines[0]!.reason)).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(s.requests).toHaveLength(0);
    expect(s.sessions).toBe(0);
    expect(witness.received()).toBe(0);
  });

  test("a certificate from an authority that is not trusted fails as tls", async () => {
    const s = await standIn();
    const { value: r, lines } = await warnings(() => link(url(s.port), { caFile: null }).exchange(ask("untrusted.example"), 1000, never()));
    expect(r).toEqual({ ok: false, failure: "tls", mismatched: 0 });
    expect(lines).toHaveLength(1);
    expect(s.requests).toHaveLength(0);
  });
});

describe("cancellation and deadlines", () => {
  test("a cancelled exchange resets its stream with CANCEL and leaves nothing open", async () => {
    const s = await standIn({ silent: true });
    const l = link(url(s.port));
    const ac = new AbortController();
    const pending = l.exchange(ask("cancel.example"), 5000, ac.signal);
    expect(await eventually(() => s.requests.length === 1)).toBe(true);
    ac.abort();
    expect(await pending).toEqual({ ok: false, failure: "cancelled", mismatched: 0 });
    expect(await eventually(() => s.cancelled === 1 && s.openStreams === 0)).toBe(true);
    expect(openEncrypted.https).toBe(0);
  });

  test("an exchange that reaches its deadline ends as timeout, by the clock, and its stream is reset", async () => {
    const s = await standIn({ silent: true });
    const clock = new FakeClock();
    const l = link(url(s.port), { clock });
    let settled = false;
    const pending = l.exchange(ask("deadline.example"), 300, never()).finally(() => (settled = true));
    expect(await eventually(() => s.requests.length === 1)).toBe(true);
    clock.advance(299);
    await Bun.sleep(5);
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await pending).toEqual({ ok: false, failure: "timeout", mismatched: 0 });
    expect(await eventually(() => s.cancelled === 1 && s.openStreams === 0)).toBe(true);
    expect(openEncrypted.https).toBe(0);
  });
});

describe("session lifetime", () => {
  test("a session without a query for connection_idle_ms is closed", async () => {
    const s = await standIn();
    const clock = new FakeClock();
    const counters = new UpstreamCounters();
    const l = link(url(s.port), { clock, idleMs: 2000, counters });
    expect((await l.exchange(ask("idle.example"), 1000, never())).ok).toBe(true);
    clock.advance(1999);
    await Bun.sleep(20);
    expect(s.openSessions).toBe(1);
    clock.advance(1);
    expect(await eventually(() => s.openSessions === 0)).toBe(true);
    expect(counters.connectionsIdleClosed).toBe(1);
    expect(openEncrypted.connections).toBe(0);
    expect(clock.pending).toBe(0);
  });

  test("after the server's GOAWAY, the next query opens a new session", async () => {
    const s = await standIn({ goawayAfter: 1, delayMs: () => 0 });
    const l = link(url(s.port));
    await l.exchange(ask("g1.example"), 500, never());
    expect(await eventually(() => s.sessions === 1)).toBe(true);
    await Bun.sleep(20);
    const r = await l.exchange(ask("g2.example"), 1000, never());
    expect(r.ok && nameIn(r.resp)).toBe(addrFor("g2.example"));
    expect(s.sessions).toBe(2);
  });

  test("a session that ends mid-flight fails its exchanges as closed, and the next query reconnects", async () => {
    const s = await standIn({ destroyFirstAfter: 2 });
    const l = link(url(s.port));
    const { value: cut } = await warnings(() => Promise.all([1, 2].map((i) => l.exchange(ask(`cut${i}.example`), 2000, never()))));
    expect(cut.map((r) => (r.ok ? "ok" : r.failure))).toEqual(["closed", "closed"]);
    const next = await l.exchange(ask("again.example"), 2000, never());
    expect(next.ok && nameIn(next.resp)).toBe(addrFor("again.example"));
    expect(s.sessions).toBe(2);
  });
});
