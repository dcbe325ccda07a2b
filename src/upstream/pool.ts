// The upstream pool: per-upstream health (smoothed RTT, circuit breaker with exponential backoff — seed 003),
// the choice of upstream per question (fastest / round robin / ordered), and per-domain forwarding where the
// longest matching zone wins.
import { parseUpstream } from "../net/address";
import { hashName, nameEquals, toWire, type WireName, closestSuffix, type SuffixLookup } from "../wire/name";
import type { Upstream } from "./transport";
import type { ForwardConfig, UpstreamConfig } from "../config/types";
import { CircuitBreaker, type BreakerState } from "../lifecycle/breaker";
import type { Link } from "./link";

/** The breaker settings of the upstream section: breaker_failures, breaker_open_ms, breaker_max_open_ms. */
export type BreakerOptions = Pick<UpstreamConfig, "breaker_failures" | "breaker_open_ms" | "breaker_max_open_ms">;

/** Health and figures of one upstream; kept across config reloads while the address stays configured. */
export class UpstreamState {
  srttMs = 0;
  queries = 0;
  failures = 0;
  timeouts = 0;
  readonly breaker: CircuitBreaker;
  /** The connections of a tls:// or https:// upstream (opened on its first query); kept across reloads like health. */
  link: Link | null = null;

  constructor(
    readonly upstream: Upstream,
    opts: BreakerOptions,
    now: () => number = Date.now,
  ) {
    this.breaker = new CircuitBreaker(opts.breaker_failures, opts.breaker_open_ms, opts.breaker_max_open_ms, now);
  }

  /** New breaker settings from a reload; the current state is kept. */
  configure(opts: BreakerOptions): void {
    this.breaker.failures = opts.breaker_failures;
    this.breaker.openMs = opts.breaker_open_ms;
    this.breaker.maxOpenMs = opts.breaker_max_open_ms;
  }

  get state(): BreakerState {
    return this.breaker.state;
  }

  get openedAt(): number {
    return this.breaker.openedAt;
  }

  /** May a query go here now? An open breaker turns half-open after its period and lets one probe through. */
  available(): boolean {
    return this.breaker.available();
  }

  /** An attempt starts: counted, and in half-open it is the one probe. */
  begin(): void {
    this.queries++;
    this.breaker.begin();
  }

  /** An attempt ended for a reason that says nothing about the upstream (the client gave up). */
  abandon(): void {
    this.breaker.release();
  }

  success(rttMs: number): void {
    this.srttMs = this.srttMs === 0 ? rttMs : 0.7 * this.srttMs + 0.3 * rttMs;
    this.breaker.success();
  }

  failure(timedOut: boolean): void {
    this.failures++;
    if (timedOut) this.timeouts++;
    this.breaker.failure();
  }

  /** Shutdown: its connections close and what waits on them is cancelled. */
  close(): void {
    this.link?.close();
    this.link = null;
  }

  snapshot() {
    return {
      upstream: this.upstream.label,
      queries: this.queries,
      failures: this.failures,
      timeouts: this.timeouts,
      srttMs: Math.round(this.srttMs * 100) / 100,
      breaker: this.state,
      consecutiveFailures: this.breaker.consecutiveFailures,
      ...(this.link ? { connections: this.link.connections } : {}),
    };
  }
}

/** A [[forward]] zone: its name and upstreams. */
export type ForwardZone = ForwardConfig;

/** strategy, exploration and the breaker settings of the upstream section. */
export type PoolOptions = Pick<UpstreamConfig, "strategy" | "exploration"> & BreakerOptions;

/** Where a question goes: its forward zone (the root for the default upstreams) and that zone's upstreams. */
export interface Route {
  /** The bailiwick of the answers: records outside it are scrubbed from what these upstreams say. */
  zone: WireName;
  states: UpstreamState[];
}

const ROOT = toWire(".");

export class UpstreamPool {
  private rr = 0;
  private readonly routes = new Map<number, Route[]>();
  readonly defaults: UpstreamState[];
  private readonly defaultRoute: Route;

  /**
   * @param registry states by address label, shared with earlier pools so health survives a reload.
   */
  constructor(
    upstreams: string[],
    forwards: ForwardZone[],
    readonly opts: PoolOptions,
    registry: Map<string, UpstreamState>,
    now: () => number = Date.now,
  ) {
    const state = (addr: string) => {
      const up = parseUpstream(addr);
      const label = up.label;
      let s = registry.get(label);
      if (!s) registry.set(label, (s = new UpstreamState(up, opts, now)));
      else s.configure(opts);
      return s;
    };
    this.defaults = upstreams.map(state);
    this.defaultRoute = { zone: ROOT, states: this.defaults };
    for (const f of forwards) {
      const zone = toWire(f.zone);
      const route = { zone, states: f.upstreams.map(state) };
      const h = hashName(zone, 0, zone.length);
      const bucket = this.routes.get(h);
      if (bucket) bucket.push(route);
      else this.routes.set(h, [route]);
    }
  }

  get usable(): boolean {
    return this.defaults.length > 0 || this.routes.size > 0;
  }

  /** The route for the name at buf[off..end): the longest matching forward zone's, else the defaults at the root. */
  route(buf: Uint8Array, off: number, end: number): Route {
    if (this.routes.size === 0) return this.defaultRoute;
    return closestSuffix(buf, off, end, this.routeAt) ?? this.defaultRoute;
  }

  /** The [[forward]] zone the name at buf[off..end) is in, or null (the default upstreams' names). */
  forwardZone(buf: Uint8Array, off: number, end: number): Route | null {
    const r = this.route(buf, off, end);
    return r === this.defaultRoute ? null : r;
  }

  /** The upstreams for the name at buf[off..end): the longest matching forward zone's, else the defaults. */
  candidates(buf: Uint8Array, off: number, end: number): UpstreamState[] {
    return this.route(buf, off, end).states;
  }

  private readonly routeAt: SuffixLookup<Route> = (buf, o, end, hash) => this.routes.get(hash)?.find((r) => nameEquals(buf, o, end, r.zone));

  /**
   * The order to try `list` in for one question: by strategy, upstreams with an open breaker left out.
   * If every breaker is open, the one that opened first is tried anyway rather than failing the name outright.
   */
  order(list: UpstreamState[]): UpstreamState[] {
    let ordered: UpstreamState[];
    switch (this.opts.strategy) {
      case "ordered":
        ordered = list.slice();
        break;
      case "round_robin": {
        const start = this.rr++ % Math.max(1, list.length);
        ordered = list.slice(start).concat(list.slice(0, start));
        break;
      }
      default: {
        // Unmeasured upstreams (srtt 0) sort first so each gets measured; then the fastest.
        ordered = list.slice().sort((a, b) => a.srttMs - b.srttMs);
        if (ordered.length > 1 && Math.random() < this.opts.exploration) {
          const i = 1 + Math.floor(Math.random() * (ordered.length - 1));
          [ordered[0], ordered[i]] = [ordered[i]!, ordered[0]!];
        }
      }
    }
    const open = ordered.filter((s) => s.available());
    if (open.length > 0 || ordered.length === 0) return open;
    return [ordered.reduce((a, b) => (a.openedAt <= b.openedAt ? a : b))];
  }
}
