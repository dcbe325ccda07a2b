// In-process pipeline parts built from the real config defaults (the schema parsed from an empty config), for
// unit tests and micro-benchmarks. Overrides use the schema's own names.
import { PacketCache } from "../../src/cache/cache";
import { configSchema, type Config } from "../../src/config/schema";
import type { CacheConfig, TimeoutsConfig, UpstreamConfig } from "../../src/config/types";
import { CacheCounters, ServerCounters, UpstreamCounters } from "../../src/metrics/counters";
import { Pipeline, type Snapshot } from "../../src/pipeline";
import { Forwarder, type Forwarded } from "../../src/upstream/forwarder";
import { setLogSink } from "../../src/metrics/log";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { makeQuery } from "./dns";
import { UpstreamPool, UpstreamState, type ForwardZone } from "../../src/upstream/pool";
import { LocalData } from "../../src/zones/local";
import { ZoneTable } from "../../src/zones/snapshot";
import { systemClock, type Clock } from "../../src/lifecycle/clock";

/** The defaults of every setting, as an empty configuration file gives them. */
export const defaults: Config = configSchema.parse({});

/** Test defaults that differ from the shipped ones: "ordered" upstreams, no exploration, so tests are deterministic. */
const upstreamDefaults: UpstreamConfig = { ...defaults.upstream, strategy: "ordered", exploration: 0 };

export function cacheSettings(o: Partial<CacheConfig> = {}): CacheConfig {
  return { ...defaults.cache, max_entries: 10_000, max_bytes: 16 * 1024 * 1024, ...o };
}

export function makePool(upstreams: string[], opts: Partial<UpstreamConfig> = {}, forwards: ForwardZone[] = [], now?: () => number) {
  const registry = new Map<string, UpstreamState>();
  return { pool: new UpstreamPool(upstreams, forwards, { ...upstreamDefaults, ...opts }, registry, now), registry };
}

export interface ForwarderOverrides {
  pool?: UpstreamPool;
  upstream?: Partial<UpstreamConfig>;
  timeouts?: Partial<TimeoutsConfig>;
}

export function makeForwarder(upstreams: string[], o: ForwarderOverrides = {}, counters = new UpstreamCounters(), clock: Clock = systemClock) {
  const pool = o.pool ?? makePool(upstreams).pool;
  return new Forwarder({ pool, upstream: { ...upstreamDefaults, ...o.upstream }, timeouts: { ...defaults.timeouts, upstream_ms: 500, ...o.timeouts } }, counters, clock);
}

export function makePipeline(
  records: string[] = [],
  upstreams: string[] = [],
  o: {
    local?: LocalData;
    cache?: Partial<CacheConfig>;
    timeouts?: Partial<TimeoutsConfig>;
    /** The cache's clock (ms), when only the cache is to see time move. */
    now?: () => number;
    /** The clock of the pipeline, the forwarder and its exchanges (and the cache, unless `now` is given). */
    clock?: Clock;
    forwarder?: ForwarderOverrides;
    zones?: ZoneTable;
  } = {},
) {
  const counters = new ServerCounters();
  const cacheCounters = new CacheCounters();
  const upstreamCounters = new UpstreamCounters();
  const settings = cacheSettings(o.cache);
  const clock = o.clock ?? systemClock;
  const cache = new PacketCache(() => settings, cacheCounters, o.now ?? (o.clock ? () => clock.now() : undefined));
  const forwarder = makeForwarder(upstreams, o.forwarder ?? {}, upstreamCounters, clock);
  const snapshot: Snapshot = {
    local: o.local ?? new LocalData(records),
    forwarder,
    resolver: forwarder,
    timeouts: { ...defaults.timeouts, query_ms: 1000, ...o.timeouts },
    cache: settings,
  };
  const zones = o.zones ?? new ZoneTable();
  return { pipeline: new Pipeline(() => snapshot, cache, zones, counters, cacheCounters, clock), cache, counters, cacheCounters, upstreamCounters, zones, snapshot };
}

/** The forwarder's answer to `name` (`type`), within timeoutMs: what the pipeline's fetch would get. */
export async function forwardQuery(f: Forwarder, name: string, timeoutMs = 2000, type = "A"): Promise<Forwarded | null> {
  const bytes = makeQuery(name, type);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  return f.forward(bytes, q, Date.now() + timeoutMs, AbortSignal.timeout(timeoutMs));
}

/** The warn lines logged while `fn` runs, with its value. */
export async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const prev = setLogSink((line) => {
    const rec = JSON.parse(line);
    if (rec.level === "warn") lines.push(rec);
  });
  try {
    return { value: await fn(), lines };
  } finally {
    setLogSink(prev);
  }
}

