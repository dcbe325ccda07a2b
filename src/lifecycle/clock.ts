// Time as an input (STYLE.md): code that decides by time — deadlines, waits, attempt timeouts — reads it from a
// Clock, so tests can move time instead of sleeping.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; cancel() stops it. */
  after(ms: number, fn: () => void): TimerHandle;
  cancel(timer: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms),
  cancel: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};
