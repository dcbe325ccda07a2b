// Forwarding a question to upstreams: the pool picks the route (forward zone or defaults) and the order (health,
// strategy); each attempt has a random ID, optional 0x20 case randomisation, and ends inside the request's
// deadline: over UDP from a fresh socket with TCP retry on TC, or over the upstream's TLS connections (DoT) or
// HTTP/2 session (DoH), shared by its attempts. Every attempt ends as an answer or a named failure charged to
// the upstream that had it (failure.ts); every answer is scrubbed to the route's zone before anyone sees or
// caches it.
import { Flag, HEADER_LEN, Rcode } from "../wire/constants";
import { isTruncated, rcodeOf } from "../wire/message";
import type { QueryInfo } from "../wire/query";
import { writeOpt, OPT_LEN } from "../wire/response";
import { scanResponse, type Scan } from "../wire/scan";
import { scrubResponse } from "../wire/scrub";
import { randomId, randomizeCase } from "../wire/random";
import type { WireName } from "../wire/name";
import type { UpstreamCounters } from "../metrics/counters";
import type { TimeoutsConfig, UpstreamConfig } from "../config/types";
import { tcpExchange, udpExchange, type Ask, type Exchange } from "./transport";
import type { Link } from "./link";
import type { LinkOptions } from "./channel";
import { dotLink } from "./dot";
import { dohLink } from "./doh";
import { loadTrust, type TrustStore } from "./tls-ca";
import { charge, type Failure } from "./failure";
import { systemClock, type Clock } from "../lifecycle/clock";
import type { UpstreamPool, UpstreamState } from "./pool";

export interface ForwarderOptions {
  pool: UpstreamPool;
  /** randomize_case (0x20) and max_cname_chain; tls_ca and connection_idle_ms for tls:// and https:// upstreams. */
  upstream: Pick<UpstreamConfig, "randomize_case" | "max_cname_chain"> & Partial<Pick<UpstreamConfig, "tls_ca" | "connection_idle_ms">>;
  /** upstream_ms: the longest wait for one attempt. */
  timeouts: Pick<TimeoutsConfig, "upstream_ms">;
  /** The CAs encrypted upstreams are verified against; by default loaded from `upstream.tls_ca` (throws when bad). */
  trust?: TrustStore;
}

/** upstream.connection_idle_ms when the options leave it out (the schema's default). */
const IDLE_MS = 10_000;

export interface Forwarded {
  /** The upstream's answer as scrubbed for the route's zone (its own copy). */
  resp: Uint8Array;
  scan: Scan;
  /**
   * Where the answer's CNAME chain left the route's zone, unanswered (lowercased wire name), or null: the rest
   * is to be asked for on its own (the pipeline chases it).
   */
  tail: Uint8Array | null;
  /** An Extended DNS Error (RFC 8914) for the client's answer: why a SERVFAIL is one. */
  ede?: { code: number; text: string };
  /** DNSSEC-validated as secure: the answer may carry AD (RFC 4035 3.2.3, RFC 6840 5.7). */
  secure?: boolean;
}

/** What answers a miss: the forwarder, or the recursive iterator. */
export interface Resolver {
  /** False when nothing could be asked (every upstream's breaker open): misses get SERVFAIL (or stale data) at once. */
  readonly usable: boolean;
  /** CNAME chains longer than this are not followed further (upstream.max_cname_chain). */
  readonly maxChain: number;
  /** The answer to the question of `query` by `deadline`, or null; never rejects. */
  forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal): Promise<Forwarded | null>;
}

/** An attempt's end: an answer to use, one to keep in case no upstream does better, or a failure. */
type Outcome = { ok: true; answer: Forwarded } | { ok: false; failure: Failure; rcode?: number; answer?: Forwarded };

export class Forwarder implements Resolver {
  /** What the connections of encrypted upstreams are opened with: one object per configuration. */
  private readonly links: LinkOptions;

  /** Throws when `upstream.tls_ca` cannot be read or holds no certificate that parses. */
  constructor(
    readonly opts: ForwarderOptions,
    private readonly counters: UpstreamCounters,
    private readonly clock: Clock = systemClock,
  ) {
    const trust = opts.trust ?? loadTrust(opts.upstream.tls_ca);
    this.links = { clock, counters, trust, idleMs: opts.upstream.connection_idle_ms ?? IDLE_MS };
  }

  get usable(): boolean {
    return this.opts.pool.usable;
  }

  get maxChain(): number {
    return this.opts.upstream.max_cname_chain;
  }

  /**
   * Asks upstreams the question of the query in `query` until one answers, the attempts run out, or
   * `signal` aborts (the deadline). Resolves to the upstream's scrubbed response, else the last answer that
   * said SERVFAIL/REFUSED/NOTIMP/FORMERR, else null. `via`: ask that upstream only, once.
   */
  async forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal, via?: UpstreamState): Promise<Forwarded | null> {
    const pool = this.opts.pool;
    const route = pool.route(query, HEADER_LEN, q.qnameEnd);
    const list = via ? [via] : pool.order(route.states);
    if (list.length === 0) return null;
    const nameLen = q.qnameEnd - HEADER_LEN;
    const question = query.slice(HEADER_LEN, q.questionEnd);
    const msg = new Uint8Array(HEADER_LEN + question.length + OPT_LEN);
    const flags = Flag.RD | (q.flags & Flag.CD);
    msg[2] = flags >> 8;
    msg[3] = flags & 0xff;
    msg[5] = 1; // QDCOUNT
    msg[11] = 1; // ARCOUNT: our OPT
    writeOpt(msg, HEADER_LEN + question.length, 0, q.dnssecOk);

    let fallback: Forwarded | null = null;
    const attempts = via ? 1 : Math.max(3, list.length * 2);
    for (let a = 0; a < attempts && !signal.aborted; a++) {
      const left = deadline - this.clock.now();
      if (left <= 0) break;
      const up = list[a % list.length]!;
      const id = randomId();
      msg[0] = id >> 8;
      msg[1] = id & 0xff;
      if (this.opts.upstream.randomize_case) randomizeCase(question, 0, nameLen);
      msg.set(question, HEADER_LEN);
      this.counters.queries++;
      up.begin();
      const t0 = performance.now();
      const ask: Ask = { msg, id, question, exactCase: this.opts.upstream.randomize_case };
      const outcome = this.judge(await this.exchange(up, ask, Math.min(this.opts.timeouts.upstream_ms, left), deadline, signal), route.zone);
      if (outcome.ok) {
        up.success(performance.now() - t0);
        return outcome.answer;
      }
      charge(up, outcome.failure, this.counters, outcome.rcode === undefined ? undefined : { rcode: outcome.rcode });
      if (outcome.answer) fallback = outcome.answer;
    }
    return fallback;
  }

  /** One attempt with one upstream: over its TLS or HTTPS link; else over UDP, and TCP when the answer is truncated. */
  private async exchange(up: UpstreamState, ask: Ask, timeoutMs: number, deadline: number, signal: AbortSignal): Promise<Exchange> {
    if (up.upstream.protocol !== "udp") {
      const got = await this.link(up).exchange(ask, timeoutMs, signal);
      this.counters.mismatched += got.mismatched;
      return got;
    }
    const udp = await udpExchange(up.upstream, ask, timeoutMs, signal, this.clock);
    this.counters.mismatched += udp.mismatched;
    if (!udp.ok || !isTruncated(udp.resp)) return udp;
    this.counters.tcpRetries++;
    const tcp = await tcpExchange(up.upstream, ask, Math.max(1, deadline - this.clock.now()), signal, this.clock);
    this.counters.mismatched += tcp.mismatched;
    return tcp;
  }

  /** The upstream's connections, opened lazily; a reload's new trust store or idle time reaches them here. */
  private link(up: UpstreamState): Link {
    if (!up.link) up.link = up.upstream.protocol === "tls" ? dotLink(up.upstream, this.links) : dohLink(up.upstream, this.links);
    else if (up.link.options !== this.links) up.link.configure(this.links);
    return up.link;
  }

  /** What an exchange's result is worth: scrubbed for the route's zone, then its CNAME chain and rcode checked. */
  private judge(got: Exchange, zone: WireName): Outcome {
    if (!got.ok) return got;
    const scrubbed = scrubResponse(got.resp, zone);
    if (!scrubbed.ok) return scrubbed;
    if (scrubbed.removed > 0) {
      this.counters.scrubbedRecords += scrubbed.removed;
      this.counters.scrubbedResponses++;
    }
    const resp = scrubbed.msg;
    const scan = scanResponse(resp, resp.length);
    if (scan.cnameChain < 0 || scan.cnameChain > this.opts.upstream.max_cname_chain) return { ok: false, failure: "bad-chain" };
    const rcode = rcodeOf(resp);
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED || rcode === Rcode.NOTIMP || rcode === Rcode.FORMERR) {
      // This upstream could not help; another may. Its answer is kept in case none can.
      return { ok: false, failure: "rcode", rcode, answer: { resp, scan, tail: null } };
    }
    return { ok: true, answer: { resp, scan, tail: scrubbed.tail } };
  }
}
