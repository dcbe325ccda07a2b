// Background threads give way to the query thread. Everything else in the process — the client store, discovery,
// job-lane and mmsg watcher workers, and the runtime's own JIT, GC and allocator threads — runs at a lower CPU
// priority (a higher nice value), so when it shares a core with the query thread it is the one that waits: on a
// shared core the scheduler would otherwise run a lightly-used helper ahead of the busy query thread. The helpers
// still get their CPU, only not at the query thread's expense (docs/performance-log.md has the measurements).
//
// Linux keeps the nice value per thread (setpriority(PRIO_PROCESS, tid) changes that one thread), and threads
// inherit it from the thread that creates them, so a worker lowered once also lowers the threads its runtime
// starts later. Threads appear after start-up (JIT threads on demand, a worker restarted after a crash), so the
// sweep runs periodically. It only ever lowers: a thread someone set lower still stays where it is.
import { getPriority, setPriority } from "node:os";
import { readdirSync } from "node:fs";
import { log } from "../metrics/log";
import { sleep, type TaskManager } from "./tasks";

export class ThreadPriority {
  /** Threads lowered so far (each time a sweep changed one). */
  lowered = 0;
  /** Why sweeping is off on this system (no per-thread view), or null. */
  unsupported: string | null = null;

  constructor(
    /** The nice value for every thread but the main one; 0 leaves them alone. */
    readonly nice: number,
    /** The query thread: on Linux the process's first thread has the process id as its thread id. */
    private readonly mainTid = process.pid,
    private readonly taskDir = "/proc/self/task",
  ) {}

  /** Lowers every other thread of this process to `nice` (not below where it already is). Returns how many changed. */
  sweep(): number {
    if (this.nice <= 0 || this.unsupported) return 0;
    let tids: string[];
    try {
      tids = readdirSync(this.taskDir);
    } catch (err) {
      this.unsupported = `${this.taskDir} not readable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      log.info("background threads keep their priority", { reason: this.unsupported });
      return 0;
    }
    let changed = 0;
    for (const t of tids) {
      const tid = Number(t);
      if (!Number.isInteger(tid) || tid === this.mainTid) continue;
      try {
        if (getPriority(tid) >= this.nice) continue;
        setPriority(tid, this.nice);
        changed++;
      } catch {
        // The thread ended between the listing and here (ESRCH): nothing to lower.
      }
    }
    this.lowered += changed;
    return changed;
  }

  /**
   * Sweeps now, then again for threads started since (JIT threads come on demand, the mmsg watcher at the first
   * idle moment, a crashed worker's replacement), more and more rarely: at 1, 4 and 16 s, then every minute (a
   * sweep holds the query thread for a moment).
   */
  start(tasks: TaskManager): void {
    this.sweep();
    tasks.register("thread-priority", "server", async (signal) => {
      for (let ms = 1000; !signal.aborted; ms = Math.min(60_000, ms * 4)) {
        await sleep(ms, signal);
        if (!signal.aborted) this.sweep();
      }
    });
  }

  /** For /api/metrics/workers. */
  state(): { nice: number; lowered: number; unsupported: string | null } {
    return { nice: this.nice, lowered: this.lowered, unsupported: this.unsupported };
  }
}
