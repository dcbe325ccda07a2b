// The infrastructure cache (Unbound's infra cache): what bunbound has learnt about each authoritative server it
// asks, keyed by address and port — its smoothed RTT and retransmission timeout (RFC 6298 arithmetic, as Unbound
// does), whether it takes EDNS, and zones it is lame for. Servers are chosen by RTT with some exploration: any
// server within RTT_BAND of the fastest may be picked, so estimates stay current and load spreads. A server that
// keeps timing out has its timeout doubled each time and, past MAX_RTO, is held down until infra_ttl_ms passes.
// Bounded: past `max` entries the least recently used go.
import type { RecursionConfig } from "../config/types";

/** A server not asked yet counts as this fast (Unbound's UNKNOWN_SERVER_NICENESS), so it gets tried. */
const UNKNOWN_RTT_MS = 376;
/** Servers whose RTT is within this of the fastest are picked from at random (Unbound's RTT_BAND). */
const RTT_BAND_MS = 400;
const MIN_RTO_MS = 50;
/** Past this the server is held down (Unbound's USEFUL_SERVER_TOP_TIMEOUT). */
const MAX_RTO_MS = 120_000;

export interface ServerInfo {
  srtt: number;
  rttvar: number;
  rto: number;
  /** Answers measured; 0: not asked yet (its RTT is UNKNOWN_RTT_MS). */
  answers: number;
  timeouts: number;
  /** Consecutive timeouts since the last answer. */
  strikes: number;
  queries: number;
  /** It answered FORMERR or NOTIMP to a query with EDNS (it is asked without from then on). */
  noEdns: boolean;
  /** Held down (unreachable) until this time (ms since epoch); 0: not. */
  downUntil: number;
  /** Zones (keys) it is lame for, with when that ends. */
  lame: Map<string, number>;
  /** Forgotten after this: what it has learnt is that old. */
  expires: number;
}

export type InfraSettings = Pick<RecursionConfig, "infra_ttl_ms" | "infra_max" | "server_timeout_ms">;

export class InfraCache {
  private readonly servers = new Map<string, ServerInfo>();

  constructor(
    private readonly settings: () => InfraSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.servers.size;
  }

  /** The entry for `addr` ("host#port"), made (and the oldest dropped past infra_max) when missing. */
  private info(addr: string): ServerInfo {
    const now = this.now();
    let s = this.servers.get(addr);
    if (s && s.expires <= now) {
      this.servers.delete(addr);
      s = undefined;
    }
    if (s) {
      // Map order is recency: move it to the end.
      this.servers.delete(addr);
      this.servers.set(addr, s);
      return s;
    }
    const { infra_ttl_ms, infra_max } = this.settings();
    s = { srtt: UNKNOWN_RTT_MS, rttvar: UNKNOWN_RTT_MS / 2, rto: UNKNOWN_RTT_MS, answers: 0, timeouts: 0, strikes: 0, queries: 0, noEdns: false, downUntil: 0, lame: new Map(), expires: now + infra_ttl_ms };
    this.servers.set(addr, s);
    while (this.servers.size > infra_max) this.servers.delete(this.servers.keys().next().value!);
    return s;
  }

  /** How long to wait for `addr`'s answer: its RTO, at most server_timeout_ms. */
  timeoutFor(addr: string): number {
    return Math.min(this.settings().server_timeout_ms, Math.max(MIN_RTO_MS, this.info(addr).rto));
  }

  usesEdns(addr: string): boolean {
    return !this.info(addr).noEdns;
  }

  noEdns(addr: string): void {
    this.info(addr).noEdns = true;
  }

  sent(addr: string): void {
    this.info(addr).queries++;
  }

  /** An answer after `ms`: RFC 6298 smoothing, the timeout from it, the strikes cleared. */
  answered(addr: string, ms: number): void {
    const s = this.info(addr);
    if (s.answers === 0) {
      s.srtt = ms;
      s.rttvar = ms / 2;
    } else {
      s.rttvar = 0.75 * s.rttvar + 0.25 * Math.abs(s.srtt - ms);
      s.srtt = 0.875 * s.srtt + 0.125 * ms;
    }
    s.answers++;
    s.strikes = 0;
    s.downUntil = 0;
    s.rto = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, s.srtt + 4 * s.rttvar));
  }

  /** A timeout: the next wait doubles; past MAX_RTO (or after many in a row) it is held down for infra_ttl_ms. */
  timedOut(addr: string): void {
    const s = this.info(addr);
    s.timeouts++;
    s.strikes++;
    s.rto = Math.min(MAX_RTO_MS, s.rto * 2);
    if (s.rto >= MAX_RTO_MS || s.strikes >= 4) s.downUntil = this.now() + this.settings().infra_ttl_ms;
  }

  /** It refused, failed or referred us upward for `zone`: not asked for that zone for infra_ttl_ms. */
  lameFor(addr: string, zone: string): void {
    this.info(addr).lame.set(zone, this.now() + this.settings().infra_ttl_ms);
  }

  /** Whether `addr` should not be asked for `zone` now (lame for it, or held down). */
  avoided(addr: string, zone: string): boolean {
    const s = this.servers.get(addr);
    if (!s) return false;
    const now = this.now();
    if (s.downUntil > now) return true;
    const until = s.lame.get(zone);
    return until !== undefined && until > now;
  }

  /**
   * The server to ask next among `addrs`: one of those within RTT_BAND of the fastest, at random; servers to
   * avoid only when nothing else is left (one of them may have recovered).
   */
  choose(addrs: string[], zone: string): string | null {
    if (addrs.length === 0) return null;
    const usable = addrs.filter((a) => !this.avoided(a, zone));
    const from = usable.length > 0 ? usable : addrs;
    const rtt = (a: string) => {
      const s = this.servers.get(a);
      return s && s.answers > 0 ? s.srtt : s ? s.rto : UNKNOWN_RTT_MS;
    };
    let best = Infinity;
    for (const a of from) best = Math.min(best, rtt(a));
    const band = from.filter((a) => rtt(a) <= best + RTT_BAND_MS);
    return band[Math.floor(Math.random() * band.length)]!;
  }

  /** What is known of each server, for the API and metrics (most recently used last). */
  snapshot(): Array<{ server: string; srttMs: number; rtoMs: number; queries: number; answers: number; timeouts: number; edns: boolean; heldDown: boolean; lameZones: number }> {
    const now = this.now();
    const out = [];
    for (const [addr, s] of this.servers) {
      if (s.expires <= now) continue;
      let lame = 0;
      for (const until of s.lame.values()) if (until > now) lame++;
      out.push({ server: addr.replace("#", ":"), srttMs: Math.round(s.srtt * 10) / 10, rtoMs: Math.round(s.rto), queries: s.queries, answers: s.answers, timeouts: s.timeouts, edns: !s.noEdns, heldDown: s.downUntil > now, lameZones: lame });
    }
    return out;
  }
}
