// In-process counters the later metrics endpoints read. Plain numeric fields: incrementing one on the
// hot path is a property store, nothing more.
export class ServerCounters {
  udpQueries = 0;
  tcpQueries = 0;
  dropped = 0; // too short, QR=1, or arriving while draining
  /** Malformed messages whose question did not parse, dropped past the error-answer rate limit. */
  garbage = 0;
  /** Queries with only a COOKIE option, answered with a server cookie (RFC 7873 5.4). */
  cookieOnly = 0;
  ringExhausted = 0;
  formerr = 0;
  notimp = 0;
  refused = 0;
  badvers = 0;
  servfail = 0;
  localAnswers = 0;
  authoritative = 0;
  transfers = 0;
  forwarded = 0;
  truncated = 0;
  sendFailed = 0;
  tcpConnections = 0;
  tcpRejected = 0;
  tcpIdleClosed = 0;
  /** TCP connections closed because a message did not arrive whole within timeouts.tcp_message_ms (slowloris). */
  tcpMessageTimeouts = 0;
  /** Pending misses answered early (stale or SERVFAIL) to make room for a new one: pending.when_full = "drop_oldest". */
  pendingEvicted = 0;
  /** Misses answered at once (stale or SERVFAIL) because the pending table was full: pending.when_full = "servfail". */
  pendingRefused = 0;
}

export class UpstreamCounters {
  queries = 0;
  timeouts = 0;
  failures = 0;
  tcpRetries = 0;
  /** Responses thrown away for not matching address, port, ID or question (RFC 5452). */
  mismatched = 0;
  cancelled = 0;
  /** Responses refused for a CNAME chain that loops or is longer than upstream.max_cname_chain. */
  badChains = 0;
}

export class CacheCounters {
  hits = 0;
  misses = 0;
  inserts = 0;
  /** Responses not stored: TC, no SOA for a negative answer, bad rcode, too large. */
  uncacheable = 0;
  evictions = 0;
  expired = 0;
  staleServed = 0;
  prefetches = 0;
  /** Requests that joined an identical in-flight upstream query instead of sending their own. */
  coalesced = 0;
  refreshes = 0;
}
