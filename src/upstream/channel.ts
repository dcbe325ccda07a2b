// One connection of an encrypted upstream (a TLS stream for DoT, an HTTP/2 session for DoH) as its link sees it:
// the requests on it, its idle check, and how it ends: on its own (error, close, a failed handshake: its requests
// fail with the reason), drained (no new requests, closed once empty), idle, or destroyed at shutdown. A
// transport supplies the wire (open, transmit, release, shut) and reports opened(), heard() and broke().
import { isIP } from "node:net";
import type { UpstreamCounters } from "../metrics/counters";
import type { Clock, TimerHandle } from "../lifecycle/clock";
import type { Ask, Ending, ExchangeFailure, Upstream } from "./transport";
import type { TrustStore } from "./tls-ca";
import type { Link } from "./link";

/** Encrypted exchanges in flight and connections open right now: exchanges return to 0 when nothing is asked. */
export const openEncrypted = { tls: 0, https: 0, connections: 0 };

export interface LinkOptions {
  clock: Clock;
  counters: UpstreamCounters;
  trust: TrustStore;
  /** upstream.connection_idle_ms: a connection without a query this long is closed. */
  idleMs: number;
}

/** One exchange on its way through a link. */
export interface Request {
  readonly ask: Ask;
  ending: Ending;
  /** When its exchange ends at the latest (clock ms): it waits for a backoff only if that ends sooner. */
  readonly deadline: number;
  /** The ID it went out with on its connection (unique among those in flight there). */
  id: number;
  /** When it was written (clock ms), -1 until then. */
  sentAt: number;
  /** Takes it out of where it waits (a connection, the link's queue); set by whoever holds it. */
  detach: ((failure: ExchangeFailure | null) => void) | null;
}

/** Why a connection ended before it was of use: what its requests were told, and the line for the log. */
export interface OpenFailure {
  failure: ExchangeFailure;
  reason: string;
}

/** The name to check the certificate against; none for an address, which the certificate must then carry. */
export function serverNameOf(up: Upstream): string | undefined {
  return up.authName && !isIP(up.authName) ? up.authName : undefined;
}

/** An error's code and message, for the log. */
export function describe(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return [e?.code, e?.message].filter(Boolean).join(": ") || String(err);
}

export abstract class Channel {
  /** The handshake is done: requests go out as they come. */
  protected ready = false;
  /** Takes new requests: not draining, not closed. */
  accepting = true;
  closed = false;
  private sent = 0;
  /** Messages (DoT) or responses (DoH) heard on it. */
  private responses = 0;
  private lastUsed: number;
  private lastHeard = -1;
  private idleTimer: TimerHandle | null = null;
  protected readonly requests = new Set<Request>();

  constructor(protected readonly link: Link) {
    this.lastUsed = link.clock.now();
    openEncrypted.connections++;
  }

  /** Requests it may carry at once. */
  abstract get capacity(): number;
  /** Starts connecting. */
  abstract open(): void;
  /** Writes one request on the wire (the channel is ready). */
  protected abstract transmit(req: Request): void;
  /** Forgets one request that left: its ID, its stream. */
  protected abstract release(req: Request): void;
  /** Closes the socket or session, politely (after what is written) or at once. */
  protected abstract shut(graceful: boolean): void;

  get hasRoom(): boolean {
    return this.accepting && this.requests.size < this.capacity;
  }

  take(req: Request): void {
    this.requests.add(req);
    this.lastUsed = this.link.clock.now();
    req.detach = (failure) => this.leave(req, failure);
    if (this.ready) this.send(req);
  }

  private send(req: Request): void {
    req.sentAt = this.link.clock.now();
    this.sent++;
    this.transmit(req);
  }

  private leave(req: Request, failure: ExchangeFailure | null): void {
    if (!this.requests.delete(req)) return;
    req.detach = null;
    this.release(req);
    if (this.closed) return;
    // Nothing heard since it went out: the peer may be gone without a reset. New requests go to a new
    // connection; this one closes once the rest have ended.
    if (failure === "timeout" && req.sentAt >= 0 && this.lastHeard < req.sentAt) this.accepting = false;
    if (this.requests.size === 0) {
      if (!this.ready) return this.end(false, failure === "timeout" ? { failure, reason: "no TLS handshake within the attempt's time" } : null);
      if (!this.accepting) return this.end(true, null);
      this.armIdle();
    }
    this.link.pump();
  }

  /** No new requests; closes once the ones on it have ended. */
  drain(): void {
    if (this.closed) return;
    this.accepting = false;
    if (this.requests.size === 0) this.end(this.ready, null);
  }

  /** Ends it now, its requests cancelled (shutdown). */
  destroy(): void {
    this.fail("cancelled", null);
  }

  /** The handshake is done (certificate verified): what waited goes out. */
  protected opened(): void {
    if (this.closed) return;
    this.ready = true;
    for (const req of [...this.requests]) if (this.requests.has(req)) this.send(req);
    if (this.requests.size === 0) this.armIdle();
  }

  /** A message (or an HTTP response) came: the connection is alive, and the link's backoff is over. */
  protected heard(): void {
    this.lastHeard = this.link.clock.now();
    if (this.responses++ === 0) this.link.worked();
  }

  /** The connection ended on its own (error, close, failed handshake): every request on it fails with `failure`. */
  protected broke(failure: ExchangeFailure, reason: string): void {
    // Before it was of use (no handshake, or nothing answered of what was sent): the link backs off.
    const useless = !this.ready || (this.responses === 0 && this.sent > 0);
    this.fail(failure, useless ? { failure, reason } : null);
  }

  private fail(failure: ExchangeFailure, report: OpenFailure | null): void {
    if (this.closed) return;
    this.close();
    for (const req of [...this.requests]) req.ending.fail(failure);
    this.requests.clear();
    this.shut(false);
    this.link.gone(this, report);
  }

  private end(graceful: boolean, report: OpenFailure | null): void {
    if (this.closed) return;
    this.close();
    this.shut(graceful);
    this.link.gone(this, report);
  }

  private close(): void {
    this.closed = true;
    this.accepting = false;
    openEncrypted.connections--;
    if (this.idleTimer !== null) this.link.clock.cancel(this.idleTimer);
    this.idleTimer = null;
  }

  /** One timer while it is empty; when it fires with requests on it, the next time it empties arms it again. */
  private armIdle(): void {
    if (this.idleTimer !== null || this.closed) return;
    const clock = this.link.clock;
    this.idleTimer = clock.after(Math.max(1, this.lastUsed + this.link.idleMs - clock.now()), () => {
      this.idleTimer = null;
      if (this.closed || this.requests.size > 0) return;
      if (clock.now() - this.lastUsed < this.link.idleMs) return this.armIdle();
      this.link.counters.connectionsIdleClosed++;
      this.end(true, null);
    });
  }
}
