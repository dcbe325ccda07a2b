// The connections of one encrypted upstream (DoT, DoH), shared by many exchanges. A connection is opened when a
// query needs one and filled before another is opened; each exchange keeps its own deadline and signal
// (transport.ts exchange()), so sharing never lengthens a wait. A connection that cannot be opened makes the next
// open wait (backoff, doubling) instead of retrying at the query rate; a query that cannot wait that long fails
// at once with the reason. Nothing here runs on its own: every timer is an exchange's deadline, a connection's
// idle check (channel.ts), or the end of a backoff that queries are waiting for.
import type { UpstreamCounters } from "../metrics/counters";
import { log } from "../metrics/log";
import type { Clock, TimerHandle } from "../lifecycle/clock";
import { exchange, type Ask, type Ending, type Exchange, type ExchangeFailure, type Upstream } from "./transport";
import type { TrustStore } from "./tls-ca";
import { openEncrypted, type Channel, type LinkOptions, type OpenFailure, type Request } from "./channel";

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** Requests waiting for room on a link's connections, or for its backoff to end, beyond which they fail busy. */
const MAX_WAITING = 1024;

/** A request's ending until its exchange starts. */
const unstarted: Ending = { answer() {}, fail() {}, mismatch() {} };

/** The connections of one upstream, the requests waiting for them, and the backoff after failed opens. */
export class Link {
  private readonly channels: Channel[] = [];
  private readonly waiting: Request[] = [];
  private failedOpens = 0;
  private retryAt = 0;
  private lastFailure: ExchangeFailure = "network";
  private retryTimer: TimerHandle | null = null;
  private pumping = false;
  private shutDown = false;

  constructor(
    readonly upstream: Upstream,
    private opts: LinkOptions,
    private readonly connect: (link: Link) => Channel,
    /** Connections taking requests at once; beyond their capacity requests wait. */
    private readonly maxChannels: number,
  ) {}

  get options(): LinkOptions {
    return this.opts;
  }
  get clock(): Clock {
    return this.opts.clock;
  }
  get counters(): UpstreamCounters {
    return this.opts.counters;
  }
  get trust(): TrustStore {
    return this.opts.trust;
  }
  get idleMs(): number {
    return this.opts.idleMs;
  }
  /** Connections open or opening. */
  get connections(): number {
    return this.channels.length;
  }

  /** Settings of a new configuration: connections verified with another trust store are replaced as they drain. */
  configure(opts: LinkOptions): void {
    const renewed = opts.trust.key !== this.opts.trust.key;
    this.opts = opts;
    if (renewed) for (const ch of [...this.channels]) ch.drain();
  }

  /** Asks `ask` over one of the connections, within `timeoutMs` and until `signal` aborts. */
  exchange(ask: Ask, timeoutMs: number, signal: AbortSignal): Promise<Exchange> {
    const kind = this.upstream.protocol === "https" ? "https" : "tls";
    openEncrypted[kind]++;
    const req: Request = { ask, ending: unstarted, deadline: this.clock.now() + timeoutMs, id: ask.id, sentAt: -1, detach: null };
    return exchange(
      timeoutMs,
      signal,
      this.clock,
      (ending) => {
        req.ending = ending;
        if (this.shutDown) return ending.fail("cancelled");
        if (this.waiting.length > 0 || !this.place(req)) this.wait(req);
      },
      (result) => {
        req.detach?.(result.ok ? null : result.failure);
        openEncrypted[kind]--;
      },
    );
  }

  /** Puts `req` on the first connection with room, or on a new one when one may be opened; false when it must wait. */
  private place(req: Request): boolean {
    const ch = this.channels.find((c) => c.hasRoom);
    if (ch) {
      this.counters.connectionReuses++;
      ch.take(req);
      return true;
    }
    if (this.channels.filter((c) => c.accepting).length >= this.maxChannels || this.clock.now() < this.retryAt) return false;
    const fresh = this.connect(this);
    this.channels.push(fresh);
    this.counters.connectionsOpened++;
    fresh.take(req);
    fresh.open();
    return true;
  }

  /** In backoff with no connection to use: a request that cannot wait for its end fails now. */
  private mustFail(req: Request): boolean {
    return this.clock.now() < this.retryAt && this.retryAt > req.deadline && !this.channels.some((c) => c.accepting);
  }

  private wait(req: Request): void {
    if (this.waiting.length >= MAX_WAITING) return req.ending.fail("busy");
    if (this.mustFail(req)) return req.ending.fail(this.lastFailure);
    this.waiting.push(req);
    req.detach = () => this.unwait(req);
    this.armRetry();
  }

  private unwait(req: Request): void {
    const i = this.waiting.indexOf(req);
    if (i >= 0) this.waiting.splice(i, 1);
    req.detach = null;
    if (this.waiting.length === 0) this.stopRetry();
  }

  /** Places waiting requests, in order, while there is room. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiting.length > 0) {
        const req = this.waiting.shift()!;
        req.detach = null;
        if (!this.place(req)) {
          this.waiting.unshift(req);
          req.detach = () => this.unwait(req);
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.waiting.length > 0) this.armRetry();
    else this.stopRetry();
  }

  /** A connection delivered: opens are no longer backed off. */
  worked(): void {
    this.failedOpens = 0;
    this.retryAt = 0;
  }

  /** A connection ended; `failed` when it was of no use, which backs the next open off and is logged once. */
  gone(ch: Channel, failed: OpenFailure | null): void {
    const i = this.channels.indexOf(ch);
    if (i >= 0) this.channels.splice(i, 1);
    if (failed && !this.shutDown) {
      this.failedOpens++;
      this.counters.connectionFailures++;
      const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (this.failedOpens - 1), BACKOFF_MAX_MS);
      this.retryAt = this.clock.now() + delay;
      this.lastFailure = failed.failure;
      log.warn("upstream connection failed", { upstream: this.upstream.label, failure: failed.failure, reason: failed.reason, retry_in_ms: delay });
      for (const req of this.waiting.filter((r) => this.mustFail(r))) req.ending.fail(failed.failure);
    }
    this.pump();
  }

  private armRetry(): void {
    const wait = this.retryAt - this.clock.now();
    if (this.retryTimer !== null || wait <= 0 || this.waiting.length === 0) return;
    this.retryTimer = this.clock.after(wait, () => {
      this.retryTimer = null;
      this.pump();
    });
  }

  private stopRetry(): void {
    if (this.retryTimer !== null) this.clock.cancel(this.retryTimer);
    this.retryTimer = null;
  }

  /** Shutdown: waiting and in-flight requests end as cancelled, every connection closes, no timer is left. */
  close(): void {
    this.shutDown = true;
    for (const req of [...this.waiting]) req.ending.fail("cancelled");
    this.waiting.length = 0;
    for (const ch of [...this.channels]) ch.destroy();
    this.channels.length = 0;
    this.stopRetry();
  }
}
