import { describe, expect, test } from "bun:test";
import { toWire } from "../../src/wire/name";
import { makePool } from "../helpers/pipeline";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("circuit breaker", () => {
  test("5 consecutive failures open it; after 30 s one probe goes through; success closes it", () => {
    const c = clock();
    const { pool } = makePool(["127.0.0.1:1"], { breaker_failures: 5, breaker_open_ms: 30_000, breaker_max_open_ms: 300_000 }, [], c.now);
    const s = pool.defaults[0]!;
    for (let i = 0; i < 4; i++) s.failure(true);
    expect(s.state).toBe("closed");
    s.failure(true);
    expect(s.state).toBe("open");
    expect(s.available()).toBe(false);
    c.advance(29_999);
    expect(s.available()).toBe(false);
    c.advance(1);
    expect(s.available()).toBe(true);
    expect(s.state).toBe("half-open");
    s.begin();
    expect(s.available()).toBe(false); // only one probe at a time
    s.success(12);
    expect(s.state).toBe("closed");
    expect(s.available()).toBe(true);
  });

  test("a failed half-open probe reopens it for twice as long (exponential backoff, capped)", () => {
    const c = clock();
    const { pool } = makePool(["127.0.0.1:1"], { breaker_failures: 1, breaker_open_ms: 1000, breaker_max_open_ms: 3000 }, [], c.now);
    const s = pool.defaults[0]!;
    s.failure(true);
    const periods: number[] = [];
    for (let i = 0; i < 4; i++) {
      let waited = 0;
      while (!s.available()) {
        c.advance(100);
        waited += 100;
      }
      periods.push(waited);
      s.begin();
      s.failure(true);
    }
    expect(periods).toEqual([1000, 2000, 3000, 3000]);
  });

  test("an abandoned probe (the client gave up) frees the half-open slot without counting a failure", () => {
    const c = clock();
    const { pool } = makePool(["127.0.0.1:1"], { breaker_failures: 1, breaker_open_ms: 10, breaker_max_open_ms: 10 }, [], c.now);
    const s = pool.defaults[0]!;
    s.failure(true);
    c.advance(10);
    expect(s.available()).toBe(true);
    s.begin();
    s.abandon();
    expect(s.available()).toBe(true);
    expect(s.failures).toBe(1);
  });
});

describe("upstream selection", () => {
  const addrs = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"];
  test("ordered keeps the configured order", () => {
    const { pool } = makePool(addrs, { strategy: "ordered" });
    expect(pool.order(pool.defaults).map((s) => s.upstream.port)).toEqual([1, 2, 3]);
  });
  test("round robin rotates the first choice", () => {
    const { pool } = makePool(addrs, { strategy: "round_robin" });
    const firsts = [0, 1, 2, 3].map(() => pool.order(pool.defaults)[0]!.upstream.port);
    expect(firsts).toEqual([1, 2, 3, 1]);
  });
  test("fastest puts the lowest smoothed RTT first, explores sometimes", () => {
    const { pool } = makePool(addrs, { strategy: "fastest", exploration: 0 });
    pool.defaults[0]!.success(50);
    pool.defaults[1]!.success(5);
    pool.defaults[2]!.success(20);
    expect(pool.order(pool.defaults).map((s) => s.upstream.port)).toEqual([2, 3, 1]);
    const { pool: exploring } = makePool(addrs, { strategy: "fastest", exploration: 0.5 });
    exploring.defaults.forEach((s, i) => s.success([50, 5, 20][i]!));
    const firsts = new Set(Array.from({ length: 200 }, () => exploring.order(exploring.defaults)[0]!.upstream.port));
    expect(firsts.size).toBeGreaterThan(1);
  });
  test("open upstreams are skipped; when all are open the earliest-opened is still tried", () => {
    const c = clock();
    const { pool } = makePool(addrs, { strategy: "ordered", breaker_failures: 1, breaker_open_ms: 60_000, breaker_max_open_ms: 60_000 }, [], c.now);
    pool.defaults[0]!.failure(true);
    expect(pool.order(pool.defaults).map((s) => s.upstream.port)).toEqual([2, 3]);
    c.advance(10);
    pool.defaults[1]!.failure(true);
    c.advance(10);
    pool.defaults[2]!.failure(true);
    expect(pool.order(pool.defaults).map((s) => s.upstream.port)).toEqual([1]);
  });
});

describe("per-domain forwarding", () => {
  test("the longest matching zone wins; other names use the defaults", () => {
    const { pool } = makePool(["127.0.0.1:1"], {}, [
      { zone: "example", upstreams: ["127.0.0.1:2"] },
      { zone: "corp.example", upstreams: ["127.0.0.1:3"] },
    ]);
    const port = (n: string) => {
      const w = toWire(n);
      return pool.candidates(w, 0, w.length)[0]!.upstream.port;
    };
    expect(port("www.corp.example")).toBe(3);
    expect(port("CORP.example")).toBe(3);
    expect(port("x.example")).toBe(2);
    expect(port("example")).toBe(2);
    expect(port("notcorp.example.org")).toBe(1);
    expect(port("example.org")).toBe(1);
  });
  test("upstream health is shared by address across zones and reloads", () => {
    const { pool, registry } = makePool(["127.0.0.1:1"], {}, [{ zone: "a", upstreams: ["127.0.0.1:1"] }]);
    const w = toWire("x.a");
    expect(pool.candidates(w, 0, w.length)[0]).toBe(pool.defaults[0]!);
    expect(registry.size).toBe(1);
  });
});
