// `processes = N`: N processes answer on the same UDP and TCP ports (SO_REUSEPORT; the kernel spreads clients
// over them by address and port). Shared nothing on the request path: every process has its own ring, cache,
// upstream sockets and zone copies. The first process (the primary) also owns what must exist once: the HTTP
// API and dashboard, client tracking with its SQLite store, discovery, and the config sources. The others
// (serving processes) are started by the primary, each a task of its task manager: a process that dies is
// logged and started again with backoff; shutdown sends SIGTERM and waits, then SIGKILL.
//
// Serving processes talk to the primary over Bun's IPC channel:
//   → "report"  once a second: counters, cache size, query statistics, RSS (summed into /metrics)
//   → "clients" every 100 ms: the clients seen, from a bounded queue (drops counted), for the primary's tracker
//   ← "flush" / "reload-zone": what the HTTP API asks of every process
// and get SIGHUP from the primary when it reloads. A serving process whose primary is gone stops itself.
import { log } from "../metrics/log";
import type { TaskManager } from "./tasks";

/** What a serving process reports once a second. */
export interface ProcessReport {
  t: "report";
  server: Record<string, number>;
  upstream: Record<string, number>;
  cache: Record<string, number>;
  queries: { counts: number[]; latency: number[]; latencySum: number; total: number };
  inflight: number;
  rss: number;
  clientsDropped: number;
}

/** Clients seen by a serving process: parallel arrays, names as length-prefixed wire bytes. */
export interface ClientBatch {
  t: "clients";
  ips: string[];
  times: number[];
  /** Per update: the queries it stands for and when the first of them was (see clients/queue.ts). */
  counts: number[];
  firsts: number[];
  meta: number[]; // clients/queue packMeta(qtype, rcode, via)
  names: Uint8Array;
}

export type ToPrimary = ProcessReport | ClientBatch;
export type ToServing = { t: "flush"; name: string | null } | { t: "reload-zone"; name: string };

/** Environment that makes a bunbound process a serving process, and carries the ports the primary bound. */
export const ROLE_ENV = "BUNBOUND_ROLE";
export const LISTEN_ENV = "BUNBOUND_SERVE_LISTEN";
/** The serving process's number (1 … N-1), put on its log lines as "process". */
export const SLOT_ENV = "BUNBOUND_PROCESS_SLOT";

export interface ProcessInfo {
  slot: number;
  pid: number | null;
  state: "starting" | "running" | "restarting" | "stopped";
  starts: number;
  lastExit: number | null;
  report: ProcessReport | null;
  reportAt: number;
}

/** The command line that runs this program again: `bun src/cli.ts …`, or the compiled binary with its flags. */
export function selfCommand(): string[] {
  const compiled = import.meta.url.includes("$bunfs");
  return compiled ? [process.execPath, ...process.argv.slice(2)] : [process.execPath, ...process.argv.slice(1)];
}

export interface ProcessGroupOptions {
  /** Serving processes to run (processes - 1). */
  count: number;
  command: string[];
  /** Bound listen addresses ("host:port"), passed on so port 0 means the same port everywhere. */
  listen: string[];
  /** How long a stopping serving process may take before SIGKILL. */
  stopTimeoutMs: number;
}

/** A report older than this is not counted (the process is hung or gone). */
const REPORT_MAX_AGE_MS = 5000;

/** The primary's view of its serving processes. */
export class ProcessGroup {
  private readonly procs: ProcessInfo[] = [];
  private readonly live = new Map<number, Bun.Subprocess>();
  private stopping = false;
  /** Processes sent SIGTERM, with a SIGKILL timer running. */
  private readonly terminating = new Set<Bun.Subprocess>();

  constructor(
    private readonly opts: ProcessGroupOptions,
    private readonly onClients: (batch: ClientBatch) => void,
  ) {
    for (let slot = 1; slot <= opts.count; slot++) {
      this.procs.push({ slot, pid: null, state: "starting", starts: 0, lastExit: null, report: null, reportAt: 0 });
    }
  }

  /** Registers one task per serving process; each waits for `ready` (zones loaded, keys on disk) first. */
  start(tasks: TaskManager, ready: Promise<unknown>): void {
    for (const p of this.procs) tasks.register(`process-${p.slot}`, "server", (signal) => this.run(p, signal, ready));
  }

  /** Serving processes and their last reports. */
  get list(): ProcessInfo[] {
    return this.procs;
  }

  /** Reports recent enough to count. */
  reports(now = Date.now()): ProcessReport[] {
    return this.procs.filter((p) => p.report && p.state === "running" && now - p.reportAt <= REPORT_MAX_AGE_MS).map((p) => p.report!);
  }

  /** Sends a message to every serving process; failures (one is restarting) are logged. */
  broadcast(msg: ToServing): void {
    for (const [pid, proc] of this.live) {
      try {
        proc.send(msg);
      } catch (err) {
        log.warn("message to serving process failed", { pid, err });
      }
    }
  }

  /** SIGHUP to every serving process: each reloads its configuration from the same sources. */
  reload(): void {
    for (const proc of this.live.values()) proc.kill("SIGHUP");
  }

  /** SIGTERM to all now (they drain like the primary); resolves when every one has exited. Idempotent. */
  stop(): Promise<unknown> {
    if (!this.stopping) {
      this.stopping = true;
      for (const proc of this.live.values()) this.terminate(proc);
    }
    return Promise.all([...this.live.values()].map((p) => p.exited));
  }

  private async run(p: ProcessInfo, signal: AbortSignal, ready: Promise<unknown>): Promise<void> {
    await ready;
    if (signal.aborted || this.stopping) return;
    p.starts++;
    p.state = "starting";
    const proc = Bun.spawn(this.opts.command, {
      env: { ...process.env, [ROLE_ENV]: "serve", [LISTEN_ENV]: JSON.stringify(this.opts.listen), [SLOT_ENV]: String(p.slot) },
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
      serialization: "advanced",
      ipc: (msg: ToPrimary) => {
        if (msg?.t === "report") {
          p.report = msg;
          p.reportAt = Date.now();
          p.state = "running";
        } else if (msg?.t === "clients") this.onClients(msg);
      },
    });
    p.pid = proc.pid;
    this.live.set(proc.pid, proc);
    const onAbort = () => this.terminate(proc);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const code = await proc.exited;
      if (signal.aborted || this.stopping) return;
      p.lastExit = code;
      p.state = "restarting";
      throw new Error(`serving process ${proc.pid} exited with code ${code}`);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.live.delete(proc.pid);
      p.pid = null;
      if (signal.aborted || this.stopping) p.state = "stopped";
    }
  }

  /** SIGTERM (it drains like the primary), then SIGKILL if it has not exited within stopTimeoutMs. Once per process. */
  private terminate(proc: Bun.Subprocess): void {
    if (this.terminating.has(proc)) return;
    this.terminating.add(proc);
    proc.kill("SIGTERM");
    const timer = setTimeout(() => {
      log.warn("serving process did not stop in time; killing it", { pid: proc.pid });
      proc.kill("SIGKILL");
    }, this.opts.stopTimeoutMs);
    void proc.exited.finally(() => {
      clearTimeout(timer);
      this.terminating.delete(proc);
    });
  }
}

/** Sums numeric fields of same-shaped counter objects. */
export function sumCounters<T extends object>(own: T, others: Array<Record<string, number>>): T {
  const out = { ...own } as Record<string, number>;
  for (const o of others) for (const k in out) if (typeof out[k] === "number" && typeof o[k] === "number") out[k] += o[k]!;
  return out as T;
}
