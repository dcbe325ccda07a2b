// What the app reports about itself: /healthz, /readyz, /metrics, the JSON metric groups and the dashboard's
// one-second snapshot. It only reads the parts App wires together.
import type { App } from "./app";
import { renderPrometheus } from "./metrics/render";
import { LATENCY_BUCKETS_MS } from "./discovery/pool";
import { openExchanges } from "./upstream/transport";
import { VERSION } from "./version";

export class Status {
  private topClients: Array<{ ip: string; queries: number; name: string | null }> = [];
  private lastDiscoveryTotal = 0;

  constructor(private readonly app: App) {}

  /** The dashboard's one-second snapshot. */
  liveSnapshot(): Record<string, unknown> {
    const i = this.app.observer.interval(this.app.cacheCounters.hits, this.app.cacheCounters.misses);
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
      queue: q ? { high: q.depthHigh, low: q.depthLow, rate: this.app.tracker!.counters.rate, dropped: q.dropped } : null,
      discovery: d && dm
        ? { rate: (dm.total - prevTotal), avgMs: dm.latency.count ? Math.round(dm.latency.sumMs / dm.latency.count) : 0, breaker: d.breaker.state,
            succeeded: dm.succeeded, failed: dm.failed, queued: d.depth, workers: d.liveWorkers, rateLimited: dm.rateLimited }
        : null,
      tasks: this.app.tasks.byCategory(),
      topClients: this.topClients,
      topDomains: this.app.observer.domains.top(10),
      recent: this.app.observer.log.recent(15),
    };
  }

  async refreshTopClients(): Promise<void> {
    if (!this.app.store?.ready) return;
    const r = (await this.app.store.request({ op: "list", offset: 0, limit: 10, sort: "queries" }, 2000)) as {
      clients: Array<{ ip: string; queries: number; names: Array<{ name: string }> }>;
    };
    this.topClients = r.clients.map((c) => ({ ip: c.ip, queries: c.queries, name: c.names[0]?.name ?? null }));
  }

  stats(): Record<string, unknown> {
    return {
      queries: { ...this.app.counters },
      upstream: { ...this.app.upstreamCounters, open: { ...openExchanges }, servers: [...this.app.upstreamStates.values()].map((s) => s.snapshot()) },
      cache: { ...this.app.cacheCounters, entries: this.app.cache.entries, bytes: this.app.cache.sizeBytes, flights: this.app.pipeline.flights.inflight },
      ring: { udp: this.app.udpRing.stats(), tcp: this.app.tcpRing.stats() },
      jobs: { ...this.app.lane.counters, queued: this.app.lane.depth, busy: this.app.lane.busy },
      clients: this.clientStats(),
      discovery: this.discoveryStats(),
      zones: this.app.zones.status(),
      inflight: this.app.inflight,
      tcpConnections: this.app.tcp.reduce((n, t) => n + t.connections, 0),
    };
  }

  /** Ready: listeners up, not stopping, and some way to answer beyond local data (an upstream or a loaded zone). */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.app.isStopping) reasons.push("shutting down");
    if (this.app.udp.length === 0 || this.app.tcp.length === 0) reasons.push("listeners are not up");
    const upstreamOk = [...this.app.upstreamStates.values()].some((s) => s.state !== "open");
    const zoneOk = this.app.zones.status().some((z) => z.serial !== null);
    if (!upstreamOk && !zoneOk) reasons.push("no usable upstream (all breakers open or none configured) and no loaded zone");
    return { ready: reasons.length === 0, reasons };
  }

  metricsText(): string {
    return renderPrometheus({
      server: { ...this.app.counters },
      upstream: { ...this.app.upstreamCounters },
      upstreams: [...this.app.upstreamStates.values()].map((s) => s.snapshot()),
      cache: { ...this.app.cacheCounters, entries: this.app.cache.entries, bytes: this.app.cache.sizeBytes },
      ring: { udp: this.app.udpRing.stats(), tcp: this.app.tcpRing.stats() },
      tcpConnections: this.app.tcp.reduce((n, t) => n + t.connections, 0),
      inflight: this.app.inflight,
      jobs: { ...this.app.lane.counters, queued: this.app.lane.depth },
      zones: this.app.zones.status(),
      clients: this.clientStats() as { queue: Record<string, number> } | null,
      discovery: this.discoveryStats() as never,
      tasks: this.app.tasks.byCategory(),
      memory: { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed },
      queries: this.app.observer.stats,
      uptimeSeconds: Math.round((Date.now() - this.app.startedAt) / 1000),
    });
  }

  clientStats(): Record<string, unknown> | null {
    const t = this.app.tracker;
    if (!t) return null;
    return {
      queue: { high: t.queue.depthHigh, low: t.queue.depthLow, ...t.queue.counters, dropped: t.queue.dropped, ratePerSecond: t.counters.rate },
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
