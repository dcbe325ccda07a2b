// The serving-process end of `processes = N` (see processes.ts): its configuration, and its link to the
// primary — reports once a second, clients seen every 100 ms through a bounded queue, and the primary's
// requests (cache flush, zone reload). A serving process whose primary has gone away stops itself.
import type { PacketCache } from "../cache/cache";
import type { ZoneManager } from "../jobs/zones";
import type { TaskManager } from "./tasks";
import { ClientQueue, RawUpdate, metaQtype, metaRcode, metaVia, packMeta } from "../clients/queue";
import type { ResolvedConfig } from "../config/load";
import { log } from "../metrics/log";
import { putName, toWire } from "../wire/name";
import type { ClientBatch, ProcessReport, ToPrimary, ToServing } from "./processes";

/** A serving process's configuration: the primary's, on the ports it bound, without what only it runs. */
export function servingConfig(cfg: ResolvedConfig, listen: string[]): ResolvedConfig {
  return {
    ...cfg,
    listen,
    // The encrypted listeners are the primary's alone.
    listen_tls: [],
    listen_https: [],
    http: "off",
    processes: 1,
    clients: { ...cfg.clients, enabled: false },
    discovery: { ...cfg.discovery, enabled: false },
  };
}

/** Most clients forwarded per message. */
const BATCH_MAX = 4096;

/** A queue the answer hook posts clients into, drained toward the primary. */
export function forwardingQueue(cfg: ResolvedConfig): ClientQueue {
  return new ClientQueue(1, cfg.clients.low_queue, 0.5, () => false);
}

/** What a serving process's link to its primary works with (App is one). */
export interface ServingApp {
  readonly isStopping: boolean;
  readonly cache: Pick<PacketCache, "flush">;
  readonly zones: Pick<ZoneManager, "has" | "reload">;
  readonly tasks: TaskManager;
  /** This process's own figures: a serving process has no processes of its own. */
  readonly status: { totals(): Pick<ProcessReport, "server" | "upstream" | "cache" | "inflight"> & { queries: { counts: ArrayLike<number>; latency: ArrayLike<number>; latencySum: number; total: number } } };
}

/** Wires a serving process to its primary. `send` is process.send (a parameter for tests). */
export function linkToPrimary(app: ServingApp, queue: ClientQueue, send: (msg: ToPrimary) => boolean | void = (m) => process.send!(m)): void {
  const stop = (why: string) => {
    if (app.isStopping) return;
    log.warn(`${why}: stopping`);
    process.kill(process.pid, "SIGTERM"); // through the signal handlers: drain, close, exit
  };
  process.on("message", (m: ToServing) => {
    try {
      if (m?.t === "flush") app.cache.flush(m.name === null ? undefined : toWire(m.name));
      else if (m?.t === "reload-zone" && app.zones.has(m.name)) app.zones.reload(m.name).catch((err) => log.warn("zone reload failed", { zone: m.name, err }));
    } catch (err) {
      log.warn("bad message from primary", { err });
    }
  });
  process.on("disconnect", () => stop("primary process gone"));
  const connected = () => process.connected !== false;
  app.tasks.every("report-to-primary", "server", 1000, () => {
    if (!connected()) return stop("primary process gone");
    send(report(app, queue));
  });
  const u = new RawUpdate();
  app.tasks.every("clients-to-primary", "clients", 100, () => {
    if (queue.depthLow === 0 || !connected()) return;
    const n = Math.min(BATCH_MAX, queue.depthLow);
    const batch: ClientBatch = { t: "clients", ips: new Array(n), times: new Array(n), counts: new Array(n), firsts: new Array(n), meta: new Array(n), names: new Uint8Array(n * 256) };
    let off = 0;
    let i = 0;
    for (; i < n && queue.takeInto(u); i++) {
      batch.ips[i] = u.ip;
      batch.times[i] = u.time;
      batch.counts[i] = u.count;
      batch.firsts[i] = u.first;
      batch.meta[i] = packMeta(u.qtype, u.rcode, u.via);
      off += putName(batch.names, off, u.name, 0, u.nameLen);
    }
    batch.names = batch.names.slice(0, off);
    send(batch);
  });
}

function report(app: ServingApp, queue: ClientQueue): ProcessReport {
  const t = app.status.totals();
  return {
    t: "report",
    server: t.server,
    upstream: t.upstream,
    cache: t.cache,
    queries: { counts: Array.from(t.queries.counts), latency: Array.from(t.queries.latency), latencySum: t.queries.latencySum, total: t.queries.total },
    inflight: t.inflight,
    rss: process.memoryUsage().rss,
    clientsDropped: queue.dropped,
  };
}

/** The primary's side of a client batch: each client into its own tracker queue (drops counted there). */
export function postBatch(queue: ClientQueue, b: ClientBatch): void {
  let off = 0;
  for (let i = 0; i < b.ips.length; i++) {
    const len = b.names[off]!;
    const m = b.meta[i]!;
    queue.post(b.ips[i]!, b.times[i]!, b.names, off + 1, off + 1 + len, metaQtype(m), metaRcode(m), metaVia(m), b.counts[i]!, b.firsts[i]!);
    off += 1 + len;
  }
}
