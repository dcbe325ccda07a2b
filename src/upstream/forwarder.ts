// Forwarding a question to upstreams: the pool picks the order (health, strategy, forward zones); each
// attempt has a random ID, a fresh socket, optional 0x20 case randomisation, TCP retry on TC, and ends inside
// the request's deadline. A response with a looping or overlong CNAME chain counts as a failure.
import { Flag, HEADER_LEN, Rcode } from "../wire/constants";
import { isTruncated, rcodeOf } from "../wire/message";
import type { QueryInfo } from "../wire/query";
import { writeOpt, OPT_LEN } from "../wire/response";
import { scanResponse, type Scan } from "../wire/scan";
import type { UpstreamCounters } from "../metrics/counters";
import { tcpExchange, udpExchange } from "./transport";
import type { UpstreamPool } from "./pool";

const ids = new Uint16Array(256);
let idPos = ids.length;
/** A cryptographically random 16-bit ID (RFC 5452 4.3), drawn from a refilled batch. */
function randomId(): number {
  if (idPos === ids.length) {
    crypto.getRandomValues(ids);
    idPos = 0;
  }
  return ids[idPos++]!;
}

/** Flips the case of each letter of the qname at random (draft-vixie-dnsext-dns0x20). */
function randomizeCase(question: Uint8Array, nameLen: number): void {
  const bits = new Uint8Array(nameLen);
  crypto.getRandomValues(bits);
  for (let i = 0; i < nameLen; i++) {
    const c = question[i]! | 0x20;
    if (c >= 0x61 && c <= 0x7a) question[i] = bits[i]! & 1 ? c & ~0x20 : c;
  }
}

export interface ForwarderOptions {
  pool: UpstreamPool;
  /** Longest wait for one upstream attempt. */
  attemptTimeoutMs: number;
  randomizeCase: boolean;
  maxCnameChain: number;
}

export interface Forwarded {
  resp: Uint8Array;
  scan: Scan;
}

export class Forwarder {
  constructor(
    readonly opts: ForwarderOptions,
    private readonly counters: UpstreamCounters,
  ) {}

  get usable(): boolean {
    return this.opts.pool.usable;
  }

  /**
   * Asks upstreams the question of the query in `query` until one answers, the attempts run out, or
   * `signal` aborts (the deadline). Resolves to the upstream's wire response (its own copy) or null.
   */
  async forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal): Promise<Forwarded | null> {
    const pool = this.opts.pool;
    const list = pool.order(pool.candidates(query, HEADER_LEN, q.qnameEnd));
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
    const attempts = Math.max(3, list.length * 2);
    for (let a = 0; a < attempts && !signal.aborted; a++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const up = list[a % list.length]!;
      const id = randomId();
      msg[0] = id >> 8;
      msg[1] = id & 0xff;
      if (this.opts.randomizeCase) randomizeCase(question, nameLen);
      msg.set(question, HEADER_LEN);
      this.counters.queries++;
      up.begin();
      const t0 = performance.now();
      const timeoutsBefore = this.counters.timeouts;
      const exact = this.opts.randomizeCase;
      let resp = await udpExchange(up.upstream, msg, id, question, Math.min(this.opts.attemptTimeoutMs, left), signal, this.counters, exact);
      if (resp && isTruncated(resp)) {
        this.counters.tcpRetries++;
        resp = await tcpExchange(up.upstream, msg, id, question, Math.max(1, deadline - Date.now()), signal, this.counters, exact);
      }
      if (!resp) {
        if (signal.aborted) up.abandon();
        else up.failure(this.counters.timeouts > timeoutsBefore); // a refusal is a failure, not a timeout
        continue;
      }
      const scan = scanResponse(resp, resp.length);
      if (scan.cnameChain < 0 || scan.cnameChain > this.opts.maxCnameChain) {
        this.counters.badChains++;
        up.failure(false);
        continue;
      }
      const rc = rcodeOf(resp);
      if (rc === Rcode.SERVFAIL || rc === Rcode.REFUSED || rc === Rcode.NOTIMP || rc === Rcode.FORMERR) {
        // This upstream could not help; another may. Keep its answer in case none can.
        this.counters.failures++;
        up.failure(false);
        fallback = { resp, scan };
        continue;
      }
      up.success(performance.now() - t0);
      return { resp, scan };
    }
    return fallback;
  }
}
