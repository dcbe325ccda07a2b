import { describe, expect, test } from "bun:test";
import { NONE, PacketCache, SLOT } from "../../src/cache/cache";
import type { CacheConfig } from "../../src/config/types";
import { CacheCounters } from "../../src/metrics/counters";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { decode, makeQuery } from "../helpers/dns";
import { cacheSettings } from "../helpers/pipeline";
import { exchange, response, soa } from "../helpers/responses";

function setup(opts: Partial<CacheConfig> = {}) {
  let now = 1_000_000;
  const counters = new CacheCounters();
  const settings = cacheSettings(opts);
  const cache = new PacketCache(() => settings, counters, () => now);
  return { cache, counters, advance: (s: number) => (now += s * 1000) };
}

/** Looks a query up and writes the hit into a fresh slot; returns the decoded answer or null. */
function hit(cache: PacketCache, name: string, type = "A", opts: Parameters<typeof makeQuery>[2] = {}, stale = false) {
  const bytes = makeQuery(name, type, opts);
  const slot = new Uint8Array(4096);
  slot.set(bytes);
  const q = new QueryInfo();
  parseQuery(slot, bytes.length, q);
  const e = cache.lookup(slot, q);
  if (e === NONE || (!stale && !cache.isFresh(e))) return null;
  const n = cache.writeAnswer(slot, q, e, stale);
  return { msg: decode(slot.subarray(0, n)), bytes: slot.slice(0, n) };
}

const A = (name: string, ttl: number, data = "192.0.2.1") => ({ name, type: "A", class: "IN", ttl, data }) as const;

describe("packet cache", () => {
  test("a hit carries the client's ID, the client's spelling of the name and counted-down TTLs", () => {
    const { cache, advance } = setup();
    const x = exchange("www.example.com", "A", response("www.example.com", "A", { answers: [A("www.example.com", 300)] }));
    expect(cache.insert(x.query, x.q, x.resp, x.scan)).not.toBe(NONE);
    advance(100);
    const r = hit(cache, "WWW.Example.COM", "A", { id: 4711 })!;
    expect(r.msg.id).toBe(4711);
    expect(r.msg.questions[0]!.name).toBe("WWW.Example.COM");
    expect(r.msg.answers[0]!.ttl).toBe(200);
    expect(r.msg.answers[0]!.data).toBe("192.0.2.1");
    advance(199);
    expect(hit(cache, "www.example.com")!.msg.answers[0]!.ttl).toBe(1);
    advance(1);
    expect(hit(cache, "www.example.com")).toBeNull(); // expired: not served fresh
  });

  test("the upstream's OPT is not replayed: EDNS clients get ours, others none", () => {
    const { cache } = setup();
    const x = exchange("e.example", "A", response("e.example", "A", { answers: [A("e.example", 60)], edns: true }));
    cache.insert(x.query, x.q, x.resp, x.scan);
    expect(hit(cache, "e.example")!.msg.additionals).toEqual([]);
    const withEdns = hit(cache, "e.example", "A", { edns: 4096 })!.msg;
    expect(withEdns.additionals.length).toBe(1);
    expect((withEdns.additionals[0] as unknown as { udpPayloadSize: number }).udpPayloadSize).toBe(1232);
  });

  test("the key includes type and the DO bit", () => {
    const { cache } = setup();
    const x = exchange("k.example", "A", response("k.example", "A", { answers: [A("k.example", 60)] }));
    cache.insert(x.query, x.q, x.resp, x.scan);
    expect(hit(cache, "k.example", "AAAA")).toBeNull();
    expect(hit(cache, "k.example", "A", { edns: 1232, dnssec: true })).toBeNull();
    expect(hit(cache, "k.example", "A", { edns: 1232 })).not.toBeNull();
  });

  test("RFC 2308: NXDOMAIN with an SOA is cached for min(SOA TTL, SOA minimum)", () => {
    const { cache, advance } = setup();
    const x = exchange("nx.example", "A", response("nx.example", "A", { rcode: "NXDOMAIN", authorities: [soa("example", 900, 120)] }));
    const e = cache.insert(x.query, x.q, x.resp, x.scan);
    expect(cache.ttl(e)).toBe(120);
    const r = hit(cache, "nx.example")!.msg;
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.authorities[0]!.ttl).toBe(120); // the SOA's TTL never outlives the negative entry
    advance(120);
    expect(hit(cache, "nx.example")).toBeNull();
  });

  test("RFC 2308: NODATA with an SOA is cached; negative TTLs are capped by negative_max_ttl", () => {
    const { cache } = setup({ negative_max_ttl: 60 });
    const x = exchange("nd.example", "AAAA", response("nd.example", "AAAA", { authorities: [soa("example", 3600, 3600)] }));
    expect(cache.ttl(cache.insert(x.query, x.q, x.resp, x.scan))).toBe(60);
    expect(hit(cache, "nd.example", "AAAA")!.msg.answers).toEqual([]);
  });

  test("RFC 2308: negative answers without an SOA are not cached", () => {
    const { cache, counters } = setup();
    const nx = exchange("n1.example", "A", response("n1.example", "A", { rcode: "NXDOMAIN" }));
    const nd = exchange("n2.example", "A", response("n2.example", "A"));
    expect(cache.insert(nx.query, nx.q, nx.resp, nx.scan)).toBe(NONE);
    expect(cache.insert(nd.query, nd.q, nd.resp, nd.scan)).toBe(NONE);
    expect(counters.uncacheable).toBe(2);
    expect(cache.entries).toBe(0);
  });

  test("truncated responses are not cached; SERVFAIL is kept only briefly and never served stale", () => {
    const { cache, advance } = setup({ servfail_ttl: 5 });
    const tc = exchange("tc.example", "A", response("tc.example", "A", { tc: true }));
    expect(cache.insert(tc.query, tc.q, tc.resp, tc.scan)).toBe(NONE);
    const sf = exchange("sf.example", "A", response("sf.example", "A", { rcode: "SERVFAIL" }));
    expect(cache.ttl(cache.insert(sf.query, sf.q, sf.resp, sf.scan))).toBe(5);
    expect(hit(cache, "sf.example")!.msg.rcode).toBe("SERVFAIL");
    advance(6);
    expect(hit(cache, "sf.example", "A", {}, true)).toBeNull();
  });

  test("TTLs are clamped to [min_ttl, max_ttl]", () => {
    const { cache } = setup({ min_ttl: 60, max_ttl: 3600 });
    const low = exchange("low.example", "A", response("low.example", "A", { answers: [A("low.example", 5)] }));
    const high = exchange("high.example", "A", response("high.example", "A", { answers: [A("high.example", 999_999)] }));
    expect(cache.ttl(cache.insert(low.query, low.q, low.resp, low.scan))).toBe(60);
    expect(cache.ttl(cache.insert(high.query, high.q, high.resp, high.scan))).toBe(3600);
    expect(hit(cache, "low.example")!.msg.answers[0]!.ttl).toBe(60);
    expect(hit(cache, "high.example")!.msg.answers[0]!.ttl).toBe(3600);
  });

  test("expired data is served stale with TTL 30 within the stale window, then swept", () => {
    const { cache, advance } = setup({ stale_max_age: 100, stale_answer_ttl: 30 });
    const x = exchange("st.example", "A", response("st.example", "A", { answers: [A("st.example", 10)] }));
    cache.insert(x.query, x.q, x.resp, x.scan);
    advance(50);
    expect(hit(cache, "st.example")).toBeNull();
    expect(hit(cache, "st.example", "A", {}, true)!.msg.answers[0]!.ttl).toBe(30);
    expect(cache.sweep()).toBe(0);
    advance(61);
    expect(cache.sweep()).toBe(1);
    expect(cache.entries).toBe(0);
  });

  test("the byte limit is kept by eviction, and entries asked for again survive one-hit wonders (SIEVE)", () => {
    const { cache, counters } = setup({ max_bytes: 64 * 1024 });
    const insert = (n: string) => {
      const x = exchange(n, "A", response(n, "A", { answers: [A(n, 300)] }));
      cache.insert(x.query, x.q, x.resp, x.scan);
    };
    for (let i = 0; i < 20; i++) insert(`hot${i}.example`);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20; i++) expect(hit(cache, `hot${i}.example`)).not.toBeNull();
      for (let i = 0; i < 50; i++) insert(`scan${round}-${i}.example`);
    }
    expect(cache.sizeBytes).toBeLessThanOrEqual(64 * 1024);
    expect(counters.evictions).toBeGreaterThan(500);
    for (let i = 0; i < 20; i++) expect(hit(cache, `hot${i}.example`)).not.toBeNull();
  });

  test("the entry limit is kept, and flush by name or in full empties it", () => {
    const { cache } = setup({ max_entries: 10 });
    for (let i = 0; i < 25; i++) {
      const n = `e${i}.example`;
      const x = exchange(n, "A", response(n, "A", { answers: [A(n, 300)] }));
      cache.insert(x.query, x.q, x.resp, x.scan);
    }
    expect(cache.entries).toBe(10);
    const name = new Uint8Array([3, 101, 50, 52, 7, 101, 120, 97, 109, 112, 108, 101, 0]); // e24.example
    expect(cache.flush(name)).toBe(1);
    expect(cache.flush()).toBe(9);
    expect(cache.sizeBytes).toBe(0);
  });

  test("answers larger than an inline slot round-trip whole", () => {
    const { cache } = setup();
    const answers = Array.from({ length: 12 }, (_, i) => A("big.example", 300 + i, `192.0.2.${i + 1}`));
    const x = exchange("big.example", "A", response("big.example", "A", { answers }));
    expect(x.resp.length).toBeGreaterThan(SLOT);
    const e = cache.insert(x.query, x.q, x.resp, x.scan);
    expect(e).not.toBe(NONE);
    const r = hit(cache, "big.example")!.msg;
    expect(r.answers.map((a) => a.data)).toEqual(answers.map((a) => a.data));
    expect(r.answers.map((a) => a.ttl)).toEqual(answers.map((a) => a.ttl));
    expect(cache.sizeBytes).toBeGreaterThan(x.resp.length);
    expect(cache.flush()).toBe(1);
    expect(cache.sizeBytes).toBe(0);
  });

  test("growing past the first table keeps every entry findable, and removed indexes are reused with a new generation", () => {
    const { cache } = setup();
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const n = `g${i}.example`;
      const x = exchange(n, "A", response(n, "A", { answers: [A(n, 300, `10.0.${i >> 8}.${i & 255}`)] }));
      expect(cache.insert(x.query, x.q, x.resp, x.scan)).not.toBe(NONE);
    }
    expect(cache.entries).toBe(N);
    for (let i = 0; i < N; i += 7) expect(hit(cache, `g${i}.example`)!.msg.answers[0]!.data).toBe(`10.0.${i >> 8}.${i & 255}`);
    const name = new Uint8Array([2, 103, 55, 7, 101, 120, 97, 109, 112, 108, 101, 0]); // g7.example
    const x = exchange("g7.example", "A", response("g7.example", "A", { answers: [A("g7.example", 300)] }));
    const q = x.q;
    const slot = new Uint8Array(512);
    slot.set(x.query);
    const before = cache.lookup(slot, q);
    const gen = cache.generation(before);
    expect(cache.startRefresh(before)).toBe(true);
    expect(cache.startRefresh(before)).toBe(false);
    expect(cache.flush(name)).toBe(1);
    expect(cache.generation(before)).not.toBe(gen);
    const n = "new.example";
    const y = exchange(n, "A", response(n, "A", { answers: [A(n, 60, "192.0.2.99")] }));
    const again = cache.insert(y.query, y.q, y.resp, y.scan);
    expect(again).toBe(before); // the freed index is taken first
    cache.endRefresh(before, gen); // a refresh of the old entry ending late leaves the new one alone...
    expect(cache.isRefreshing(again)).toBe(false); // ...which never started one
    expect(hit(cache, "g7.example")).toBeNull();
    expect(hit(cache, n)!.msg.answers[0]!.data).toBe("192.0.2.99");
  });

  test("a SERVFAIL does not replace an answer still inside its stale window", () => {
    const { cache, advance } = setup({ servfail_ttl: 5, stale_max_age: 100 });
    const ok = exchange("sv.example", "A", response("sv.example", "A", { answers: [A("sv.example", 10)] }));
    cache.insert(ok.query, ok.q, ok.resp, ok.scan);
    advance(20);
    const sf = exchange("sv.example", "A", response("sv.example", "A", { rcode: "SERVFAIL" }));
    expect(cache.insert(sf.query, sf.q, sf.resp, sf.scan)).toBe(NONE);
    expect(hit(cache, "sv.example", "A", {}, true)!.msg.answers[0]!.ttl).toBe(30);
    advance(100);
    expect(cache.insert(sf.query, sf.q, sf.resp, sf.scan)).not.toBe(NONE); // past the window: the failure is kept
    expect(hit(cache, "sv.example")!.msg.rcode).toBe("SERVFAIL");
  });
});
