import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sleep, TaskManager, Wakeup } from "../../src/lifecycle/tasks";
import { setLogSink } from "../../src/metrics/log";

const lines: string[] = [];
let restore: (l: string) => void;
beforeAll(() => {
  restore = setLogSink((l) => lines.push(l));
});
afterAll(() => {
  setLogSink(restore);
});

const fast = { initialMs: 10, maxMs: 80, resetAfterMs: 60_000 };

describe("task manager", () => {
  test("a task that throws is logged and restarted with growing backoff", async () => {
    const tm = new TaskManager(fast);
    const starts: number[] = [];
    tm.register("flaky", "test", async () => {
      starts.push(Date.now());
      throw new Error("boom");
    });
    await sleep(250);
    await tm.stopAll(1000);
    expect(starts.length).toBeGreaterThanOrEqual(4);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[1]!).toBeGreaterThanOrEqual(gaps[0]! - 2); // 10, 20, 40, 80…
    expect(gaps[2]!).toBeGreaterThanOrEqual(35);
    expect(lines.some((l) => l.includes("task failed") && l.includes("boom"))).toBe(true);
    const info = tm.list().find((t) => t.name === "flaky")!;
    expect(info.restarts).toBeGreaterThanOrEqual(3);
    expect(info.lastError).toBe("boom");
  });

  test("stopAll aborts every task, waits for them and is idempotent", async () => {
    const tm = new TaskManager(fast);
    let stopped = 0;
    for (const n of ["a", "b", "c"]) {
      tm.register(n, n === "a" ? "x" : "y", async (signal) => {
        await new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        stopped++;
      });
    }
    expect(tm.byCategory()).toEqual({ x: 1, y: 2 });
    const p1 = tm.stopAll(1000);
    const p2 = tm.stopAll(1000);
    expect(p1).toBe(p2);
    expect(await p1).toEqual([]);
    expect(stopped).toBe(3);
    expect(tm.byCategory()).toEqual({});
    expect(() => tm.register("late", "x", async () => {})).toThrow("stopping");
  });

  test("a task that ignores its signal is reported as stuck after the timeout", async () => {
    const tm = new TaskManager(fast);
    tm.register("stubborn", "test", () => new Promise(() => {}));
    expect(await tm.stopAll(50)).toEqual(["stubborn"]);
  });

  test("periodic tasks run on their interval and stop with the manager", async () => {
    const tm = new TaskManager(fast);
    let runs = 0;
    tm.every("tick", "timer", 20, () => {
      runs++;
    });
    await sleep(130);
    await tm.stopAll(500);
    const after = runs;
    expect(after).toBeGreaterThanOrEqual(3);
    await sleep(60);
    expect(runs).toBe(after);
  });

  test("sleep ends early when woken through its wakeable hook (once; later calls are no-ops) or aborted; Wakeup wraps it", async () => {
    let wake!: () => void;
    const t0 = performance.now();
    const p = sleep(5_000, undefined, (w) => (wake = w));
    setTimeout(() => wake(), 20);
    await p;
    expect(performance.now() - t0).toBeLessThan(1_000);
    wake(); // idempotent
    const c = new AbortController();
    const q = sleep(5_000, c.signal, () => {});
    c.abort();
    await q;
    expect(performance.now() - t0).toBeLessThan(1_000);
    const w = new Wakeup();
    w.wake(); // nobody sleeps: a no-op, not a wake-up saved for later
    const t1 = performance.now();
    const r = w.sleep(5_000);
    setTimeout(w.wake, 20);
    await r;
    expect(performance.now() - t1).toBeLessThan(1_000);
    const early = performance.now();
    await w.sleep(60); // the earlier wake did not carry over
    expect(performance.now() - early).toBeGreaterThanOrEqual(55);
  });

  test("a duplicate live name is refused", () => {
    const tm = new TaskManager(fast);
    tm.register("one", "x", (s) => new Promise((r) => s.addEventListener("abort", () => r())));
    expect(() => tm.register("one", "x", async () => {})).toThrow("already registered");
    return tm.stopAll(500);
  });
});
