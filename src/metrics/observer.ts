// What the dashboard sees each second: rates and latency quantiles over the last interval (deltas of the
// running counters), top domains from the recent-query log, and whatever the sources add.
import { QueryLog, QueryStats } from "./querystats";

/** Space-bounded counts with decay: names fade unless they keep being asked for. */
export class TopK {
  private readonly counts = new Map<string, number>();
  constructor(readonly max = 2000) {}
  get size(): number {
    return this.counts.size;
  }
  add(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    if (this.counts.size >= this.max * 2) this.trim(); // a scan of random names must not grow it until decay
  }
  /** Halves every count and forgets the smallest when over the bound. */
  decay(): void {
    for (const [k, v] of this.counts) {
      const n = v / 2;
      if (n < 0.5) this.counts.delete(k);
      else this.counts.set(k, n);
    }
    if (this.counts.size > this.max) this.trim();
  }
  /** Keeps the `max` largest counts. */
  private trim(): void {
    const keep = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, this.max);
    this.counts.clear();
    for (const [k, v] of keep) this.counts.set(k, v);
  }
  /**
   * The n largest counts, largest first: one pass keeping the best n in order (n is 10 on the dashboard),
   * instead of copying and sorting every entry — this runs on the query thread once a second.
   */
  top(n: number): Array<{ name: string; count: number }> {
    if (n <= 0) return [];
    const names: string[] = [];
    const counts: number[] = [];
    for (const [name, count] of this.counts) {
      if (names.length === n && count <= counts[n - 1]!) continue;
      if (names.length < n) {
        names.push(name);
        counts.push(count);
      }
      // the last slot is the new one (or, when full, the smallest, which this count replaces): sift it up
      let i = names.length - 1;
      for (; i > 0 && counts[i - 1]! < count; i--) {
        names[i] = names[i - 1]!;
        counts[i] = counts[i - 1]!;
      }
      names[i] = name;
      counts[i] = count;
    }
    return names.map((name, i) => ({ name, count: Math.round(counts[i]!) }));
  }
}

export interface Interval {
  qps: number;
  p50ms: number;
  p99ms: number;
  hitRatio: number | null;
}

export class Observer {
  readonly stats = new QueryStats();
  readonly log: QueryLog;
  readonly domains = new TopK();
  private lastTotal = 0;
  private lastHist = new Float64Array(0);
  private lastHits = 0;
  private lastMisses = 0;
  private lastAt = performance.now();
  private logCursor = 0;
  private ticks = 0;

  constructor(logSize = 2000) {
    this.log = new QueryLog(logSize);
    this.lastHist = new Float64Array(this.stats.latency.length);
  }

  /**
   * What interval() does for the next one, without its work: the baselines move on, and the query log's
   * entries are left unsampled. For seconds nobody watches: sampling the log for top domains makes a string
   * per logged query, which would hold the query thread for milliseconds every second under load.
   */
  skipInterval(hits: number, misses: number, stats: QueryStats = this.stats): void {
    this.advance(hits, misses, stats, performance.now(), this.log.written);
  }

  /** Rates and quantiles since the previous call; also folds new log entries into the top domains. */
  /** `stats`: these figures by default; the sum over all processes with `processes = N`. */
  interval(hits: number, misses: number, stats: QueryStats = this.stats): Interval {
    const now = performance.now();
    const secs = Math.max(0.001, (now - this.lastAt) / 1000);
    const delta = stats.latency.map((v, i) => Math.max(0, v - this.lastHist[i]!)); // a restarted process starts at 0
    const dh = hits - this.lastHits;
    const dm = misses - this.lastMisses;
    const out: Interval = {
      qps: Math.max(0, Math.round((stats.total - this.lastTotal) / secs)),
      p50ms: stats.quantile(0.5, delta) * 1000,
      p99ms: stats.quantile(0.99, delta) * 1000,
      hitRatio: dh + dm > 0 ? dh / (dh + dm) : null,
    };
    this.advance(hits, misses, stats, now, this.log.since(this.logCursor, (q) => this.domains.add(q)));
    return out;
  }

  /** The next interval starts here: counter baselines, log cursor, and the top domains' decay once a minute. */
  private advance(hits: number, misses: number, stats: QueryStats, now: number, logCursor: number): void {
    this.lastTotal = stats.total;
    this.lastHist = stats.latency.slice();
    this.lastHits = hits;
    this.lastMisses = misses;
    this.lastAt = now;
    this.logCursor = logCursor;
    if (++this.ticks % 60 === 0) this.domains.decay();
  }
}
