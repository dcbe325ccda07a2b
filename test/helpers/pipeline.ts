// In-process pipeline parts built from the real config defaults, for unit tests and micro-benchmarks.
import { PacketCache, type CacheOptions } from "../../src/cache/cache";
import { CacheCounters, ServerCounters, UpstreamCounters } from "../../src/metrics/counters";
import { Pipeline, type Snapshot } from "../../src/pipeline";
import { Forwarder, type ForwarderOptions } from "../../src/upstream/forwarder";
import { UpstreamPool, UpstreamState, type ForwardZone, type PoolOptions } from "../../src/upstream/pool";
import { LocalData } from "../../src/zones/local";
import { ZoneTable } from "../../src/zones/snapshot";

export const defaultCacheOptions: CacheOptions = {
  maxEntries: 10_000,
  maxBytes: 16 * 1024 * 1024,
  minTtl: 0,
  maxTtl: 86_400,
  negativeMaxTtl: 3600,
  servfailTtl: 5,
  staleMaxAge: 86_400,
  staleAnswerTtl: 30,
};

export const defaultPoolOptions: PoolOptions = {
  strategy: "ordered",
  exploration: 0,
  breaker: { failures: 5, openMs: 30_000, maxOpenMs: 300_000 },
};

export function makePool(upstreams: string[], opts: Partial<PoolOptions> = {}, forwards: ForwardZone[] = [], now?: () => number) {
  const registry = new Map<string, UpstreamState>();
  return { pool: new UpstreamPool(upstreams, forwards, { ...defaultPoolOptions, ...opts }, registry, now), registry };
}

export function makeForwarder(upstreams: string[], opts: Partial<Omit<ForwarderOptions, "pool">> & { pool?: UpstreamPool } = {}, counters = new UpstreamCounters()) {
  const pool = opts.pool ?? makePool(upstreams).pool;
  return new Forwarder({ attemptTimeoutMs: 500, randomizeCase: false, maxCnameChain: 12, ...opts, pool }, counters);
}

export function makePipeline(
  records: string[] = [],
  upstreams: string[] = [],
  o: {
    snapshot?: Partial<Snapshot>;
    cache?: Partial<CacheOptions>;
    now?: () => number;
    forwarder?: Partial<Omit<ForwarderOptions, "pool">> & { pool?: UpstreamPool };
    zones?: ZoneTable;
  } = {},
) {
  const counters = new ServerCounters();
  const cacheCounters = new CacheCounters();
  const upstreamCounters = new UpstreamCounters();
  const cache = new PacketCache({ ...defaultCacheOptions, ...o.cache }, cacheCounters, o.now);
  const snapshot: Snapshot = {
    local: new LocalData(records),
    forwarder: makeForwarder(upstreams, o.forwarder ?? {}, upstreamCounters),
    queryTimeoutMs: 1000,
    serveStale: true,
    staleClientTimeoutMs: 1800,
    prefetch: true,
    ...o.snapshot,
  };
  const zones = o.zones ?? new ZoneTable();
  return { pipeline: new Pipeline(snapshot, cache, zones, counters, cacheCounters), cache, counters, cacheCounters, upstreamCounters, zones };
}
