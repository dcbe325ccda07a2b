// One request's journey: parse → local data → upstream. Works only on the bytes of the request's own
// slot; returns the length of the answer written there. The synchronous part (answerNow) is the cheap
// path; only a miss goes async (resolve), carrying the client's deadline into every upstream attempt.
import { HEADER_LEN, QClass, Rcode } from "../wire/constants";
import { parseQuery, QueryInfo, Verdict } from "../wire/query";
import { errorResponse, truncateTo } from "../wire/response";
import type { LocalData } from "../zones/local";
import type { Forwarder } from "../upstream/forwarder";
import type { ServerCounters } from "../metrics/counters";
import { answerLocal } from "./local";

/** Everything a request needs from configuration, swapped as one reference on reload. */
export interface Snapshot {
  local: LocalData;
  forwarder: Forwarder;
  queryTimeoutMs: number;
}

/** answerNow's "not answered yet: call resolve()" result. */
export const PENDING = -1;

export class Pipeline {
  /** Requests waiting on upstreams right now. */
  inflight = 0;
  private readonly active = new Set<AbortController>();

  constructor(
    public snapshot: Snapshot,
    private readonly counters: ServerCounters,
  ) {}

  /**
   * Parses the query in buf[0..len) into `q` and answers what needs no I/O, in place. `udp` selects the
   * size limit (UDP: the client's; TCP: the slot).
   * Returns the answer length, 0 to drop the message, or PENDING when upstreams must be asked.
   */
  answerNow(buf: Uint8Array, len: number, q: QueryInfo, udp: boolean): number {
    const verdict = parseQuery(buf, len, q);
    if (verdict === Verdict.DROP) {
      this.counters.dropped++;
      return 0;
    }
    if (verdict !== Verdict.OK) return this.error(buf, q, verdict);
    const snap = this.snapshot;
    const n = answerLocal(buf, q, snap.local);
    if (n >= 0) {
      this.counters.localAnswers++;
      return this.fit(buf, n, q, udp);
    }
    if (q.qclass !== QClass.IN) return this.error(buf, q, Rcode.REFUSED); // CH/ANY: only what local data has
    if (!snap.forwarder.usable) return this.error(buf, q, Rcode.SERVFAIL);
    return PENDING;
  }

  /**
   * Asks upstreams for a query answerNow() returned PENDING for, before `deadline` (ms since epoch).
   * Never rejects: on timeout, cancellation or failure the answer is SERVFAIL.
   */
  async resolve(buf: Uint8Array, q: QueryInfo, udp: boolean, deadline: number): Promise<number> {
    const snap = this.snapshot;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    this.active.add(controller);
    this.inflight++;
    this.counters.forwarded++;
    try {
      const resp = await snap.forwarder.forward(buf, q, deadline, controller.signal);
      if (!resp) return this.error(buf, q, Rcode.SERVFAIL);
      return this.fit(buf, this.copyAnswer(buf, q, resp), q, udp);
    } catch {
      return this.error(buf, q, Rcode.SERVFAIL);
    } finally {
      clearTimeout(timer);
      this.active.delete(controller);
      this.inflight--;
    }
  }

  /** Cancels every request waiting on upstreams (drain timeout): each answers SERVFAIL at once. */
  cancelAll(): void {
    for (const c of this.active) c.abort();
  }

  /**
   * Copies an upstream response into the slot: its header with the client's ID and RD, the client's own
   * spelling of the question (0x20-safe: the bytes at 12..qnameEnd are left as the client sent them), then
   * the rest. A response larger than the slot becomes a TC answer.
   */
  private copyAnswer(buf: Uint8Array, q: QueryInfo, resp: Uint8Array): number {
    if (resp.length > buf.length) {
      buf[2] = (resp[2]! & ~0x01) | (q.flags >> 8 & 0x01) | 0x02; // TC
      buf[3] = resp[3]!;
      return truncateTo(buf, Number.MAX_SAFE_INTEGER, q, 0);
    }
    buf[2] = (resp[2]! & ~0x01) | ((q.flags >> 8) & 0x01);
    buf.set(resp.subarray(3, HEADER_LEN), 3);
    buf.set(resp.subarray(q.qnameEnd), q.qnameEnd);
    return resp.length;
  }

  /** Over UDP an answer must fit the client's size (512, or its EDNS size capped at 1232); TCP takes the slot. */
  private fit(buf: Uint8Array, n: number, q: QueryInfo, udp: boolean): number {
    const out = truncateTo(buf, n, q, udp ? q.maxUdpResponse() : buf.length);
    if (out !== n) this.counters.truncated++;
    return out;
  }

  private error(buf: Uint8Array, q: QueryInfo, rcode: number): number {
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

export { QueryInfo };
