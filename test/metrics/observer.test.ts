// The dashboard's per-second view: bounded top-domain counts.
import { describe, expect, test } from "bun:test";
import { Observer, TopK } from "../../src/metrics/observer";

describe("top domains", () => {
  test("stay bounded between decays when every name is new (a scan), and keep the names asked for most", () => {
    const top = new TopK(100);
    for (let i = 0; i < 50; i++) top.add("hot.example.");
    for (let i = 0; i < 10_000; i++) {
      top.add(`scan${i}.example.`);
      expect(top.size).toBeLessThan(200);
    }
    expect(top.top(1)[0]!.name).toBe("hot.example.");
  });
});

describe("top(n)", () => {
  test("gives the n largest counts, largest first, like a full sort", () => {
    const top = new TopK(5000);
    // counts in a scrambled order, with ties
    const want: Array<[string, number]> = [];
    for (let i = 0; i < 300; i++) {
      const n = (i * 7919) % 97;
      want.push([`n${i}.`, n]);
      for (let k = 0; k < n; k++) top.add(`n${i}.`);
    }
    const sorted = [...want].sort((a, b) => b[1] - a[1]);
    for (const n of [1, 3, 10, 50]) {
      const got = top.top(n);
      expect(got.length).toBe(n);
      expect(got.map((g) => g.count)).toEqual(sorted.slice(0, n).map(([, c]) => c));
      for (const g of got) expect(want.find(([name]) => name === g.name)![1]).toBe(g.count);
    }
    expect(top.top(0)).toEqual([]);
    expect(top.top(1000).length).toBe(want.filter(([, c]) => c > 0).length); // names never added are not there
  });
});

describe("a second nobody watches", () => {
  test("skipInterval moves the baselines on without sampling the query log", () => {
    const o = new Observer(100);
    const q = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 0]);
    for (let i = 0; i < 40; i++) {
      o.stats.record(0, 1, 0, 0.0001);
      o.log.add("127.0.0.1", Date.now(), q, 17, 1, 0, 0, 0.1);
    }
    o.skipInterval(0, 0);
    expect(o.domains.size).toBe(0); // nothing sampled
    for (let i = 0; i < 10; i++) {
      o.stats.record(0, 1, 0, 0.0001);
      o.log.add("127.0.0.1", Date.now(), q, 17, 1, 0, 0, 0.1);
    }
    const next = o.interval(0, 0);
    // the next interval counts only what came after the skipped one
    expect(o.domains.top(1)).toEqual([{ name: "abc.", count: 10 }]);
    expect(next.qps).toBeGreaterThan(0);
    expect(o.stats.total).toBe(50);
  });
});
