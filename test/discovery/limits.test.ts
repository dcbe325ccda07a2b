import { describe, expect, test } from "bun:test";
import { TokenBucket } from "../../src/discovery/limits";

describe("token bucket", () => {
  test("allows the burst at once, then no more than the rate", () => {
    let now = 0;
    const b = new TokenBucket(10, 20, () => now);
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (b.take()) allowed++;
    expect(allowed).toBe(20);
    let later = 0;
    for (let t = 0; t < 5000; t += 10) {
      now += 10;
      if (b.take()) later++;
    }
    expect(later).toBeGreaterThanOrEqual(49);
    expect(later).toBeLessThanOrEqual(50); // 5 s at 10/s
  });
});
