// What a failed attempt means. Every way an attempt can fail has a name; one table says which counter it
// raises, and one function applies it to the upstream that had it: a failure for its breaker (SRTT is left
// alone: only answers measure it), or a release when the attempt ended for a reason that is not the upstream's
// (cancelled, busy).
import type { UpstreamCounters } from "../metrics/counters";
import { log } from "../metrics/log";
import type { UpstreamState } from "./pool";
import type { ExchangeFailure } from "./transport";

/**
 * An attempt's failure: the exchange's own (see ExchangeFailure), or an answer that came but cannot be used:
 * - rcode: SERVFAIL, REFUSED, NOTIMP or FORMERR (that upstream could not help; another may);
 * - bad-chain: a CNAME chain that loops or is longer than upstream.max_cname_chain.
 * A relayed answer whose records do not parse is "malformed", like one over TCP.
 */
export type Failure = ExchangeFailure | "rcode" | "bad-chain";

type NumericKeys<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

const COUNTER: Record<Failure, NumericKeys<UpstreamCounters>> = {
  timeout: "timeouts",
  refused: "refused",
  network: "networkErrors",
  closed: "networkErrors",
  mismatch: "mismatched",
  malformed: "malformed",
  cancelled: "cancelled",
  tls: "tlsFailures",
  http: "httpErrors",
  busy: "busy",
  rcode: "badRcodes",
  "bad-chain": "badChains",
};

/** Charges one failed attempt to `up`: its breaker and figures, the counters, one debug line. */
export function charge(up: UpstreamState, failure: Failure, counters: UpstreamCounters, detail?: Record<string, unknown>): void {
  counters[COUNTER[failure]]++;
  if (failure === "cancelled" || failure === "busy") {
    up.abandon();
  } else {
    counters.failures++;
    up.failure(failure === "timeout");
  }
  if (log.enabled("debug")) log.debug("upstream attempt failed", { upstream: up.upstream.label, failure, ...detail });
}
