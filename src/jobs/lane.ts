// The heavy lane: a bounded job queue served by its own Bun worker, apart from the query thread. One job per
// zone at a time; a newer reload of a zone supersedes one still queued; every job has a deadline; a worker
// that dies or overruns a deadline is replaced. The query thread only ever receives finished results.
// Jobs are rare (start-up, a zone file change, a re-sign, an AXFR), so the worker starts with the first job
// and is let go after an idle period; its life is a task-manager task, replaced with backoff if it dies.
import { sleep, TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import type { JobsConfig } from "../config/types";
import type { Job, JobReply, JobRequest } from "./protocol";

export interface LaneOptions {
  /** max_queue (queued jobs beyond it are refused), job_timeout_ms (a job still running is abandoned and the worker
   * replaced), idle_ms (the worker is let go after this long without a job; the next job starts a new one). */
  jobs: Pick<JobsConfig, "max_queue" | "job_timeout_ms" | "idle_ms">;
  /** Where the worker's life is registered; without one the lane keeps a manager of its own. */
  tasks?: TaskManager;
  /** The clock the idle period is measured on (ms). */
  now?: () => number;
}

const WORKER_TASK = "heavy-lane-worker";

/**
 * Where the worker's code is: next to this file when run from source; in the single-file binary, the path of
 * the extra entrypoint (`bun build --compile src/cli.ts src/jobs/worker.ts`) relative to their common root.
 */
function workerEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./jobs/worker.ts" : new URL("./worker.ts", import.meta.url);
}

export class LaneCounters {
  submitted = 0;
  completed = 0;
  failed = 0;
  superseded = 0;
  rejected = 0;
  timedOut = 0;
  workerRestarts = 0;
  /** Workers started (the first job, the first after an idle stop, a replacement). */
  workerStarts = 0;
  /** Workers let go after the idle period. */
  idleStops = 0;
}

interface Pending {
  job: JobRequest;
  resolve: (r: JobReply) => void;
}

export class HeavyLane {
  readonly counters = new LaneCounters();
  private worker: Worker | null = null;
  /** The worker's task is registered (from the first job until it is let go or the lane stops). */
  private live = false;
  /** Ends the current worker's life with an error; the task manager then replaces it with backoff. */
  private kill: ((err: Error) => void) | null = null;
  private lastActive = 0;
  private readonly queue: Pending[] = [];
  private running: Pending | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private seq = 0;
  private closed = false;
  private readonly tasks: TaskManager;
  private readonly ownTasks: boolean;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(
    private readonly opts: LaneOptions,
    private readonly workerUrl: URL | string = workerEntry(),
  ) {
    this.ownTasks = !opts.tasks;
    this.tasks = opts.tasks ?? new TaskManager();
    this.idleMs = opts.jobs.idle_ms;
    this.now = opts.now ?? (() => performance.now());
  }

  get depth(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Whether a worker thread exists right now. */
  get workerAlive(): boolean {
    return this.worker !== null;
  }

  /**
   * Queues a job; resolves with its reply (never rejects: failures come back as { ok: false }). A queued
   * "load" of the same zone is replaced by this one, and its caller told it was superseded.
   */
  submit(job: Job): Promise<JobReply> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      if (this.closed) return resolve({ seq, ok: false, error: "heavy lane is stopped", ms: 0 });
      if (job.kind === "load") {
        const i = this.queue.findIndex((p) => p.job.kind === "load" && p.job.zone === job.zone);
        if (i >= 0) {
          const [old] = this.queue.splice(i, 1);
          this.counters.superseded++;
          old!.resolve({ seq: old!.job.seq, ok: false, error: "superseded by a newer reload", ms: 0 });
        }
      }
      if (this.queue.length >= this.opts.jobs.max_queue) {
        this.counters.rejected++;
        return resolve({ seq, ok: false, error: `heavy lane queue is full (${this.opts.jobs.max_queue})`, ms: 0 });
      }
      this.counters.submitted++;
      this.queue.push({ job: { ...job, seq } as JobRequest, resolve });
      this.next();
    });
  }

  /** Registers the worker's task; it calls next() once its worker is up. */
  private startWorker(): void {
    this.live = true;
    try {
      this.tasks.register(WORKER_TASK, "jobs", (signal) => this.runWorker(signal));
    } catch (err) {
      // The task manager is shutting down: nothing will run these.
      this.live = false;
      log.warn("heavy lane cannot start its worker", { err });
      for (const p of this.queue.splice(0)) p.resolve({ seq: p.job.seq, ok: false, error: "heavy lane is stopped", ms: 0 });
    }
  }

  /** One worker's life: until the idle period passes with nothing to do, the lane stops, or the worker fails. */
  private async runWorker(signal: AbortSignal): Promise<void> {
    if (this.queue.length === 0) return this.letGo(); // a replacement with nothing left to do
    const w = new Worker(this.workerUrl);
    const died = new Promise<never>((_, reject) => (this.kill = reject));
    w.onmessage = (ev: MessageEvent<JobReply>) => this.done(ev.data);
    w.onerror = (ev) => this.kill?.(new Error(`heavy lane worker crashed: ${(ev as ErrorEvent).message}`));
    this.worker = w;
    this.counters.workerStarts++;
    this.lastActive = this.now();
    try {
      this.next();
      await Promise.race([died, this.untilIdle(signal)]);
      if (!signal.aborted) {
        this.counters.idleStops++;
        this.letGo();
      }
    } catch (err) {
      this.counters.workerRestarts++;
      this.abandon((err as Error).message);
      throw err;
    } finally {
      clearTimeout(this.timer);
      this.kill = null;
      this.worker = null;
      w.terminate();
      this.abandon("heavy lane is stopped");
    }
  }

  /** Frees the task's name at once, so that a job arriving from now on starts a new worker. */
  private letGo(): void {
    this.live = false;
    this.tasks.end(WORKER_TASK);
  }

  /** Resolves once no job has run or waited for `idleMs`, or when `signal` aborts. */
  private async untilIdle(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const left = this.running || this.queue.length ? this.idleMs : this.idleMs - (this.now() - this.lastActive);
      if (left <= 0) return;
      await sleep(left, signal);
    }
  }

  private next(): void {
    if (this.running || this.closed || this.queue.length === 0) return;
    const w = this.worker;
    if (!w) {
      if (!this.live) this.startWorker();
      return;
    }
    // One job per zone at a time holds trivially: one worker, one job at a time.
    const p = this.queue.shift()!;
    this.running = p;
    this.lastActive = this.now();
    this.timer = setTimeout(() => {
      this.counters.timedOut++;
      log.warn("heavy lane job overran its deadline; replacing the worker", { kind: p.job.kind, zone: p.job.zone, timeoutMs: this.opts.jobs.job_timeout_ms });
      this.kill?.(new Error(`job exceeded its ${this.opts.jobs.job_timeout_ms} ms deadline`));
    }, this.opts.jobs.job_timeout_ms);
    w.postMessage(p.job);
  }

  private done(reply: JobReply): void {
    const p = this.running;
    if (!p || reply.seq !== p.job.seq) return;
    clearTimeout(this.timer);
    this.running = null;
    this.lastActive = this.now();
    if (reply.ok) this.counters.completed++;
    else this.counters.failed++;
    p.resolve(reply);
    this.next();
  }

  /** Fails the running job, if any. */
  private abandon(reason: string): void {
    const p = this.running;
    if (!p) return;
    this.running = null;
    clearTimeout(this.timer);
    this.counters.failed++;
    p.resolve({ seq: p.job.seq, ok: false, error: reason, ms: 0 });
  }

  /** Idempotent: fails what is queued, stops the worker; resolves once it is gone. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const p of this.queue.splice(0)) p.resolve({ seq: p.job.seq, ok: false, error: "heavy lane is stopped", ms: 0 });
    if (this.running) this.running.resolve({ seq: this.running.job.seq, ok: false, error: "heavy lane is stopped", ms: 0 });
    this.running = null;
    this.worker?.terminate();
    this.live = false;
    await (this.ownTasks ? this.tasks.stopAll() : this.tasks.stop(WORKER_TASK));
  }
}
