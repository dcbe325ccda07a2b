// One request's journey: parse → local data → cache → upstream. Works only on the bytes of the request's own
// slot; returns the length of the answer written there. The synchronous part (answerNow) is the cheap path
// (local data and cache hits, answered before the receive callback returns); only a miss goes async
// (miss, then finish), with the client's deadline, coalesced with identical misses, and with stale data as the
// fallback (RFC 8767).
import { Flag, HEADER_LEN, QClass, QType, Rcode } from "../wire/constants";
import { parseQuery, QueryInfo, Verdict } from "../wire/query";
import { errorResponse, optLen, truncateTo, writeOpt } from "../wire/response";
import type { LocalData } from "../zones/local";
import type { Forwarded, Forwarder, Resolver } from "../upstream/forwarder";
import { copyWithoutOpt, optBytes } from "../wire/scan";
import { Coalescer } from "../upstream/coalesce";
import { NONE, variantOf, wantsAd, type PacketCache } from "../cache/cache";
import type { CacheCounters, ServerCounters } from "../metrics/counters";
import { log } from "../metrics/log";
import { rcodeOf } from "../wire/message";
import { lower } from "../wire/name";
import { systemClock, type Clock } from "../lifecycle/clock";
import { Outcome, type RequestHandler, type Waiting } from "./handler";
import { relayedByte2, relayedByte3 } from "../wire/relay";
import { answerLocal } from "./local";
import { answerAuthoritative } from "./authority";
import { chase } from "./chase";
import type { ZoneTable } from "../zones/snapshot";
import type { CacheConfig, TimeoutsConfig } from "../config/types";

/** Everything a request needs from configuration, part of the runtime a reload swaps in one assignment. */
export interface Snapshot {
  readonly local: LocalData;
  readonly forwarder: Forwarder;
  /** Where misses go: the forwarder, or in recursive mode the iterator (which hands [[forward]] zones to it). */
  readonly resolver: Resolver;
  /** query_ms: a client's deadline. */
  readonly timeouts: Pick<TimeoutsConfig, "query_ms">;
  /** serve_stale, stale_client_timeout_ms (RFC 8767 4), prefetch. */
  readonly cache: Pick<CacheConfig, "serve_stale" | "stale_client_timeout_ms" | "prefetch">;
}

/** Key of identical questions for coalescing: lowercased qname, type, class, DO/CD. Miss path only. */
function flightKey(buf: Uint8Array, q: QueryInfo): string {
  let s = "";
  for (let i = HEADER_LEN; i < q.qnameEnd; i++) {
    const b = buf[i]!;
    s += String.fromCharCode(lower(b));
  }
  return `${s}/${q.qtype}/${q.qclass}/${variantOf(q)}`;
}

const MAX_MESSAGE = 65535;

/** Error answers a second for messages whose question did not parse (the rest are dropped). */
const ERRORS_WITHOUT_QUESTION = 100;

export class Pipeline implements RequestHandler<Forwarded> {
  /** Requests waiting on upstreams right now. */
  inflight = 0;
  private errorSecond = 0;
  private errorsThisSecond = 0;
  readonly flights = new Coalescer<Forwarded | null>();

  /** @param current the running snapshot (read once per request: a reload swaps it). */
  constructor(
    private readonly current: () => Snapshot,
    readonly cache: PacketCache,
    readonly zones: ZoneTable,
    private readonly counters: ServerCounters,
    private readonly cacheCounters: CacheCounters,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Parses the query in buf[0..len) into `q` and answers what needs no I/O, in place. `udp` selects the
   * size limit (UDP: the client's; TCP: the slot). Returns the answer length, or an Outcome: DROP, PENDING
   * when upstreams must be asked (miss()), TRANSFER for an AXFR.
   */
  answerNow(buf: Uint8Array, len: number, q: QueryInfo, udp: boolean): number {
    const verdict = parseQuery(buf, len, q);
    if (verdict === Verdict.DROP) {
      this.counters.dropped++;
      return Outcome.DROP;
    }
    if (verdict === Verdict.COOKIE_ONLY) {
      this.counters.cookieOnly++;
      return errorResponse(buf, q, Verdict.COOKIE_ONLY);
    }
    if (verdict !== Verdict.OK) return this.error(buf, q, verdict);
    const snap = this.current();
    const n = answerLocal(buf, q, snap.local);
    if (n >= 0) {
      this.counters.localAnswers++;
      return this.fit(buf, n, q, udp);
    }
    const zone = this.zones.find(buf, HEADER_LEN, q.qnameEnd);
    // Served zones are class IN: a CH question answered with IN records is a malformed answer to the client.
    if (zone && q.qclass !== QClass.IN && q.qclass !== QClass.ANY) return this.error(buf, q, Rcode.REFUSED);
    if (zone?.loading) return this.error(buf, q, Rcode.SERVFAIL); // configured, not loaded yet: never guess
    if (q.qtype === QType.AXFR || q.qtype === QType.IXFR) {
      // Transfers only over TCP and only of zones we serve (RFC 5936 4.2); IXFR falls back to AXFR (RFC 1995 4).
      return zone && !udp ? Outcome.TRANSFER : this.error(buf, q, Rcode.REFUSED);
    }
    if (zone) {
      this.counters.authoritative++;
      return this.fit(buf, answerAuthoritative(buf, q, zone), q, udp);
    }
    if (q.qclass !== QClass.IN) return this.error(buf, q, Rcode.REFUSED); // CH/ANY: only what local data has
    const cache = this.cache;
    const now = cache.now();
    const e = cache.lookup(buf, q, now);
    if (e !== NONE && now < cache.expiresAt(e)) {
      const hit = cache.writeAnswer(buf, q, e, false, now);
      if (hit >= 0) {
        this.cacheCounters.hits++;
        // Prefetch (like Unbound's): a hit in the last 10% of the entry's life refreshes it in the background.
        if (snap.cache.prefetch && !cache.isRefreshing(e) && cache.remaining(e, now) * 10 < cache.ttl(e)) {
          this.cacheCounters.prefetches++;
          this.refresh(buf, q, e);
        }
        return this.fit(buf, hit, q, udp);
      }
    }
    this.cacheCounters.misses++;
    if (!snap.resolver.usable) {
      if (e !== NONE && snap.cache.serve_stale) return this.serveStale(buf, q, e, udp);
      return this.error(buf, q, Rcode.SERVFAIL);
    }
    return Outcome.PENDING;
  }

  /**
   * Starts getting an answer from upstreams for a query answerNow() returned PENDING for, by `deadline` (ms
   * since epoch); with stale data at hand, for at most stale_client_timeout_ms (RFC 8767 4). Settles with the
   * upstream's answer, or null when upstreams failed, the wait ran out or cancel() was called; never rejects.
   * `query` holds the query's header and question (any buffer: it is read before this returns).
   */
  miss(query: Uint8Array, q: QueryInfo, deadline: number): Waiting<Forwarded> {
    const snap = this.current();
    this.inflight++;
    this.counters.forwarded++;
    const hadStale = snap.cache.serve_stale && this.cache.lookup(query, q) !== NONE;
    const flight = this.join(query, q);
    // One promise, one timer and one reaction per waiting miss: a flood of misses is paid for in these.
    let settle!: (r: Forwarded | null) => void;
    const promise = new Promise<Forwarded | null>((r) => (settle = r));
    let done = false;
    const end = (result: Forwarded | null) => {
      if (done) return;
      done = true;
      this.clock.cancel(timer);
      flight.leave();
      this.inflight--;
      settle(result);
    };
    const timer = this.clock.after(Math.max(0, Math.min(deadline - this.clock.now(), hadStale ? snap.cache.stale_client_timeout_ms : Infinity)), () => end(null));
    flight.promise.then(end, (err) => {
      log.warn("resolve failed", { err });
      end(null);
    });
    return { promise, cancel: () => end(null) };
  }

  /**
   * Writes what a miss came to into `buf` (holding the query's header and question): the upstream's answer,
   * unless it is a SERVFAIL and stale data is at hand; else stale data (refreshed in the background); else SERVFAIL.
   */
  finish(buf: Uint8Array, q: QueryInfo, udp: boolean, result: Forwarded | null): number {
    const serveStale = this.current().cache.serve_stale;
    // Looked up now: entries are indexes, and one seen before the wait may have been replaced since.
    const found = serveStale && (!result || rcodeOf(result.resp) === Rcode.SERVFAIL) ? this.cache.lookup(buf, q) : NONE;
    const stale = found !== NONE && !this.cache.isServfail(found) ? found : NONE; // a kept SERVFAIL is no stale data
    if (result && stale === NONE) return this.fit(buf, this.copyAnswer(buf, q, result), q, udp);
    if (stale !== NONE) {
      this.refresh(buf, q, stale); // keeps the upstream query alive for the cache after we stop waiting
      return this.serveStale(buf, q, stale, udp);
    }
    return this.error(buf, q, Rcode.SERVFAIL);
  }

  /** miss() then finish() into the same buffer: for callers that hold the request's slot throughout (tests). */
  async resolve(buf: Uint8Array, q: QueryInfo, udp: boolean, deadline: number): Promise<number> {
    const result = await this.miss(buf, q, deadline).promise;
    return this.finish(buf, q, udp, result);
  }

  /** Cancels every upstream query (drain timeout): waiting requests answer at once. */
  cancelAll(): void {
    this.flights.abortAll();
  }

  /** Joins (or starts) the shared upstream query for this question. The flight gets its own copy of the query. */
  private join(buf: Uint8Array, q: QueryInfo) {
    const flight = this.flights.join(flightKey(buf, q), (signal) => this.fetch(buf.slice(0, q.questionEnd), new QueryInfo().copyFrom(q), signal));
    if (flight.joined) this.cacheCounters.coalesced++;
    return flight;
  }

  /** Refreshes an entry in the background (prefetch, or after serving it stale); one refresh per entry at a time. */
  private refresh(buf: Uint8Array, q: QueryInfo, e: number): void {
    const cache = this.cache;
    if (!cache.startRefresh(e)) return;
    const gen = cache.generation(e);
    this.cacheCounters.refreshes++;
    const flight = this.join(buf, q);
    flight.promise.finally(() => {
      cache.endRefresh(e, gen);
      flight.leave();
    });
  }

  /**
   * One upstream query, within timeouts.query_ms (every attempt the forwarder makes ends by the deadline), until
   * `signal` aborts (every waiter gave up, or cancelAll); the answer goes into the cache. Never rejects.
   */
  private async fetch(query: Uint8Array, q: QueryInfo, signal: AbortSignal): Promise<Forwarded | null> {
    const snap = this.current();
    const deadline = this.clock.now() + snap.timeouts.query_ms;
    try {
      let result = await snap.resolver.forward(query, q, deadline, signal);
      if (result?.tail) result = await chase(result, q, query, (tq) => this.lookup(tq, deadline, signal), snap.resolver.maxChain);
      // A chain left unfinished (too long, a loop across zones) is answered as it is, not kept. A SERVFAIL with a
      // reason (a bogus answer, a limit) is kept with it for servfail_ttl: asking again at once would find the same.
      if (result && !result.tail) this.cache.insert(query, q, result.resp, result.scan, result.secure === true, result.ede);
      return result;
    } catch (err) {
      log.warn("upstream query failed", { err });
      return null;
    }
  }

  /**
   * The answer to a query of our own (a chased CNAME target): from local data, a served zone or the cache as a
   * client's would be, else from its route's upstreams, cached when complete.
   */
  private async lookup(query: Uint8Array, deadline: number, signal: AbortSignal): Promise<{ resp: Uint8Array; tail: Uint8Array | null } | null> {
    const buf = new Uint8Array(MAX_MESSAGE);
    buf.set(query);
    const q = new QueryInfo();
    const n = this.answerNow(buf, query.length, q, false);
    if (n > 0) return { resp: buf.slice(0, n), tail: null };
    if (n !== Outcome.PENDING) return null;
    const got = await this.current().resolver.forward(query, q, deadline, signal);
    if (got && !got.tail) this.cache.insert(query, q, got.resp, got.scan);
    return got;
  }

  private serveStale(buf: Uint8Array, q: QueryInfo, e: number, udp: boolean): number {
    const n = this.cache.writeAnswer(buf, q, e, true);
    if (n < 0) return this.error(buf, q, Rcode.SERVFAIL);
    this.cacheCounters.staleServed++;
    return this.fit(buf, n, q, udp);
  }

  /**
   * Copies an upstream response into the slot: its header as we relay it (wire/relay.ts), the client's own
   * spelling of the question (0x20-safe: the bytes at 12..qnameEnd are left as the client sent them), then
   * the rest without the upstream's OPT; our own OPT follows when the client used EDNS (RFC 6891 7: no OPT
   * to a client that sent none). A response larger than the slot becomes a TC answer.
   */
  private copyAnswer(buf: Uint8Array, q: QueryInfo, f: Forwarded): number {
    const { resp, scan } = f;
    const cut = optBytes(scan);
    const body = resp.length - cut;
    buf[2] = relayedByte2(resp[2]!) | ((q.flags >> 8) & 0x01);
    buf[3] = relayedByte3(resp[3]!, q.flags) | (f.secure && wantsAd(q) ? Flag.AD : 0);
    if (body + optLen(q) > buf.length) {
      buf[2]! |= 0x02; // TC: the client retries over TCP, where the slot is large enough
      return truncateTo(buf, Number.MAX_SAFE_INTEGER, q, 0);
    }
    buf.set(resp.subarray(4, HEADER_LEN), 4);
    let ar = ((resp[10]! << 8) | resp[11]!) - (cut ? 1 : 0);
    let n = q.qnameEnd + copyWithoutOpt(buf, q.qnameEnd, resp, q.qnameEnd, scan);
    this.cache.clampRelayed(buf, scan, cut);
    if (q.edns) {
      n = writeOpt(buf, n, rcodeOf(resp), q.dnssecOk, q, f.ede);
      ar++;
    }
    buf[10] = ar >> 8;
    buf[11] = ar & 0xff;
    return n;
  }

  /** Over UDP an answer must fit the client's size (512, or its EDNS size capped at 1232); TCP takes the slot. */
  private fit(buf: Uint8Array, n: number, q: QueryInfo, udp: boolean): number {
    const out = truncateTo(buf, n, q, udp ? q.maxUdpResponse() : buf.length);
    if (out !== n) this.counters.truncated++;
    return out;
  }

  /**
   * An error answer. One that cannot echo a question (the message did not parse that far: mostly random
   * bytes) is a reflection without a purpose: at most ERRORS_WITHOUT_QUESTION a second get one, like
   * Unbound's error rate limit; the rest are dropped, counted.
   */
  private error(buf: Uint8Array, q: QueryInfo, rcode: number): number {
    if (!q.hasQuestion) {
      const second = Math.floor(this.cache.now() / 1000);
      if (second !== this.errorSecond) {
        this.errorSecond = second;
        this.errorsThisSecond = 0;
      }
      if (++this.errorsThisSecond > ERRORS_WITHOUT_QUESTION) {
        this.counters.garbage++;
        return Outcome.DROP;
      }
    }
    switch (rcode) {
      case Rcode.FORMERR: this.counters.formerr++; break;
      case Rcode.NOTIMP: this.counters.notimp++; break;
      case Rcode.REFUSED: this.counters.refused++; break;
      case Rcode.BADVERS: this.counters.badvers++; break;
      case Rcode.SERVFAIL: this.counters.servfail++; break;
    }
    return errorResponse(buf, q, rcode);
  }
}

export { QueryInfo, Outcome };
