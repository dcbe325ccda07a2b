import { describe, expect, test } from "bun:test";
import { FakeClock } from "../helpers/clock";
import { systemClock } from "../../src/lifecycle/clock";

describe("clocks", () => {
  test("a fake clock fires timers only when moved past them, in order, and cancelled ones never", () => {
    const c = new FakeClock(1000);
    const fired: string[] = [];
    c.after(30, () => fired.push("b"));
    c.after(10, () => fired.push("a"));
    const t = c.after(20, () => fired.push("never"));
    c.cancel(t);
    c.advance(5);
    expect(fired).toEqual([]);
    c.advance(100);
    expect(fired).toEqual(["a", "b"]);
    expect(c.now()).toBe(1105);
    expect(c.pending).toBe(0);
  });
  test("a timer set by a timer fires in the same advance when it falls due", () => {
    const c = new FakeClock(0);
    const at: number[] = [];
    c.after(10, () => c.after(10, () => at.push(c.now())));
    c.advance(25);
    expect(at).toEqual([20]);
  });
  test("the system clock is the wall clock and real timers", async () => {
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(5);
    let fired = false;
    systemClock.after(1, () => (fired = true));
    await Bun.sleep(20);
    expect(fired).toBe(true);
  });
});
