// The cache in the request path, against stand-in upstreams on loopback.
import { afterEach, describe, expect, test } from "bun:test";
import { Outcome, QueryInfo, type Pipeline } from "../../src/pipeline";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { makePipeline, makePool } from "../helpers/pipeline";
import { soa } from "../helpers/responses";
import { StandIn, type StandInOptions } from "../helpers/upstream";
import { FakeClock } from "../helpers/clock";
import { eventually } from "../helpers/wait";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
async function standIn(opts: StandInOptions = {}) {
  const s = await StandIn.start(opts);
  cleanup.push(() => s.close());
  return s;
}

/** Sends one query through the pipeline the way the UDP server does, in a slot of its own. */
async function ask(p: Pipeline, name: string, type = "A", o: { deadlineMs?: number; id?: number; edns?: number; clock?: FakeClock } = {}) {
  const bytes = makeQuery(name, type, { id: o.id, edns: o.edns });
  const slot = new Uint8Array(4096);
  slot.set(bytes);
  const q = new QueryInfo();
  let n = p.answerNow(slot, bytes.length, q, true);
  const sync = n !== Outcome.PENDING;
  if (!sync) n = await p.resolve(slot, new QueryInfo().copyFrom(q), true, (o.clock?.now() ?? Date.now()) + (o.deadlineMs ?? 1000));
  return { msg: decode(slot.subarray(0, n)), sync };
}



function fakeClock() {
  let now = Date.now();
  return { now: () => now, advance: (s: number) => (now += s * 1000) };
}

describe("cache in the request path", () => {
  test("a miss asks the upstream once; the repeat is a synchronous hit", async () => {
    const up = await standIn();
    const { pipeline, cacheCounters } = makePipeline([], [up.address]);
    const first = await ask(pipeline, "c.example");
    expect(first.sync).toBe(false);
    const second = await ask(pipeline, "C.Example", "A", { id: 77 });
    expect(second.sync).toBe(true);
    expect(second.msg.id).toBe(77);
    expect(second.msg.answers[0]!.data).toBe(addrFor("c.example"));
    expect(up.count()).toBe(1);
    expect(cacheCounters.hits).toBe(1);
  });

  test("NXDOMAIN with SOA from upstream is cached; without SOA it is asked again", async () => {
    const up = await standIn({
      shape: (n) => ({ rcode: "NXDOMAIN", authorities: n.startsWith("soa") ? [soa("example", 300, 60)] : [] }),
    });
    const { pipeline } = makePipeline([], [up.address]);
    for (let i = 0; i < 3; i++) expect((await ask(pipeline, "soa.example")).msg.rcode).toBe("NXDOMAIN");
    for (let i = 0; i < 3; i++) expect((await ask(pipeline, "nosoa.example")).msg.rcode).toBe("NXDOMAIN");
    expect(up.received.filter((r) => r.name === "soa.example").length).toBe(1);
    expect(up.received.filter((r) => r.name === "nosoa.example").length).toBe(3);
  });

  test("the answer that fills the cache carries the TTLs the cache keeps: max_ttl, min_ttl, negative_max_ttl", async () => {
    const up = await standIn({
      shape: (n) =>
        n.startsWith("long")
          ? { answers: [{ name: n, type: "A", class: "IN", ttl: 172_800, data: "192.0.2.1" }] }
          : n.startsWith("short")
            ? { answers: [{ name: n, type: "A", class: "IN", ttl: 5, data: "192.0.2.2" }] }
            : { rcode: "NXDOMAIN", authorities: [soa("example", 86_400, 86_400)] },
    });
    const { pipeline } = makePipeline([], [up.address], { cache: { max_ttl: 86_400, min_ttl: 30, negative_max_ttl: 3600 } });
    for (const pass of ["fetched", "cached"]) {
      expect([pass, (await ask(pipeline, "long.example")).msg.answers[0]!.ttl]).toEqual([pass, 86_400]);
      expect([pass, (await ask(pipeline, "short.example")).msg.answers[0]!.ttl]).toEqual([pass, 30]);
      expect([pass, (await ask(pipeline, "nx.example")).msg.authorities[0]!.ttl]).toEqual([pass, 3600]);
    }
    expect(up.count()).toBe(3);
  });

  test("1,000 identical concurrent misses make exactly one upstream query", async () => {
    const up = await standIn({ delayMs: () => 100 });
    const { pipeline, cacheCounters } = makePipeline([], [up.address]);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => ask(pipeline, "same.example", "A", { id: i })));
    expect(up.count()).toBe(1);
    expect(cacheCounters.coalesced).toBe(999);
    answers.forEach((a, i) => {
      expect(a.msg.id).toBe(i);
      expect(a.msg.answers[0]!.data).toBe(addrFor("same.example"));
    });
  });

  test("a waiter that gives up does not cancel the shared query for the others", async () => {
    const up = await standIn({ delayMs: () => 200 });
    const { pipeline } = makePipeline([], [up.address], { cache: { serve_stale: false } });
    const impatient = ask(pipeline, "share.example", "A", { deadlineMs: 50 });
    const patient = ask(pipeline, "share.example", "A", { deadlineMs: 1000 });
    expect((await impatient).msg.rcode).toBe("SERVFAIL");
    expect((await patient).msg.answers[0]!.data).toBe(addrFor("share.example"));
    expect(up.count()).toBe(1);
  });

  test("when every waiter has given up, the shared upstream query is cancelled", async () => {
    const up = await standIn({ silent: true });
    const clock = new FakeClock();
    const { pipeline, upstreamCounters } = makePipeline([], [up.address], { clock });
    const answer = ask(pipeline, "gone.example", "A", { deadlineMs: 50, clock });
    expect(await eventually(() => up.count() === 1)).toBe(true);
    clock.advance(50); // the client's deadline; the upstream attempt (500 ms) is still waiting
    expect((await answer).msg.rcode).toBe("SERVFAIL");
    expect(await eventually(() => pipeline.flights.inflight === 0)).toBe(true);
    expect(upstreamCounters.cancelled).toBe(1);
    expect(upstreamCounters.timeouts).toBe(0);
  });

  test("serve-stale: when the upstream goes silent, expired data is answered with TTL 30 and refreshed later", async () => {
    let silent = false;
    const up = await standIn({ answers: (n) => [{ name: n, type: "A", class: "IN", ttl: 2, data: "192.0.2.7" }] });
    const clock = new FakeClock();
    const { pipeline, cacheCounters } = makePipeline([], [up.address], { clock, cache: { stale_client_timeout_ms: 100 } });
    expect((await ask(pipeline, "stale.example", "A", { clock })).msg.answers[0]!.ttl).toBe(2);
    clock.advance(10_000);
    up.opts.silent = silent = true;
    const pending = ask(pipeline, "stale.example", "A", { deadlineMs: 1000, clock });
    expect(await eventually(() => up.count() === 2)).toBe(true);
    clock.advance(100); // stale_client_timeout_ms: the client gets the stale answer, the upstream query goes on
    const r = await pending;
    expect(r.msg.answers[0]!.data).toBe("192.0.2.7");
    expect(r.msg.answers[0]!.ttl).toBe(30);
    expect(cacheCounters.staleServed).toBe(1);
    // The refresh went on in the background; once the upstream is back, its next attempt fills the cache again.
    up.opts.silent = silent = !silent;
    clock.advance(500); // the silent attempt times out; the next one is answered
    expect(await eventually(() => pipeline.flights.inflight === 0)).toBe(true);
    const fresh = await ask(pipeline, "stale.example", "A", { clock });
    expect(fresh.msg.answers[0]!.ttl).toBe(2);
  });

  /** A pipeline that cached `name` (A `ip`, TTL 1) 5 s ago, from an upstream that now answers SERVFAIL. */
  async function expiredThenServfail(name: string, ip: string, servfailTtl: number) {
    const up = await standIn({ answers: (n) => [{ name: n, type: "A", class: "IN", ttl: 1, data: ip }] });
    const c = fakeClock();
    const { pipeline } = makePipeline([], [up.address], { now: c.now, cache: { servfail_ttl: servfailTtl } });
    await ask(pipeline, name);
    c.advance(5);
    up.opts.rcode = "SERVFAIL";
    return pipeline;
  }

  test("serve-stale also covers an upstream that fails outright", async () => {
    const pipeline = await expiredThenServfail("fail.example", "192.0.2.8", 0);
    const r = await ask(pipeline, "fail.example");
    expect(r.msg.rcode).toBe("NOERROR");
    expect(r.msg.answers[0]!.ttl).toBe(30);
  });

  test("a SERVFAIL that is cached (servfail_ttl) does not push out data that can still be served stale", async () => {
    const pipeline = await expiredThenServfail("keep.example", "192.0.2.10", 5);
    for (let i = 0; i < 3; i++) {
      const r = await ask(pipeline, "keep.example");
      expect(r.msg.rcode).toBe("NOERROR");
      expect(r.msg.answers[0]!.data).toBe("192.0.2.10");
      expect(r.msg.answers[0]!.ttl).toBe(30);
    }
  });

  test("prefetch: hits in the last 10% of the TTL refresh the entry once", async () => {
    const up = await standIn({ answers: (n) => [{ name: n, type: "A", class: "IN", ttl: 100, data: "192.0.2.9" }] });
    const c = fakeClock();
    const { pipeline, cacheCounters } = makePipeline([], [up.address], { now: c.now });
    await ask(pipeline, "pre.example");
    c.advance(50);
    for (let i = 0; i < 20; i++) expect((await ask(pipeline, "pre.example")).sync).toBe(true);
    expect(up.count()).toBe(1);
    c.advance(45);
    for (let i = 0; i < 50; i++) expect((await ask(pipeline, "pre.example")).msg.answers[0]!.ttl).toBeLessThanOrEqual(5);
    expect(await eventually(() => up.count() === 2 && pipeline.flights.inflight === 0)).toBe(true);
    expect(cacheCounters.prefetches).toBe(1);
    expect((await ask(pipeline, "pre.example")).msg.answers[0]!.ttl).toBe(100);
  });

  test("per-domain forwarding sends a zone's names to its own upstreams", async () => {
    const general = await standIn();
    const corp = await standIn();
    const { pool } = makePool([general.address], {}, [{ zone: "corp.example", upstreams: [corp.address] }]);
    const { pipeline } = makePipeline([], [], { forwarder: { pool } });
    await ask(pipeline, "host.corp.example");
    await ask(pipeline, "www.example.org");
    expect(corp.received.map((r) => r.name)).toEqual(["host.corp.example"]);
    expect(general.received.map((r) => r.name)).toEqual(["www.example.org"]);
  });

  test("0x20 on: the upstream sees mixed case and answers that echo it are accepted", async () => {
    const up = await standIn();
    const { pipeline } = makePipeline([], [up.address], { forwarder: { upstream: { randomize_case: true } } });
    const r = await ask(pipeline, "abcdefghijklmnopqrstuvwxyz.example");
    expect(r.msg.answers[0]!.data).toBe(addrFor("abcdefghijklmnopqrstuvwxyz.example"));
    const sent = up.received[0]!.name;
    expect(sent.toLowerCase()).toBe("abcdefghijklmnopqrstuvwxyz.example");
    expect(sent).not.toBe(sent.toLowerCase()); // 2^-33 chance of a false failure
    expect(r.msg.questions[0]!.name).toBe("abcdefghijklmnopqrstuvwxyz.example"); // client's own spelling back
  });

  test("0x20 on: an answer whose case differs is rejected; with 0x20 off the same server is fine", async () => {
    const up = await standIn({ lowercaseEcho: true });
    const on = makePipeline([], [up.address], { forwarder: { upstream: { randomize_case: true }, timeouts: { upstream_ms: 100 } } });
    const r = await ask(on.pipeline, "casetest.example", "A", { deadlineMs: 400 });
    expect(r.msg.rcode).toBe("SERVFAIL");
    expect(on.upstreamCounters.mismatched).toBeGreaterThan(0);
    const off = makePipeline([], [up.address]);
    expect((await ask(off.pipeline, "casetest.example")).msg.answers[0]!.data).toBe(addrFor("casetest.example"));
  });

  test("CNAME chains come back as given; loops and chains over the limit are refused", async () => {
    const chain = (n: string, len: number, loop = false) => {
      const recs = [];
      for (let i = 0; i < len; i++) {
        const from = i === 0 ? n : `c${i}.example`;
        const to = loop && i === len - 1 ? n : `c${i + 1}.example`;
        recs.push({ name: from, type: "CNAME", class: "IN", ttl: 60, data: to });
      }
      if (!loop) recs.push({ name: `c${len}.example`, type: "A", class: "IN", ttl: 60, data: "192.0.2.10" });
      return recs;
    };
    const up = await standIn({
      answers: (n) => (n.startsWith("ok") ? chain(n, 3) : n.startsWith("loop") ? chain(n, 3, true) : chain(n, 13)) as never,
    });
    const { pipeline, upstreamCounters } = makePipeline([], [up.address], { timeouts: { query_ms: 300 } });
    const ok = await ask(pipeline, "ok.example");
    expect(ok.msg.answers.map((a) => a.type)).toEqual(["CNAME", "CNAME", "CNAME", "A"]);
    expect((await ask(pipeline, "loop.example")).msg.rcode).toBe("SERVFAIL");
    expect((await ask(pipeline, "long.example")).msg.rcode).toBe("SERVFAIL");
    expect(upstreamCounters.badChains).toBeGreaterThanOrEqual(2);
  });
});

describe("relayed headers", () => {
  test("answers from an authoritative upstream go out with RA=1, AA=0 and AD=0, fresh and from the cache", async () => {
    // AA and AD from the upstream, no RA: what NSD sends a forwarder.
    const up = await standIn({ flags: 0x0400 | 0x0020 });
    const { pipeline } = makePipeline([], [up.address]);
    for (const expectSync of [false, true]) {
      const bytes = makeQuery("auth.example", "A");
      const slot = new Uint8Array(4096);
      slot.set(bytes);
      const q = new QueryInfo();
      let n = pipeline.answerNow(slot, bytes.length, q, true);
      expect(n === Outcome.PENDING).toBe(!expectSync);
      if (n === Outcome.PENDING) n = await pipeline.resolve(slot, new QueryInfo().copyFrom(q), true, Date.now() + 1000);
      const flags = (slot[2]! << 8) | slot[3]!;
      expect(flags & 0x8000).toBe(0x8000); // QR
      expect(flags & 0x0400).toBe(0); // AA
      expect(flags & 0x0100).toBe(0x0100); // RD, as the client asked
      expect(flags & 0x0080).toBe(0x0080); // RA
      expect(flags & 0x0020).toBe(0); // AD: nothing validated it here
      expect(decode(slot.subarray(0, n)).answers[0]!.data).toBe(addrFor("auth.example"));
    }
  });
  test("CD is the client's: a CD=1 query gets CD=1 back", async () => {
    const up = await standIn({ flags: 0x0400 });
    const { pipeline } = makePipeline([], [up.address]);
    const bytes = makeQuery("cd.example", "A");
    bytes[3]! |= 0x10;
    const slot = new Uint8Array(4096);
    slot.set(bytes);
    const q = new QueryInfo();
    expect(pipeline.answerNow(slot, bytes.length, q, true)).toBe(Outcome.PENDING);
    await pipeline.resolve(slot, new QueryInfo().copyFrom(q), true, Date.now() + 1000);
    expect(slot[3]! & 0x90).toBe(0x90);
  });
});
