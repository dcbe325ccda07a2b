// The query thread's handle on the client store worker: requests with a deadline each, so nothing here ever
// waits on the disk without a bound. The worker opens the store on the first request and closes it after an
// idle period (an idle resolver sends no batches); its life is a task-manager task, replaced with backoff if
// it crashes, stopped on shutdown.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { sleep, type TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import type { ClientsConfig } from "../config/types";
import type { StoreOp, StoreReply } from "./store-protocol";

const TASK = "client-store";

function storeWorkerEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./clients/store-worker.ts" : new URL("./store-worker.ts", import.meta.url);
}

export interface StoreOptions {
  /** Each request's deadline. */
  timeoutMs?: number;
  /** store_idle_ms: the store is closed (its worker let go) after this long without a request; the next opens it. */
  clients: Pick<ClientsConfig, "store_idle_ms">;
  /** The clock the idle period is measured on (ms). */
  now?: () => number;
}

interface Waiting {
  worker: Worker;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ClientStore {
  private worker: Worker | null = null;
  private tasks: TaskManager | null = null;
  /** The worker's task is registered: from the request that opened it until it is let go. */
  private live = false;
  /** Started for a request (not a replacement after a crash). */
  private fresh = false;
  private stopped = false;
  private lastActive = 0;
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();
  private readonly timeoutMs: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  requests = 0;
  failures = 0;
  /** Times the store was opened (a worker started) and closed for being idle. */
  opens = 0;
  idleCloses = 0;

  constructor(
    private readonly dataDir: string,
    opts: StoreOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.idleMs = opts.clients.store_idle_ms;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Takes requests: started and not shut down (a closed store opens on the next request). */
  get ready(): boolean {
    return this.tasks !== null && !this.stopped;
  }

  /** Whether the store's worker is running now. */
  get isOpen(): boolean {
    return this.worker !== null;
  }

  /** From now on requests open the store on demand, as a task of `tasks`. */
  start(tasks: TaskManager): void {
    this.tasks = tasks;
  }

  request(op: StoreOp, timeoutMs = this.timeoutMs): Promise<unknown> {
    if (!this.worker && !this.live) this.open();
    const w = this.worker;
    if (!w) return Promise.reject(new Error("client store is not running"));
    return this.ask(w, op, timeoutMs);
  }

  /** Registers the worker's task; its body starts the worker before its first await, so it exists on return. */
  private open(): void {
    if (!this.tasks || this.stopped) return;
    this.live = true;
    this.fresh = true;
    try {
      this.tasks.register(TASK, "clients", (signal) => this.run(signal));
    } catch {
      this.live = false; // the task manager is shutting down
      this.stopped = true;
    }
  }

  /** One worker's life: open, serve until idle, shutdown or a crash, close. */
  private async run(signal: AbortSignal): Promise<void> {
    if (!this.fresh && this.waiting.size === 0) return this.letGo(); // a replacement nobody is waiting for
    this.fresh = false;
    mkdirSync(this.dataDir, { recursive: true });
    const worker = new Worker(storeWorkerEntry());
    let crashed!: (e: Error) => void;
    const died = new Promise<never>((_, reject) => (crashed = reject));
    worker.onmessage = (ev: MessageEvent<StoreReply>) => this.reply(ev.data);
    worker.onerror = (ev) => {
      const err = new Error(`client store worker crashed: ${(ev as ErrorEvent).message}`);
      this.failAll(worker, err);
      crashed(err);
    };
    this.worker = worker;
    this.opens++;
    try {
      const opened = this.ask(worker, { op: "open", path: join(this.dataDir, "clients.db") }) as Promise<{ steps: string[]; version: number }>;
      const o = await Promise.race([died, opened]);
      if (o.steps.length) log.info("client store migrated", o);
      await Promise.race([died, this.untilIdle(worker, signal)]);
      if (signal.aborted) this.stopped = true;
      else {
        this.idleCloses++;
        this.letGo();
      }
      this.worker = null; // requests from now on open a new worker (or fail, when stopped)
      await this.ask(worker, { op: "close" }).catch(() => {});
    } finally {
      if (this.worker === worker) this.worker = null;
      worker.terminate();
      this.failAll(worker, new Error("client store stopped"));
    }
  }

  /** Frees the task's name at once, so that the next request opens a new worker. */
  private letGo(): void {
    this.live = false;
    this.tasks!.end(TASK);
  }

  /** Resolves once `worker` has had no request outstanding for the idle period, or when `signal` aborts. */
  private async untilIdle(worker: Worker, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const busy = [...this.waiting.values()].some((w) => w.worker === worker);
      const left = busy ? this.idleMs : this.idleMs - (this.now() - this.lastActive);
      if (left <= 0) return;
      await sleep(left, signal);
    }
  }

  private ask(w: Worker, op: StoreOp, timeoutMs = this.timeoutMs): Promise<unknown> {
    const seq = ++this.seq;
    this.requests++;
    this.lastActive = this.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        this.failures++;
        reject(new Error(`client store did not answer ${op.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, { worker: w, resolve, reject, timer });
      w.postMessage({ ...op, seq });
    });
  }

  private reply(r: StoreReply): void {
    const w = this.waiting.get(r.seq);
    if (!w) return;
    this.waiting.delete(r.seq);
    clearTimeout(w.timer);
    this.lastActive = this.now();
    if (r.ok) w.resolve(r.result);
    else {
      this.failures++;
      w.reject(new Error(r.error));
    }
  }

  /** Fails what `worker` was asked and has not answered. */
  private failAll(worker: Worker, err: Error): void {
    for (const [seq, w] of this.waiting) {
      if (w.worker !== worker) continue;
      clearTimeout(w.timer);
      this.waiting.delete(seq);
      w.reject(err);
    }
  }
}
