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
  /** DNS over HTTPS: messages handed to the resolver, requests refused with a 4xx/5xx, connections taken and refused. */
  httpsQueries = 0;
  httpsErrors = 0;
  httpsConnections = 0;
  httpsRejected = 0;
  /** UDP answers dropped or truncated by rate_limit.udp_per_ip. */
  rateLimited = 0;
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
  /** Attempts charged to an upstream as failed, of any kind (timeouts too): the sum of the per-upstream figure. */
  failures = 0;
  tcpRetries = 0;
  /** Responses thrown away for not matching address, port, ID or question (RFC 5452). */
  mismatched = 0;
  cancelled = 0;
  /** Responses refused for a CNAME chain that loops or is longer than upstream.max_cname_chain. */
  badChains = 0;
  /** Attempts refused by the upstream's host: ICMP port unreachable, ECONNREFUSED. */
  refused = 0;
  /** Attempts ended by any other socket error, or a TCP connection closed before the answer. */
  networkErrors = 0;
  /** Answers to our question whose records do not parse. */
  malformed = 0;
  /** Answers with SERVFAIL, REFUSED, NOTIMP or FORMERR: that upstream could not help. */
  badRcodes = 0;
  /** Records removed from relayed answers for lying outside the question's zone or chain (RFC 2181 5.4.1). */
  scrubbedRecords = 0;
  /** Relayed answers that had at least one record removed. */
  scrubbedResponses = 0;
  /** Attempts failed by a TLS handshake that did not verify (certificate untrusted, or not naming the upstream). */
  tlsFailures = 0;
  /** DoH attempts answered with a status other than 200 or a content type other than application/dns-message. */
  httpErrors = 0;
  /** Attempts not made because that upstream's connections were full and so was the queue waiting for them. */
  busy = 0;
  /** TLS connections and HTTP/2 sessions opened to upstreams (handshakes begun). */
  connectionsOpened = 0;
  /** Of those, the ones of no use: refused, reset, a failed or unfinished handshake, closed before answering. */
  connectionFailures = 0;
  /** Attempts sent over a connection that was already open or opening (not opened for them). */
  connectionReuses = 0;
  /** Connections closed after upstream.connection_idle_ms without a query. */
  connectionsIdleClosed = 0;
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
