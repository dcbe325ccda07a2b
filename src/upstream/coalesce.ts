// Request coalescing (seed 001 "singleflight"): identical concurrent misses share one upstream query.
// Each waiter keeps its own deadline; the shared query is cancelled only when every waiter has given up
// (or its own deadline passes), so one impatient client never fails the others.

export interface Flight<V> {
  promise: Promise<V>;
  /** True when this caller joined a query someone else started. */
  joined: boolean;
  /** Call once when this waiter stops waiting (answered or gave up). */
  leave(): void;
}

interface Shared<V> {
  promise: Promise<V>;
  controller: AbortController;
  waiters: number;
  settled: boolean;
}

export class Coalescer<V> {
  private readonly flights = new Map<string, Shared<V>>();

  get inflight(): number {
    return this.flights.size;
  }

  /**
   * Joins the in-flight query for `key`, or starts one with `start(signal)`. `start` must settle (never hang)
   * once its signal aborts.
   */
  join(key: string, start: (signal: AbortSignal) => Promise<V>): Flight<V> {
    let shared = this.flights.get(key);
    const joined = shared !== undefined;
    if (!shared) {
      const controller = new AbortController();
      const s: Shared<V> = { promise: undefined as unknown as Promise<V>, controller, waiters: 0, settled: false };
      s.promise = start(controller.signal).finally(() => {
        s.settled = true;
        if (this.flights.get(key) === s) this.flights.delete(key);
      });
      this.flights.set(key, s);
      shared = s;
    }
    const s = shared;
    s.waiters++;
    let left = false;
    return {
      promise: s.promise,
      joined,
      leave: () => {
        if (left) return;
        left = true;
        if (--s.waiters === 0 && !s.settled) s.controller.abort();
      },
    };
  }

  /** Aborts every in-flight query (shutdown). */
  abortAll(): void {
    for (const s of this.flights.values()) s.controller.abort();
  }
}
