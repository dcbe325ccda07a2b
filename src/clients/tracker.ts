// Client tracking: drains the client-update queue (high first, low with a guaranteed share), aggregates per
// client, writes to the store in batches (by size or every batch interval), gives new clients a placeholder
// row (discovering) at once and a discovery job, and records discovered names. The query thread only ever
// calls post(), which never waits.
import { Wakeup, type TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import type { ClientsConfig } from "../config/types";
import type { DiscoveryResult } from "../discovery/methods";
import { ClientQueue, RawUpdate, foldVia } from "./queue";
import { copyBytes, toText } from "../wire/name";
import { TRANSPORT_LABELS } from "../metrics/querystats";
import type { ClientStore } from "./store";
import type { ClientRow, NameRow } from "./store-protocol";

/**
 * The clients section's queue sizes and share, store batching, max_clients (remembered for new-client detection;
 * the oldest are forgotten beyond it) and rediscover_after_ms (a known client seen again this long after its
 * last discovery is discovered again, first in line).
 */
export type TrackerOptions = Pick<ClientsConfig, "high_queue" | "low_queue" | "low_share" | "batch_size" | "batch_ms" | "max_clients" | "rediscover_after_ms">;

/** Longest idle sleep of the loop: the per-second rate it reports gets back to 0 within about this. */
const IDLE_CHECK_MS = 1000;

type PendingRow = ClientRow & { name: Uint8Array; nameLen: number; via: number };

export class TrackerCounters {
  batches = 0;
  batchFailures = 0;
  rowsWritten = 0;
  newClients = 0;
  rediscoveries = 0;
  /** Queries processed per second (an update may stand for several), over the last second. */
  rate = 0;
}

export class ClientTracker {
  readonly queue: ClientQueue;
  readonly counters = new TrackerCounters();
  /** Clients seen: when they were last discovered (ms), or 0 while a discovery is under way. */
  private readonly seen = new Map<string, number>();
  private pending = new Map<string, PendingRow>();
  private readonly update = new RawUpdate();
  private names: NameRow[] = [];
  private lastFlush = performance.now();
  private flushing: Promise<void> | null = null;
  private window = { t: performance.now(), n: 0 };
  /** The loop's idle sleep, ended by the next post or a discovered name. */
  private readonly idleSleep = new Wakeup();

  constructor(
    private readonly opts: TrackerOptions,
    private readonly store: ClientStore,
    private readonly discover: ((ip: string, known: boolean) => boolean) | null,
  ) {
    this.queue = new ClientQueue(opts.high_queue, opts.low_queue, opts.low_share, (ip) => (this.seen.get(ip) ?? 0) > 0);
  }

  /** Learns which clients the store already knows (after a restart), so they are not rediscovered. */
  async preload(): Promise<void> {
    const known = (await this.store.request({ op: "known" })) as string[];
    const now = Date.now();
    for (const ip of known.slice(-this.opts.max_clients)) this.seen.set(ip, now);
  }

  start(tasks: TaskManager): void {
    tasks.register("client-tracker", "clients", async (signal) => {
      // The store opens with the first client to arrive, not at start: a resolver nobody asks need not hold it.
      while (!signal.aborted && this.queue.depthHigh + this.queue.depthLow === 0) await this.sleepUntilPost(signal);
      if (!signal.aborted) await this.preload().catch((err) => log.warn("could not preload known clients", { err }));
      while (!signal.aborted) {
        this.drain(2048);
        if (this.pending.size >= this.opts.batch_size || performance.now() - this.lastFlush >= this.opts.batch_ms) await this.flush();
        if (this.idle()) await this.sleepUntilPost(signal);
        else await new Promise((r) => setTimeout(r, this.busy() ? 1 : 10));
      }
      this.drain(Number.MAX_SAFE_INTEGER);
      await this.flush();
    });
  }

  /** Nothing queued, nothing waiting to be written: the loop has no reason to wake until something is posted. */
  private idle(): boolean {
    return this.queue.depthHigh + this.queue.depthLow === 0 && this.pending.size === 0 && this.names.length === 0 && this.flushing === null;
  }

  /**
   * Sleeps until the next post (or discovered name), the abort, or IDLE_CHECK_MS. An idle resolver's loop
   * used to wake every 10 ms to find an empty queue: 100 event-loop turns a second, most of an idle
   * bunbound's CPU, on a core it may share with other services.
   */
  private async sleepUntilPost(signal: AbortSignal): Promise<void> {
    const slept = this.idleSleep.sleep(IDLE_CHECK_MS, signal); // asleep from here: a wake now ends it
    this.queue.onNextPost(this.idleSleep.wake);
    await slept;
    this.queue.onNextPost(null);
  }

  /**
   * Whether the queue fills fast enough to drain again in 1 ms rather than 10: a sixteenth of the smaller
   * queue waiting. Below that, 10 ms of updates fit many times over (10,000-entry queues would need over
   * 900,000 updates/s to overflow), and each wake-up of this loop is an event-loop turn the UDP receive loop
   * pays for while it is busy (~7 µs each here, measured).
   */
  private busy(): boolean {
    return this.queue.depthHigh + this.queue.depthLow >= Math.min(this.opts.high_queue, this.opts.low_queue) / 16;
  }

  /** Takes up to `max` updates off the queue into the pending batch; returns how many. */
  drain(max: number): number {
    let n = 0;
    let queries = 0;
    const u = this.update;
    for (; n < max; n++) {
      if (!this.queue.takeInto(u)) break;
      let row = this.pending.get(u.ip);
      if (!row) {
        const at = this.seen.get(u.ip);
        const isNew = at === undefined;
        if (at !== undefined && at > 0 && u.time - at > this.opts.rediscover_after_ms) {
          // A known client, named long enough ago: name it again, ahead of new clients (high priority).
          this.seen.set(u.ip, u.time);
          this.counters.rediscoveries++;
          this.discover?.(u.ip, true);
        }
        row = { ip: u.ip, first: u.first, last: u.time, count: 0, qname: "", qtype: u.qtype, rcode: u.rcode, transport: "", transports: 0, discovering: isNew ? 1 : -1, name: new Uint8Array(256), nameLen: 0, via: u.via };
        this.pending.set(u.ip, row);
        if (isNew) this.newClient(u.ip);
      }
      row.count += u.count;
      row.last = Math.max(row.last, u.time);
      row.qtype = u.qtype;
      row.rcode = u.rcode;
      row.via = foldVia(row.via, u.via);
      // Keep the last qname as bytes; it becomes a string once per client per batch, at flush.
      copyBytes(row.name, 0, u.name, 0, u.nameLen);
      row.nameLen = u.nameLen;
      queries += u.count;
    }
    const now = performance.now();
    this.window.n += queries;
    if (now - this.window.t >= 1000) {
      this.counters.rate = Math.round((this.window.n * 1000) / (now - this.window.t));
      this.window = { t: now, n: 0 };
    }
    return n;
  }

  private newClient(ip: string): void {
    this.counters.newClients++;
    if (this.seen.size >= this.opts.max_clients) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(ip, 0);
    this.discover?.(ip, false);
  }

  /** A discovery finished: record the name (or that there is none) and treat the client as known. */
  discovered(r: DiscoveryResult): void {
    if (this.seen.has(r.ip)) this.seen.set(r.ip, Date.now());
    this.names.push({ ip: r.ip, name: r.name, source: r.source ?? "ptr", at: Date.now() });
    this.idleSleep.wake();
  }

  /** Writes the pending batch to the store. On failure the batch is counted and dropped (bounded memory). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0 && this.names.length === 0) {
      this.lastFlush = performance.now();
      return Promise.resolve();
    }
    const clients: ClientRow[] = [...this.pending.values()].map(({ name, nameLen, via, ...row }) => ({
      ...row,
      qname: toText(name, 0, nameLen),
      transport: TRANSPORT_LABELS[via >> 4]!,
      transports: via & 0x0f,
    }));
    const names = this.names;
    this.pending = new Map();
    this.names = [];
    this.lastFlush = performance.now();
    this.flushing = this.store
      .request({ op: "batch", clients, names })
      .then(
        () => {
          this.counters.batches++;
          this.counters.rowsWritten += clients.length;
        },
        (err) => {
          this.counters.batchFailures++;
          log.warn("client batch not stored", { err, clients: clients.length });
        },
      )
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  get clientsInMemory(): number {
    return this.seen.size;
  }
}
