// The discovery pool (seed 004): up to N Bun workers take jobs from a bounded queue; submitting never blocks
// (a full queue drops and counts). A token bucket limits the rate and a circuit breaker stops discovery during
// failure storms; jobs held back by either stay queued and go later. New clients are rare once a network is
// known, so a worker starts only when a job is ready and no started one is free, and an idle one is let go.
// Each worker's life is a task-manager task, so a crashed worker is logged and replaced with backoff, and
// shutdown stops them all.
import { sleep, Wakeup, type TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import type { DiscoveryConfig } from "../config/types";
import { CircuitBreaker, TokenBucket } from "./limits";
import type { DiscoveryResult, Method, MethodConfig } from "./methods";

/** How often held-back jobs (rate limit, open breaker) are offered again. */
const DISPATCH_MS = 50;
/** Longest sleep of an idle dispatcher (submit() wakes it sooner). */
const IDLE_CHECK_MS = 1000;

/** The discovery section (workers, queue, token bucket, breaker, methods and their timeouts, ports, leases, idle_ms). */
export type PoolOptions = DiscoveryConfig;

/** What a worker is told to do a discovery with (it is posted to the worker), from the discovery section. */
export function methodConfig(d: DiscoveryConfig, dns: { host: string; port: number }): MethodConfig {
  return {
    methods: d.methods,
    timeoutMs: { ptr: d.ptr_timeout_ms, netbios: d.netbios_timeout_ms, mdns: d.mdns_timeout_ms, dhcp: 0 },
    dns,
    netbiosPort: d.netbios_port,
    mdnsPort: d.mdns_port,
    leases: d.leases,
  };
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
  /** Workers started (on demand, or replacing one that failed) and let go after the idle period. */
  workerStarts = 0;
  idleStops = 0;
}
/** Upper bounds (ms) of the latency histogram buckets; the last bucket is everything above. */
export const LATENCY_BUCKETS_MS = [10, 50, 100, 250, 1000, 5000];

function workerEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./discovery/worker.ts" : new URL("./worker.ts", import.meta.url);
}

interface Slot {
  name: string;
  /** Its task is registered: from the start of its first worker until it is let go. */
  live: boolean;
  /** Started for a job (not a replacement after a failure). */
  fresh: boolean;
  worker: Worker | null;
  busy: boolean;
  done: ((r: DiscoveryResult) => void) | null;
  /** When it last took or finished a job, on the pool's clock. */
  lastActive: number;
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

  private tasks: TaskManager | null = null;

  private readonly methods: MethodConfig;

  /** @param dns bunbound's own listener, where PTR discovery asks. */
  constructor(
    public opts: PoolOptions,
    dns: { host: string; port: number },
    private readonly onResult: (r: DiscoveryResult) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucket = new TokenBucket(opts.rate, opts.burst);
    this.breaker = new CircuitBreaker(opts.breaker_failures, opts.breaker_open_ms);
    this.methods = methodConfig(opts, dns);
  }

  get depth(): number {
    return this.high.length + this.low.length;
  }

  get liveWorkers(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  private get idleMs(): number {
    return this.opts.idle_ms;
  }

  /** Starts the dispatcher that retries held-back jobs; workers start as jobs need them. */
  start(tasks: TaskManager): void {
    this.tasks = tasks;
    for (let i = 0; i < this.opts.workers; i++) this.slots.push({ name: `discovery-worker-${i}`, live: false, fresh: false, worker: null, busy: false, done: null, lastActive: 0 });
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
    if (this.depth >= this.opts.queue_size) {
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

  /** One worker's life in `slot`: until the idle period passes with no job, shutdown, or the worker fails. */
  private async runWorker(slot: Slot, signal: AbortSignal): Promise<void> {
    if (!slot.fresh && this.depth === 0) return this.letGo(slot); // a replacement with nothing left to do
    slot.fresh = false;
    const worker = new Worker(workerEntry());
    slot.worker = worker;
    slot.lastActive = this.now();
    this.metrics.workerStarts++;
    try {
      const died = new Promise<never>((_, reject) => {
        worker.onmessage = (ev: MessageEvent<DiscoveryResult>) => slot.done?.(ev.data);
        worker.onerror = (ev) => reject(new Error(`discovery worker crashed: ${(ev as ErrorEvent).message}`));
      });
      this.dispatch();
      await Promise.race([died, this.untilIdle(slot, signal)]);
      if (!signal.aborted) {
        this.metrics.idleStops++;
        this.letGo(slot);
      }
    } finally {
      worker.terminate();
      slot.worker = null;
      if (slot.busy) slot.done?.({ ip: "", name: null, source: null, tried: [], unreachable: true, ms: 0 });
    }
  }

  /** Frees the slot's task name at once: a job arriving from now on starts a new worker there. */
  private letGo(slot: Slot): void {
    slot.live = false;
    this.tasks!.end(slot.name);
  }

  /** Resolves once `slot` has had no job for the idle period, or when `signal` aborts. */
  private async untilIdle(slot: Slot, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const left = slot.busy ? this.idleMs : this.idleMs - (this.now() - slot.lastActive);
      if (left <= 0) return;
      await sleep(left, signal);
    }
  }

  /**
   * Starts a worker in the first unused slot (lowest first, so the highest go idle first). Its body runs up
   * to its first await inside register(), so the worker exists on return; if not, it dispatches once up.
   */
  private startWorker(): Slot | null {
    const slot = this.slots.find((s) => !s.live);
    if (!slot || !this.tasks) return null;
    slot.live = true;
    slot.fresh = true;
    try {
      this.tasks.register(slot.name, "discovery-workers", (signal) => this.runWorker(slot, signal));
    } catch {
      slot.live = false; // the task manager is shutting down
      return null;
    }
    return slot;
  }

  /**
   * Hands queued jobs to free workers as far as the breaker and the bucket allow, starting a worker for a job
   * that may go when none of the started ones is free. A slot whose worker is being replaced (backoff)
   * dispatches itself once its new worker is up.
   */
  dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.depth > 0) {
        let slot = this.slots.find((s) => s.worker && !s.busy) ?? null;
        if (!slot && this.slots.every((s) => s.live)) return;
        if (!this.breaker.allow()) {
          this.metrics.breakerBlocked++;
          return;
        }
        if (!this.bucket.take()) {
          this.metrics.rateLimited++;
          this.breaker.release(); // a half-open trial not made goes back
          return;
        }
        slot ??= this.startWorker();
        if (!slot?.worker) {
          this.breaker.release();
          return;
        }
        this.post(slot);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Gives the next queued job to `slot`'s worker. */
  private post(slot: Slot): void {
    const w = slot.worker!;
    const ip = (this.high.length ? this.high : this.low).shift()!;
    this.queued.delete(ip);
    slot.busy = true;
    slot.lastActive = this.now();
    this.metrics.total++;
    slot.done = (r) => {
      slot.busy = false;
      slot.done = null;
      slot.lastActive = this.now();
      if (r.ip) this.record(r);
      this.dispatch();
    };
    w.postMessage({ ip, cfg: this.methods });
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
