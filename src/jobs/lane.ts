// The heavy lane: a bounded job queue served by its own Bun worker, apart from the query thread. One job per
// zone at a time; a newer reload of a zone supersedes one still queued; every job has a deadline; a worker
// that dies or overruns a deadline is replaced. The query thread only ever receives finished results.
import { log } from "../metrics/log";
import type { Job, JobReply, JobRequest } from "./protocol";

export interface LaneOptions {
  /** Queued jobs beyond this are refused (the caller is told). */
  maxQueue: number;
  /** A job still running after this is abandoned and the worker replaced. */
  jobTimeoutMs: number;
}

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
}

interface Pending {
  job: JobRequest;
  resolve: (r: JobReply) => void;
}

export class HeavyLane {
  readonly counters = new LaneCounters();
  private worker: Worker | null = null;
  private readonly queue: Pending[] = [];
  private running: Pending | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly opts: LaneOptions,
    private readonly workerUrl: URL | string = workerEntry(),
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running !== null;
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
      if (this.queue.length >= this.opts.maxQueue) {
        this.counters.rejected++;
        return resolve({ seq, ok: false, error: `heavy lane queue is full (${this.opts.maxQueue})`, ms: 0 });
      }
      this.counters.submitted++;
      this.queue.push({ job: { ...job, seq } as JobRequest, resolve });
      this.next();
    });
  }

  private spawn(): Worker {
    const w = new Worker(this.workerUrl);
    w.onmessage = (ev: MessageEvent<JobReply>) => this.done(ev.data);
    w.onerror = (ev) => {
      log.error("heavy lane worker crashed; replacing it", { err: (ev as ErrorEvent).message });
      this.restart("worker crashed");
    };
    return w;
  }

  private next(): void {
    if (this.running || this.closed) return;
    // One job per zone at a time holds trivially: one worker, one job at a time.
    const p = this.queue.shift();
    if (!p) return;
    this.running = p;
    this.worker ??= this.spawn();
    this.timer = setTimeout(() => {
      this.counters.timedOut++;
      log.warn("heavy lane job overran its deadline; replacing the worker", { kind: p.job.kind, zone: p.job.zone, timeoutMs: this.opts.jobTimeoutMs });
      this.restart(`job exceeded its ${this.opts.jobTimeoutMs} ms deadline`);
    }, this.opts.jobTimeoutMs);
    this.worker.postMessage(p.job);
  }

  private done(reply: JobReply): void {
    const p = this.running;
    if (!p || reply.seq !== p.job.seq) return;
    clearTimeout(this.timer);
    this.running = null;
    if (reply.ok) this.counters.completed++;
    else this.counters.failed++;
    p.resolve(reply);
    this.next();
  }

  /** Fails the running job, terminates the worker and goes on with a new one. */
  private restart(reason: string): void {
    clearTimeout(this.timer);
    this.worker?.terminate();
    this.worker = null;
    this.counters.workerRestarts++;
    const p = this.running;
    this.running = null;
    if (p) {
      this.counters.failed++;
      p.resolve({ seq: p.job.seq, ok: false, error: reason, ms: 0 });
    }
    this.next();
  }

  /** Idempotent: fails what is queued, terminates the worker. */
  stop(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const p of this.queue.splice(0)) p.resolve({ seq: p.job.seq, ok: false, error: "heavy lane is stopped", ms: 0 });
    if (this.running) this.running.resolve({ seq: this.running.job.seq, ok: false, error: "heavy lane is stopped", ms: 0 });
    this.running = null;
    this.worker?.terminate();
    this.worker = null;
  }
}
