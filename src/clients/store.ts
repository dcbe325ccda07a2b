// The query thread's handle on the client store worker: requests with a deadline each, so nothing here ever
// waits on the disk without a bound. The worker runs as a task-manager task and is replaced if it crashes.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { log } from "../metrics/log";
import type { StoreOp, StoreReply } from "./store-protocol";

function storeWorkerEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./clients/store-worker.ts" : new URL("./store-worker.ts", import.meta.url);
}

export class ClientStore {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  requests = 0;
  failures = 0;

  constructor(
    private readonly dataDir: string,
    private readonly timeoutMs = 5000,
  ) {}

  get ready(): boolean {
    return this.worker !== null;
  }

  /** The task body: opens the store in a fresh worker and serves until `signal` aborts; rejects if the worker dies. */
  async run(signal: AbortSignal): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const worker = new Worker(storeWorkerEntry());
    let crashed!: (e: Error) => void;
    const died = new Promise<never>((_, reject) => (crashed = reject));
    worker.onmessage = (ev: MessageEvent<StoreReply>) => this.reply(ev.data);
    worker.onerror = (ev) => {
      const err = new Error(`client store worker crashed: ${(ev as ErrorEvent).message}`);
      this.failAll(err);
      crashed(err);
    };
    this.worker = worker;
    try {
      const opened = (await this.request({ op: "open", path: join(this.dataDir, "clients.db") })) as { steps: string[]; version: number };
      if (opened.steps.length) log.info("client store migrated", opened);
      await Promise.race([died, new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener("abort", () => r(), { once: true })))]);
      await this.request({ op: "close" }).catch(() => {});
    } finally {
      this.worker = null;
      worker.terminate();
      this.failAll(new Error("client store stopped"));
    }
  }

  request(op: StoreOp, timeoutMs = this.timeoutMs): Promise<unknown> {
    const w = this.worker;
    if (!w) return Promise.reject(new Error("client store is not running"));
    const seq = ++this.seq;
    this.requests++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        this.failures++;
        reject(new Error(`client store did not answer ${op.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, { resolve, reject, timer });
      w.postMessage({ ...op, seq });
    });
  }

  private reply(r: StoreReply): void {
    const w = this.waiting.get(r.seq);
    if (!w) return;
    this.waiting.delete(r.seq);
    clearTimeout(w.timer);
    if (r.ok) w.resolve(r.result);
    else {
      this.failures++;
      w.reject(new Error(r.error));
    }
  }

  private failAll(err: Error): void {
    for (const [seq, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(seq);
      w.reject(err);
    }
  }
}
