// Forwarding a question to the configured upstreams: random ID per attempt, fresh socket per attempt,
// TCP retry on TC, next upstream on timeout or failure, all inside the request's deadline.
import { Flag, HEADER_LEN, Rcode } from "../wire/constants";
import { isTruncated, rcodeOf } from "../wire/message";
import type { QueryInfo } from "../wire/query";
import { writeOpt, OPT_LEN } from "../wire/response";
import type { UpstreamCounters } from "../metrics/counters";
import { tcpExchange, udpExchange, type Upstream } from "./transport";

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

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Longest wait for one upstream attempt. */
  attemptTimeoutMs: number;
}

export class Forwarder {
  constructor(
    private readonly opts: ForwarderOptions,
    private readonly counters: UpstreamCounters,
  ) {}

  get usable(): boolean {
    return this.opts.upstreams.length > 0;
  }

  get upstreams(): readonly Upstream[] {
    return this.opts.upstreams;
  }

  /**
   * Asks upstreams the question of the query in `query` until one answers, the attempts run out, or
   * `signal` aborts (the client's deadline). Resolves to the upstream's wire response (its own copy) or null.
   */
  async forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal): Promise<Uint8Array | null> {
    const list = this.opts.upstreams;
    if (list.length === 0) return null;
    const question = query.slice(HEADER_LEN, q.questionEnd);
    const msg = new Uint8Array(HEADER_LEN + question.length + OPT_LEN);
    msg[2] = (Flag.RD | (q.flags & Flag.CD)) >> 8;
    msg[3] = (Flag.RD | (q.flags & Flag.CD)) & 0xff;
    msg[5] = 1; // QDCOUNT
    msg[11] = 1; // ARCOUNT: our OPT
    msg.set(question, HEADER_LEN);
    writeOpt(msg, HEADER_LEN + question.length, 0, q.dnssecOk);

    let fallback: Uint8Array | null = null;
    const attempts = Math.max(3, list.length * 2);
    for (let a = 0; a < attempts && !signal.aborted; a++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const up = list[a % list.length]!;
      const id = randomId();
      msg[0] = id >> 8;
      msg[1] = id & 0xff;
      this.counters.queries++;
      const timeout = Math.min(this.opts.attemptTimeoutMs, left);
      let resp = await udpExchange(up, msg, id, question, timeout, signal, this.counters);
      if (resp && isTruncated(resp)) {
        this.counters.tcpRetries++;
        resp = await tcpExchange(up, msg, id, question, Math.max(1, deadline - Date.now()), signal, this.counters);
      }
      if (!resp) continue;
      const rc = rcodeOf(resp);
      if (rc === Rcode.SERVFAIL || rc === Rcode.REFUSED || rc === Rcode.NOTIMP || rc === Rcode.FORMERR) {
        // This upstream could not help; another may. Keep its answer in case none can.
        this.counters.failures++;
        fallback = resp;
        continue;
      }
      return resp;
    }
    return fallback;
  }
}
