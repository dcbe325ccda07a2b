// The dashboard's per-second view: bounded top-domain counts.
import { describe, expect, test } from "bun:test";
import { TopK } from "../../src/metrics/observer";

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
