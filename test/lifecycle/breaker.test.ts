import { describe, expect, test } from "bun:test";
import { CircuitBreaker } from "../../src/lifecycle/breaker";

describe("circuit breaker", () => {
  test("opens after 5 consecutive failures, half-opens after 30 s with one trial, closes on success", () => {
    let now = 0;
    const b = new CircuitBreaker(5, 30_000, 30_000, () => now);
    for (let i = 0; i < 4; i++) b.failure();
    b.success();
    for (let i = 0; i < 4; i++) b.failure();
    expect(b.state).toBe("closed");
    b.failure();
    expect(b.state).toBe("open");
    expect(b.allow()).toBe(false);
    now += 30_000;
    expect(b.allow()).toBe(true);
    expect(b.state).toBe("half-open");
    expect(b.allow()).toBe(false);
    b.success();
    expect(b.state).toBe("closed");
  });
  test("a failed trial opens it again; a released trial is offered again", () => {
    let now = 0;
    const b = new CircuitBreaker(1, 1000, 1000, () => now);
    b.failure();
    now += 1000;
    expect(b.allow()).toBe(true);
    b.release();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe("open");
    expect(b.opened).toBe(2);
  });
});
