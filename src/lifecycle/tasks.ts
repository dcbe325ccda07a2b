// The task manager (seed 002 "ticker leak", seed 000 "double close"): every background loop, timer and
// worker is registered here by name and category. A task that throws is logged and restarted with
// exponential backoff; stopAll() aborts every task's signal and waits for each, with a timeout.
import { log } from "../metrics/log";

export type TaskState = "running" | "backoff" | "stopped" | "failed";

/** A long-running task: resolve when `signal` aborts. Throwing (or resolving early) triggers a restart. */
export type TaskBody = (signal: AbortSignal) => Promise<void>;

export interface TaskInfo {
  name: string;
  category: string;
  state: TaskState;
  restarts: number;
  lastError?: string;
  startedAt: number;
}

interface Task extends TaskInfo {
  body: TaskBody;
  controller: AbortController;
  done: Promise<void>;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A run that lasted this long resets the backoff to its initial value. */
  resetAfterMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000, resetAfterMs: 60_000 };

/**
 * Sleeps `ms`, or less if the signal aborts or the `wake` handed to `wakeable` is called (idempotent); never
 * rejects. The timer is always cleared.
 */
export function sleep(ms: number, signal?: AbortSignal, wakeable?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", end);
      resolve();
    };
    const timer = setTimeout(end, ms);
    signal?.addEventListener("abort", end, { once: true });
    wakeable?.(end);
  });
}

/**
 * A sleep that another part of the code can end early: `sleep()` here, `wake()` there (a no-op while nobody
 * sleeps). For loops that would otherwise wake on a timer only to find nothing to do.
 */
export class Wakeup {
  private end: (() => void) | null = null;

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await sleep(ms, signal, (end) => (this.end = end));
    this.end = null;
  }

  readonly wake = (): void => this.end?.();
}

export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  /** Tasks ended with end(): no longer listed, still waited for by stopAll(). */
  private readonly ending = new Set<Promise<void>>();
  private stopping: Promise<string[]> | null = null;

  constructor(private readonly backoff: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Starts `body` as task `name`. Names are unique: registering a live name throws. */
  register(name: string, category: string, body: TaskBody): void {
    if (this.stopping) throw new Error(`task manager is stopping; cannot start "${name}"`);
    const existing = this.tasks.get(name);
    if (existing && existing.state !== "stopped") throw new Error(`task "${name}" is already registered`);
    const task = {
      name,
      category,
      state: "running",
      restarts: 0,
      startedAt: Date.now(),
      body,
      controller: new AbortController(),
    } as Task;
    task.done = this.supervise(task);
    this.tasks.set(name, task);
  }

  /** A periodic task: `fn` every `intervalMs` (first run after one interval), owned and stopped like any other. */
  every(name: string, category: string, intervalMs: number, fn: (signal: AbortSignal) => void | Promise<void>): void {
    this.register(name, category, async (signal) => {
      while (!signal.aborted) {
        await sleep(intervalMs, signal);
        if (signal.aborted) break;
        await fn(signal);
      }
    });
  }

  /** Stops one task and waits for it (up to timeoutMs). True when it stopped in time. */
  async stop(name: string, timeoutMs = 5_000): Promise<boolean> {
    const task = this.tasks.get(name);
    if (!task) return true;
    task.controller.abort();
    const ok = await settleWithin(task.done, timeoutMs);
    if (this.tasks.get(name) === task) this.tasks.delete(name);
    return ok;
  }

  /**
   * Aborts a task and frees its name at once, without waiting: for a component that lets an idle worker go
   * and may start the next one under the same name before the last has finished cleaning up. stopAll()
   * still waits for it.
   */
  end(name: string): void {
    const task = this.tasks.get(name);
    if (!task) return;
    task.controller.abort();
    this.tasks.delete(name);
    this.ending.add(task.done);
    void task.done.finally(() => this.ending.delete(task.done));
  }

  /**
   * Aborts every task and waits for all of them, each up to `timeoutMs`. Idempotent: later calls get the
   * same promise. Resolves to the names of tasks that did not stop in time.
   */
  stopAll(timeoutMs = 5_000): Promise<string[]> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const all = [...this.tasks.values()];
      for (const t of all) t.controller.abort();
      const ending = settleWithin(Promise.all(this.ending), timeoutMs);
      const results = await Promise.all(all.map(async (t) => ((await settleWithin(t.done, timeoutMs)) ? null : t.name)));
      await ending;
      const stuck = results.filter((n): n is string => n !== null);
      if (stuck.length) log.warn("tasks did not stop in time", { tasks: stuck, timeoutMs });
      return stuck;
    })();
    return this.stopping;
  }

  list(): TaskInfo[] {
    return [...this.tasks.values()].map(({ name, category, state, restarts, lastError, startedAt }) => ({
      name,
      category,
      state,
      restarts,
      lastError,
      startedAt,
    }));
  }

  /** Live task counts per category (the metrics APIs read this). */
  byCategory(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tasks.values()) if (t.state !== "stopped") out[t.category] = (out[t.category] ?? 0) + 1;
    return out;
  }

  private async supervise(task: Task): Promise<void> {
    const signal = task.controller.signal;
    let delay = this.backoff.initialMs;
    while (!signal.aborted) {
      const began = Date.now();
      task.state = "running";
      try {
        await task.body(signal);
        if (signal.aborted) break;
        task.lastError = "returned before stop";
        log.warn("task returned before stop; restarting", { task: task.name, category: task.category });
      } catch (err) {
        if (signal.aborted) break;
        task.lastError = err instanceof Error ? err.message : String(err);
        log.error("task failed; restarting with backoff", { task: task.name, category: task.category, err, delayMs: delay });
      }
      if (Date.now() - began >= this.backoff.resetAfterMs) delay = this.backoff.initialMs;
      task.state = "backoff";
      task.restarts++;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, this.backoff.maxMs);
    }
    task.state = "stopped";
  }
}

/** True when `p` settles (either way) within `ms`; the timer is always cleared. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
