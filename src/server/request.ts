// The one entry every transport calls with a received query (hickory's handle_raw_request, miekg's serveDNS):
// it answers what can be answered at once in the request's own slot, and takes a miss out of the transport's
// ring into the pending table, so slots are only ever held while an answer is being written and sent — the
// cheap path keeps its slots whatever the misses do. A pending miss costs a fixed record here (its header and
// question, its QueryInfo, where the answer goes) and, when it settles, borrows a slot of its transport's ring
// for as long as it takes to write and send the answer. The table is bounded: when it is full, the oldest miss
// is answered now (stale data or SERVFAIL) to make room if it has waited long enough, else the new one is.
import { Outcome, type RequestHandler, type Waiting } from "../pipeline/handler";
import type { ServerCounters } from "../metrics/counters";
import { Transport } from "../metrics/querystats";
import { copyBytes } from "../wire/name";
import { QueryInfo } from "../wire/query";
import type { Ring } from "./ring";
import type { RateLimit } from "./ratelimit";
import type { PendingConfig, TimeoutsConfig } from "../config/types";
import { Cookie } from "../wire/cookie";
import { truncatedAnswer } from "../wire/response";

/**
 * Called once per answered query: the client's address, the answer (question still in the slot, rcode in
 * byte 3), the transport, and the seconds from arrival to answer (0 for answers given at once). For tracking
 * and metrics; it must not block.
 */
export type AnswerHook = (ip: string, buf: Uint8Array, q: QueryInfo, transport: Transport, seconds: number) => void;

/** A transport, as the entry sees it: where slots come from, and how an answer that was waited for leaves. */
export interface Sink {
  readonly ring: Ring;
  /** UDP answers are held to the client's size; the others take the slot. Encrypted ones are padded (RFC 8467). */
  readonly transport: Transport;
  /**
   * A miss admitted by this transport ended: its answer is n bytes of ring slot h, to `target` (and `port`).
   * h < 0 (no slot) or n = 0 (nothing to send) happen too. The sink sends and releases h, always exactly once.
   */
  deliver(target: unknown, port: number, h: number, n: number): void;
}

/** What the entry reads from the running configuration (a reload swaps it). */
export interface RequestSettings {
  readonly config: {
    /** when_full and jostle_ms. */
    readonly pending: Pick<PendingConfig, "when_full" | "jostle_ms">;
    /** query_ms: a client's deadline, from arrival. */
    readonly timeouts: Pick<TimeoutsConfig, "query_ms">;
  };
  /** Answers per client address over UDP (rate_limit); null when off. */
  readonly limit: RateLimit | null;
}

/** Bytes kept per pending miss for its header and question (12 + a 255-byte name + type and class). */
const QUERY_BYTES = 272;
const NONE = -1;

export class Requests {
  /** Called for every answered query with a question (client tracking); must not block. */
  onAnswered: AnswerHook | null = null;
  private readonly queries: Uint8Array;
  private readonly info: QueryInfo[];
  private readonly lens: Uint16Array;
  private readonly sinks: (Sink | null)[];
  private readonly targets: unknown[];
  private readonly ports: Int32Array;
  private readonly ips: string[];
  private readonly arrived: Float64Array;
  private readonly gen: Uint32Array;
  private readonly waits: (Waiting<unknown> | null)[];
  // Admission order, oldest first, as a doubly linked list through the indexes.
  private readonly newer: Int32Array;
  private readonly older: Int32Array;
  private oldest = NONE;
  private newest = NONE;
  private readonly free: Int32Array;
  private freeTop: number;

  constructor(
    private readonly handler: RequestHandler,
    private readonly counters: ServerCounters,
    readonly capacity: number,
    private readonly settings: () => RequestSettings,
  ) {
    this.queries = new Uint8Array(capacity * QUERY_BYTES);
    this.info = Array.from({ length: capacity }, () => new QueryInfo());
    this.lens = new Uint16Array(capacity);
    this.sinks = new Array<Sink | null>(capacity).fill(null);
    this.targets = new Array<unknown>(capacity).fill(null);
    this.ports = new Int32Array(capacity);
    this.ips = new Array<string>(capacity).fill("");
    this.arrived = new Float64Array(capacity);
    this.gen = new Uint32Array(capacity);
    this.waits = new Array<Waiting<unknown> | null>(capacity).fill(null);
    this.newer = new Int32Array(capacity).fill(NONE);
    this.older = new Int32Array(capacity).fill(NONE);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /** Misses waiting right now. */
  get pending(): number {
    return this.capacity - this.freeTop;
  }

  /**
   * A query received into `buf` (a slot of sink's ring) from `ip` (answers go to `target`/`port`). Returns the
   * length of an answer written into buf to send now, Outcome.DROP, Outcome.TRANSFER (TCP streams it), or
   * Outcome.PENDING: the miss is in the table and the slot may be released; sink.deliver() follows once.
   */
  receive(sink: Sink, buf: Uint8Array, len: number, q: QueryInfo, target: unknown, port: number, ip: string): number {
    const udp = sink.transport === Transport.UDP;
    q.peer = ip; // the server cookie is bound to it (RFC 9018)
    q.encrypted = sink.transport >= Transport.TLS;
    let n = this.handler.answerNow(buf, len, q, udp);
    const limit = this.settings().limit;
    if (limit && udp && (n > 0 || n === Outcome.PENDING) && q.cookie !== Cookie.GOOD) {
      const verdict = limit.check(ip);
      if (verdict !== "ok") {
        this.counters.rateLimited++;
        return verdict === "slip" ? truncatedAnswer(buf, q) : Outcome.DROP;
      }
    }
    if (n === Outcome.PENDING) {
      if (this.freeTop === 0 && !this.makeRoom()) {
        this.counters.pendingRefused++;
        n = this.handler.finish(buf, q, udp, null);
      } else {
        this.admit(sink, buf, q, target, port, ip);
        return Outcome.PENDING;
      }
    }
    if (n > 0 && this.onAnswered && q.hasQuestion) this.onAnswered(ip, buf, q, sink.transport, 0);
    return n;
  }

  /**
   * The table is full: "drop_oldest" answers the oldest miss now if it has waited jostle_ms or more (Unbound's
   * jostle: a flood pushes out what it has stalled, not what is about to be answered); true when there is room.
   */
  private makeRoom(): boolean {
    const o = this.settings().config.pending;
    if (o.when_full !== "drop_oldest" || performance.now() - this.arrived[this.oldest]! < o.jostle_ms) return false;
    this.counters.pendingEvicted++;
    this.settle(this.oldest, null);
    return true;
  }

  private admit(sink: Sink, buf: Uint8Array, q: QueryInfo, target: unknown, port: number, ip: string): void {
    const i = this.free[--this.freeTop]!;
    const len = q.questionEnd;
    copyBytes(this.queries, i * QUERY_BYTES, buf, 0, len);
    const own = this.info[i]!.copyFrom(q);
    this.lens[i] = len;
    this.sinks[i] = sink;
    this.targets[i] = target;
    this.ports[i] = port;
    this.ips[i] = ip;
    this.arrived[i] = performance.now();
    this.link(i);
    const g = this.gen[i]!;
    const w = this.handler.miss(this.query(i), own, Date.now() + this.settings().config.timeouts.query_ms);
    this.waits[i] = w;
    w.promise.then((result) => {
      if (this.gen[i] === g) this.settle(i, result);
    });
  }

  /** Answers pending miss i with what it came to (null: stale or SERVFAIL), hands it to its sink, frees i. */
  private settle(i: number, result: unknown): void {
    const sink = this.sinks[i]!;
    const target = this.targets[i];
    const port = this.ports[i]!;
    const w = this.waits[i];
    const h = sink.ring.acquire();
    let n = 0;
    if (h < 0) this.counters.ringExhausted++;
    else {
      const buf = sink.ring.payload(h);
      copyBytes(buf, 0, this.queries, i * QUERY_BYTES, this.lens[i]!);
      const q = this.info[i]!;
      n = this.handler.finish(buf, q, sink.transport === Transport.UDP, result);
      if (n > 0 && this.onAnswered) this.onAnswered(this.ips[i]!, buf, q, sink.transport, (performance.now() - this.arrived[i]!) / 1000);
    }
    this.release(i);
    w?.cancel(); // pushed out before it settled: stop waiting (the upstream query goes on for the others)
    sink.deliver(target, port, h, n);
  }

  private query(i: number): Uint8Array {
    return this.queries.subarray(i * QUERY_BYTES, i * QUERY_BYTES + this.lens[i]!);
  }

  private link(i: number): void {
    this.older[i] = this.newest;
    this.newer[i] = NONE;
    if (this.newest !== NONE) this.newer[this.newest] = i;
    else this.oldest = i;
    this.newest = i;
  }

  private release(i: number): void {
    const newer = this.newer[i]!;
    const older = this.older[i]!;
    if (newer !== NONE) this.older[newer] = older;
    else this.newest = older;
    if (older !== NONE) this.newer[older] = newer;
    else this.oldest = newer;
    this.gen[i] = this.gen[i]! + 1;
    this.sinks[i] = null;
    this.targets[i] = null;
    this.waits[i] = null;
    this.free[this.freeTop++] = i;
  }
}
