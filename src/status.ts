// What the app reports about itself: /healthz, /readyz, /metrics, the JSON metric groups and the dashboard's
// one-second snapshot. It only reads the parts App wires together, named in StatusSource (App is one).
import { renderPrometheus } from "./metrics/render";
import { log } from "./metrics/log";
import type { CacheCounters, ServerCounters, UpstreamCounters } from "./metrics/counters";
import type { PacketCache } from "./cache/cache";
import type { ProcessGroup } from "./lifecycle/processes";
import type { Observer } from "./metrics/observer";
import type { DiscoveryPool } from "./discovery/pool";
import type { ClientTracker } from "./clients/tracker";
import type { ClientStore } from "./clients/store";
import type { TaskManager } from "./lifecycle/tasks";
import type { UpstreamState } from "./upstream/pool";
import type { HeavyLane } from "./jobs/lane";
import type { ZoneManager } from "./jobs/zones";
import { LATENCY_BUCKETS_MS } from "./discovery/pool";
import { openExchanges } from "./upstream/transport";
import { openEncrypted } from "./upstream/channel";
import { VERSION } from "./version";
import { sumCounters } from "./lifecycle/processes";
import type { QueryStats } from "./metrics/querystats";

/** A buffer ring as reported (server/ring.ts's Ring). */
interface RingView {
  stats(): { slots: number; slotSize: number; inUse: number; acquired: number; exhausted: number; violations: number };
}

/** The parts of the running app that Status reports on. */
export interface StatusSource {
  readonly counters: ServerCounters;
  readonly upstreamCounters: UpstreamCounters;
  readonly cacheCounters: CacheCounters;
  readonly cache: PacketCache;
  readonly processes: ProcessGroup | null;
  readonly observer: Observer;
  readonly inflight: number;
  readonly discovery: DiscoveryPool | null;
  readonly tracker: ClientTracker | null;
  readonly store: ClientStore | null;
  readonly tasks: TaskManager;
  readonly startedAt: number;
  readonly upstreamStates: ReadonlyMap<string, UpstreamState>;
  readonly isStopping: boolean;
  readonly reloads: number;
  readonly pipeline: { readonly flights: { readonly inflight: number } };
  readonly requests: { readonly pending: number; readonly capacity: number };
  readonly udpRing: RingView;
  readonly tcpRing: RingView;
  readonly lane: HeavyLane;
  readonly zones: ZoneManager;
  readonly udp: readonly unknown[];
  readonly tcp: ReadonlyArray<{ readonly connections: number }>;
  /** The iterator (recursive mode), null when it was never configured. */
  readonly recursor: RecursorView | null;
  readonly config: { readonly mode: string; readonly dnssec: { readonly validate: boolean | "auto" } };
  /** The DNSSEC validator, null when validation was never configured. */
  readonly validator: { readonly counters: { secure: number; insecure: number; bogus: number; indeterminate: number }; readonly nsecs: { readonly synthesized: number } } | null;
  /** Forwarding with dnssec.validate = "auto": what the upstreams do with DNSSEC. */
  readonly upstreamDnssec: { readonly validating: boolean; readonly stripping: string[] } | null;
}

/** What status reads of the iterator. */
export interface RecursorView {
  readonly counters: object;
  readonly infra: { snapshot(): Array<{ server: string; queries: number; timeouts: number; srttMs: number; heldDown: boolean }> };
  readonly cuts: { readonly size: { cuts: number; addresses: number } };
}

export class Status {
  private topClients: Array<{ ip: string; queries: number; name: string | null; transports: string[] }> = [];
  private lastDiscoveryTotal = 0;

  constructor(private readonly app: StatusSource) {}

  /** Registers the once-a-minute stats log line. */
  start(tasks: Pick<TaskManager, "every">): void {
    tasks.every("stats-log", "metrics", 60_000, () => log.info("stats", this.stats()));
  }

  /**
   * Request-path figures over every process: this one's plus the serving processes' last reports
   * (`processes = N`; with one process, just this one's).
   */
  totals(): { server: Record<string, number>; upstream: Record<string, number>; cache: Record<string, number>; queries: QueryStats; inflight: number } {
    const a = this.app;
    const own = {
      server: { ...a.counters } as Record<string, number>,
      upstream: { ...a.upstreamCounters } as Record<string, number>,
      cache: { ...a.cacheCounters, entries: a.cache.entries, bytes: a.cache.sizeBytes } as Record<string, number>,
    };
    const reports = a.processes?.reports() ?? [];
    if (reports.length === 0) return { ...own, queries: a.observer.stats, inflight: a.inflight };
    return {
      server: sumCounters(own.server, reports.map((r) => r.server)),
      upstream: sumCounters(own.upstream, reports.map((r) => r.upstream)),
      cache: sumCounters(own.cache, reports.map((r) => r.cache)),
      queries: a.observer.stats.plus(reports.map((r) => r.queries)),
      inflight: reports.reduce((n, r) => n + r.inflight, a.inflight),
    };
  }

  /** The serving processes, for /metrics, /healthz and /api/metrics/workers (null with one process). */
  processList(): Array<{ slot: number; pid: number | null; state: string; starts: number; lastExit: number | null; rss: number; queries: number }> | null {
    const p = this.app.processes;
    if (!p) return null;
    return p.list.map((x) => ({
      slot: x.slot,
      pid: x.pid,
      state: x.state,
      starts: x.starts,
      lastExit: x.lastExit,
      rss: x.report?.rss ?? 0,
      queries: x.report ? (x.report.server.udpQueries ?? 0) + (x.report.server.tcpQueries ?? 0) : 0,
    }));
  }

  /**
   * A second with nobody watching the live feed: the per-second baselines move on (so the next snapshot's rates
   * cover one second, not the whole unwatched stretch) and nothing is built: liveSnapshot holds the query thread
   * for milliseconds under load, most of it sampling the query log for top domains.
   */
  skipLiveSnapshot(): void {
    const t = this.totals();
    this.app.observer.skipInterval(t.cache.hits!, t.cache.misses!, t.queries);
    this.lastDiscoveryTotal = this.app.discovery?.metrics.total ?? 0;
  }

  /** The dashboard's one-second snapshot. */
  liveSnapshot(): Record<string, unknown> {
    const t = this.totals();
    const i = this.app.observer.interval(t.cache.hits!, t.cache.misses!, t.queries);
    const q = this.app.tracker?.queue;
    const d = this.app.discovery;
    const dm = d?.metrics;
    const prevTotal = this.lastDiscoveryTotal;
    this.lastDiscoveryTotal = dm?.total ?? 0;
    return {
      t: Math.round(Date.now() / 1000),
      uptimeSeconds: Math.round((Date.now() - this.app.startedAt) / 1000),
      ...i,
      upstreams: [...this.app.upstreamStates.values()].map((s) => s.snapshot()),
      recursion: this.liveRecursion(),
      queue: q ? { high: q.depthHigh, low: q.depthLow, rate: this.app.tracker!.counters.rate, dropped: q.dropped } : null,
      discovery: d && dm
        ? { rate: (dm.total - prevTotal), avgMs: dm.latency.count ? Math.round(dm.latency.sumMs / dm.latency.count) : 0, breaker: d.breaker.state,
            succeeded: dm.succeeded, failed: dm.failed, queued: d.depth, workers: d.liveWorkers, rateLimited: dm.rateLimited }
        : null,
      tasks: this.app.tasks.byCategory(),
      topClients: this.topClients,
      /** Answered queries since the start, by transport (udp, tcp, tls, https). */
      transports: t.queries.byTransport(),
      topDomains: this.app.observer.domains.top(10),
      recent: this.app.observer.log.recent(15),
    };
  }

  async refreshTopClients(): Promise<void> {
    if (!this.app.store?.ready) return;
    const r = (await this.app.store.request({ op: "list", offset: 0, limit: 10, sort: "queries" }, 2000)) as {
      clients: Array<{ ip: string; queries: number; names: Array<{ name: string }>; transports: string[] }>;
    };
    this.topClients = r.clients.map((c) => ({ ip: c.ip, queries: c.queries, name: c.names[0]?.name ?? null, transports: c.transports }));
  }

  stats(): Record<string, unknown> {
    const t = this.totals();
    return {
      queries: t.server,
      upstream: { ...t.upstream, open: { ...openExchanges }, encrypted: { ...openEncrypted }, servers: [...this.app.upstreamStates.values()].map((s) => s.snapshot()) },
      cache: { ...t.cache, flights: this.app.pipeline.flights.inflight },
      ring: { udp: this.app.udpRing.stats(), tcp: this.app.tcpRing.stats() },
      jobs: { ...this.app.lane.counters, queued: this.app.lane.depth, busy: this.app.lane.busy },
      clients: this.clientStats(),
      discovery: this.discoveryStats(),
      zones: this.app.zones.status(),
      inflight: t.inflight,
      pending: this.pending(),
      tcpConnections: this.app.tcp.reduce((n, t) => n + t.connections, 0),
      processes: this.processList(),
      mode: this.app.config.mode,
      recursion: this.recursion(),
      dnssec: this.dnssec(),
    };
  }

  /** For the dashboard: the iterator's totals and the ten authoritative servers asked most (null in forward mode). */
  private liveRecursion(): { queries: number; requests: number; servfails: number; servers: number; top: Array<{ server: string; queries: number; timeouts: number; srttMs: number; heldDown: boolean }> } | null {
    const r = this.app.config.mode === "recursive" ? this.recursion() : null;
    if (!r) return null;
    const top = [...r.servers].sort((a, b) => b.queries - a.queries).slice(0, 10);
    return { queries: r.counters.queries!, requests: r.counters.requests!, servfails: r.counters.servfails!, servers: r.servers.length, top };
  }

  /** The iterator's figures and its infrastructure cache, or null when it has never run. */
  recursion(): { counters: Record<string, number>; servers: ReturnType<RecursorView["infra"]["snapshot"]>; cuts: number; addresses: number } | null {
    const r = this.app.recursor;
    if (!r) return null;
    return { counters: { ...r.counters } as Record<string, number>, servers: r.infra.snapshot(), ...r.cuts.size };
  }

  /** The validator's verdicts, and what the upstreams do with DNSSEC when forwarding with "auto"; null when not validating. */
  dnssec(): { counters: { secure: number; insecure: number; bogus: number; indeterminate: number }; synthesized: number; downgraded: boolean | null; stripping: string[] } | null {
    const v = this.app.validator;
    if (!v || this.app.config.dnssec.validate === false) return null;
    const u = this.app.config.mode === "forward" && this.app.config.dnssec.validate === "auto" ? this.app.upstreamDnssec : null;
    return { counters: { ...v.counters }, synthesized: v.nsecs.synthesized, downgraded: u ? !u.validating : null, stripping: u?.stripping ?? [] };
  }

  private pending(): { waiting: number; capacity: number } {
    return { waiting: this.app.requests.pending, capacity: this.app.requests.capacity };
  }

  /** Ready: listeners up, not stopping, and some way to answer beyond local data (an upstream or a loaded zone). */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.app.isStopping) reasons.push("shutting down");
    if (this.app.udp.length === 0 || this.app.tcp.length === 0) reasons.push("listeners are not up");
    const upstreamOk = this.app.config.mode === "recursive" || [...this.app.upstreamStates.values()].some((s) => s.state !== "open");
    const zoneOk = this.app.zones.status().some((z) => z.serial !== null);
    if (!upstreamOk && !zoneOk) reasons.push("no usable upstream (all breakers open or none configured) and no loaded zone");
    return { ready: reasons.length === 0, reasons };
  }

  metricsText(): string {
    const t = this.totals();
    return renderPrometheus({
      server: t.server,
      upstream: t.upstream,
      upstreams: [...this.app.upstreamStates.values()].map((s) => s.snapshot()),
      cache: t.cache,
      ring: { udp: this.app.udpRing.stats(), tcp: this.app.tcpRing.stats() },
      tcpConnections: this.app.tcp.reduce((n, t) => n + t.connections, 0),
      inflight: t.inflight,
      pending: this.pending(),
      jobs: { ...this.app.lane.counters, queued: this.app.lane.depth },
      zones: this.app.zones.status(),
      clients: this.clientStats() as { queue: Record<string, number> } | null,
      discovery: this.discoveryStats() as never,
      tasks: this.app.tasks.byCategory(),
      memory: { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed },
      queries: t.queries,
      uptimeSeconds: Math.round((Date.now() - this.app.startedAt) / 1000),
      processes: this.processList() ?? undefined,
      recursion: this.recursion() ?? undefined,
      dnssec: this.dnssec() ?? undefined,
    });
  }

  clientStats(): Record<string, unknown> | null {
    const t = this.app.tracker;
    if (!t) return null;
    // Serving processes (processes = N) drop on their own full forwarding queues; all of it is low priority.
    const servingDropped = (this.app.processes?.reports() ?? []).reduce((n, r) => n + r.clientsDropped, 0);
    const c = t.queue.counters;
    return {
      queue: { high: t.queue.depthHigh, low: t.queue.depthLow, ...c, droppedLow: c.droppedLow + servingDropped, dropped: t.queue.dropped + servingDropped, ratePerSecond: t.counters.rate },
      store: { ...t.counters, requests: this.app.store?.requests ?? 0, failures: this.app.store?.failures ?? 0, ready: this.app.store?.ready ?? false },
      inMemory: t.clientsInMemory,
    };
  }

  discoveryStats(): Record<string, unknown> | null {
    const d = this.app.discovery;
    if (!d) return null;
    const m = d.metrics;
    return {
      ...m,
      latency: { ...m.latency, avgMs: m.latency.count ? m.latency.sumMs / m.latency.count : 0, bucketsMs: LATENCY_BUCKETS_MS },
      queued: d.depth,
      workers: d.liveWorkers,
      breaker: d.breaker.state,
      breakerOpened: d.breaker.opened,
      rate: d.opts.rate,
      burst: d.opts.burst,
    };
  }

  health(): Record<string, unknown> {
    return {
      status: this.app.isStopping ? "stopping" : "ok",
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.app.startedAt) / 1000),
      memory: { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed },
      reloads: this.app.reloads,
      tasks: this.app.tasks.byCategory(),
      ...this.stats(),
    };
  }
}
