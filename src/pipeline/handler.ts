// The contract between the transports (server/) and what answers them (the Pipeline): every transport
// hands a request over the same way and gets one of these results back. server/ sees only this file.
import type { QueryInfo } from "../wire/query";

/**
 * What answerNow() did with a request, besides writing an answer of n > 0 bytes into its slot.
 * `const enum`: plain numbers on the hot path.
 */
export const enum Outcome {
  /** Not worth an answer (counted): the slot can go. */
  DROP = 0,
  /** Not answerable without waiting: start miss() and release the slot. */
  PENDING = -1,
  /** A zone transfer was asked for (AXFR over TCP): the transport streams it. */
  TRANSFER = -2,
}

/** A miss being resolved: settles once (never rejects); cancel() makes it settle now with null. */
export interface Waiting<R> {
  readonly promise: Promise<R | null>;
  cancel(): void;
}

export interface RequestHandler<R = unknown> {
  /**
   * Parses the query in buf[0, len) into `q` and answers what needs no waiting, in place. `udp` selects the
   * size limit. Returns the answer's length (> 0) or an Outcome.
   */
  answerNow(buf: Uint8Array, len: number, q: QueryInfo, udp: boolean): number;
  /** Starts getting the answer to a query answerNow() returned PENDING for; `query` is its header and question. */
  miss(query: Uint8Array, q: QueryInfo, deadline: number): Waiting<R>;
  /**
   * Writes what a miss came to into `buf`, which holds the query's header and question: the answer, or with
   * null (upstreams failed, the deadline passed, the request was pushed out) stale data or SERVFAIL.
   * Returns the answer's length.
   */
  finish(buf: Uint8Array, q: QueryInfo, udp: boolean, result: R | null): number;
  /** Requests waiting on upstreams right now. */
  readonly inflight: number;
}
