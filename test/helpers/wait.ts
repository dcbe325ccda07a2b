// Polling for a condition: in whole-process tests, and for real I/O to happen on a FakeClock (never for time to pass).
import { sleep } from "../../src/lifecycle/tasks";

/** Calls fn every 100 ms until ok(result) or `ms` passes; returns the last result (the caller asserts on it). */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await sleep(100);
    v = await fn();
  }
  return v;
}

/** Lets the promise reactions and socket callbacks that are due run (no time passes on a FakeClock). */
export const turn = (): Promise<void> => Bun.sleep(0);

/** Polls, bounded, until `ok` holds; returns whether it does. */
export async function eventually(ok: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await turn();
  return ok();
}

/** Callbacks run after a delay, all cancelled at once when a stand-in closes (none left to fire after it). */
export class Later {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  /** Runs `fn` after `ms` (at once when `ms` is 0 or less). */
  run(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Cancels every callback not run yet. */
  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

