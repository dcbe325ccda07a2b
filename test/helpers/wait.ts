// Polling for a condition in whole-process tests.
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
