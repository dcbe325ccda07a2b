// The discovery pool (seed 004): N Bun workers take jobs from a bounded queue; submitting never blocks (a
// full queue drops and counts). A token bucket limits the rate and a circuit breaker stops discovery during
// failure storms; jobs held back by either stay queued and go later. Each worker is a task-manager task, so a
// crashed worker is logged and replaced with backoff, and shutdown stops them all.
import { sleep, Wakeup, type TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import { CircuitBreaker, TokenBucket } from "./limits";
import type { DiscoveryResult, Method, MethodConfig } from "./methods";

/** How often held-back jobs (rate limit, open breaker) are offered again. */
const DISPATCH_MS = 50;
/** Longest sleep of an idle dispatcher (submit() wakes it sooner). */
const IDLE_CHECK_MS = 1000;

export interface PoolOptions {
  workers: number;
  queueSize: number;
  rate: number;
  burst: number;
  breakerFailures: number;
  breakerOpenMs: number;
  methods: MethodConfig;
}

export class DiscoveryMetrics {
  submitted = 0;
  dropped = 0;
  total = 0;
  succeeded = 0;
  failed = 0;
  rateLimited = 0;
  breakerBlocked = 0;
  latency = { count: 0, sumMs: 0, minMs: 0, maxMs: 0, buckets: [0, 0, 0, 0, 0, 0, 0] as number[] };
  byMethod: Record<Method, { named: number; tried: number }> = {
    ptr: { named: 0, tried: 0 },
    netbios: { named: 0, tried: 0 },
    mdns: { named: 0, tried: 0 },
    dhcp: { named: 0, tried: 0 },
  };
}
/** Upper bounds (ms) of the latency histogram buckets; the last bucket is everything above. */
export const LATENCY_BUCKETS_MS = [10, 50, 100, 250, 1000, 5000];

function workerEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./discovery/worker.ts" : new URL("./worker.ts", import.meta.url);
}

interface Slot {
  worker: Worker | null;
  busy: boolean;
  done: ((r: DiscoveryResult) => void) | null;
}

export class DiscoveryPool {
  readonly metrics = new DiscoveryMetrics();
  readonly bucket: TokenBucket;
  readonly breaker: CircuitBreaker;
  private readonly high: string[] = [];
  private readonly low: string[] = [];
  private readonly queued = new Set<string>();
  private readonly slots: Slot[] = [];
  private dispatching = false;
  /** The dispatcher's idle sleep, ended when a job is queued that could not go at once. */
  private readonly idleSleep = new Wakeup();

  constructor(
    public opts: PoolOptions,
    private readonly onResult: (r: DiscoveryResult) => void,
  ) {
    this.bucket = new TokenBucket(opts.rate, opts.burst);
    this.breaker = new CircuitBreaker(opts.breakerFailures, opts.breakerOpenMs);
  }

  get depth(): number {
    return this.high.length + this.low.length;
  }

  get liveWorkers(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  /** Starts the workers as tasks, plus the dispatcher that retries held-back jobs. */
  start(tasks: TaskManager): void {
    for (let i = 0; i < this.opts.workers; i++) {
      const slot: Slot = { worker: null, busy: false, done: null };
      this.slots.push(slot);
      tasks.register(`discovery-worker-${i}`, "discovery-workers", (signal) => this.runWorker(slot, signal));
    }
    // Held-back jobs (rate limit, open breaker) are retried every DISPATCH_MS; with nothing queued the loop
    // sleeps until submit() wakes it, instead of waking 20 times a second to find nothing to do.
    tasks.register("discovery-dispatch", "discovery", async (signal) => {
      while (!signal.aborted) {
        if (this.depth === 0) {
          await this.idleSleep.sleep(IDLE_CHECK_MS, signal);
          continue;
        }
        await sleep(DISPATCH_MS, signal);
        if (!signal.aborted) this.dispatch();
      }
    });
  }

  /** Non-blocking: queues a client for naming (known clients first); false when dropped (full) or already queued. */
  submit(ip: string, known: boolean): boolean {
    if (this.queued.has(ip)) return false;
    if (this.depth >= this.opts.queueSize) {
      this.metrics.dropped++;
      return false;
    }
    (known ? this.high : this.low).push(ip);
    this.queued.add(ip);
    this.metrics.submitted++;
    this.dispatch();
    if (this.depth > 0) this.idleSleep.wake();
    return true;
  }

  private async runWorker(slot: Slot, signal: AbortSignal): Promise<void> {
    const worker = new Worker(workerEntry());
    slot.worker = worker;
    try {
      await new Promise<void>((resolve, reject) => {
        worker.onmessage = (ev: MessageEvent<DiscoveryResult>) => slot.done?.(ev.data);
        worker.onerror = (ev) => reject(new Error(`discovery worker crashed: ${(ev as ErrorEvent).message}`));
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
        this.dispatch();
      });
    } finally {
      worker.terminate();
      slot.worker = null;
      if (slot.busy) slot.done?.({ ip: "", name: null, source: null, tried: [], unreachable: true, ms: 0 });
    }
  }

  /** Hands queued jobs to idle workers as far as the breaker and the bucket allow. */
  dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (const slot of this.slots) {
        if (!slot.worker || slot.busy || this.depth === 0) continue;
        if (!this.breaker.allow()) {
          this.metrics.breakerBlocked++;
          return;
        }
        if (!this.bucket.take()) {
          this.metrics.rateLimited++;
          this.breaker.release(); // a half-open trial not made goes back
          return;
        }
        const ip = (this.high.length ? this.high : this.low).shift()!;
        this.queued.delete(ip);
        slot.busy = true;
        this.metrics.total++;
        slot.done = (r) => {
          slot.busy = false;
          slot.done = null;
          if (r.ip) this.record(r);
          this.dispatch();
        };
        slot.worker.postMessage({ ip, cfg: this.opts.methods });
      }
    } finally {
      this.dispatching = false;
    }
  }

  private record(r: DiscoveryResult): void {
    const m = this.metrics;
    const l = m.latency;
    l.count++;
    l.sumMs += r.ms;
    l.minMs = l.count === 1 ? r.ms : Math.min(l.minMs, r.ms);
    l.maxMs = Math.max(l.maxMs, r.ms);
    const b = LATENCY_BUCKETS_MS.findIndex((x) => r.ms <= x);
    l.buckets[b < 0 ? LATENCY_BUCKETS_MS.length : b]!++;
    for (const t of r.tried) m.byMethod[t].tried++;
    if (r.name && r.source) {
      m.succeeded++;
      m.byMethod[r.source].named++;
      this.breaker.success();
    } else {
      m.failed++;
      this.breaker.failure();
    }
    try {
      this.onResult(r);
    } catch (err) {
      log.error("discovery result handler failed", { err });
    }
  }
}
