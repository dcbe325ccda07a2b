// /metrics: every figure bunbound keeps, as Prometheus text (names bunbound_*, _total counters, _seconds).
import { Exposition } from "./prometheus";
import { LATENCY_BUCKETS, type QueryStats } from "./querystats";

export interface MetricsInput {
  server: Record<string, number>;
  upstream: Record<string, number>;
  upstreams: Array<{ upstream: string; queries: number; failures: number; timeouts: number; srttMs: number; breaker: string }>;
  cache: Record<string, number>;
  ring: Record<"udp" | "tcp", { slots: number; inUse: number; exhausted: number; violations: number }>;
  tcpConnections: number;
  inflight: number;
  pending: { waiting: number; capacity: number };
  jobs: Record<string, number | boolean>;
  zones: Array<{ name: string; serial: number | null; records: number }>;
  clients: { queue: Record<string, number> } | null;
  discovery: (Record<string, unknown> & { latency: { buckets: number[]; sumMs: number }; byMethod: Record<string, { named: number; tried: number }>; breaker: string }) | null;
  tasks: Record<string, number>;
  memory: { rss: number; heapUsed: number };
  queries: QueryStats;
  uptimeSeconds: number;
  /** Recursive mode: the iterator's counters, and what it knows of each authoritative server (the infra cache). */
  recursion?: { counters: Record<string, number>; servers: Array<{ server: string; queries: number; timeouts: number; srttMs: number; heldDown: boolean }>; cuts: number; addresses: number };
  /** processes = N: the serving processes (the primary's own figures above already include their counters). */
  processes?: Array<{ slot: number; state: string; starts: number; rss: number }>;
  /** While validating: answers by verdict, and (forwarding, "auto") whether the upstreams made us stop. */
  dnssec?: { counters: { secure: number; insecure: number; bogus: number; indeterminate: number }; synthesized: number; downgraded: boolean | null };
}

const BREAKER = ["closed", "half-open", "open"];

export function renderPrometheus(m: MetricsInput): string {
  const e = new Exposition();
  e.counter("bunbound_queries_total", "Answered queries by transport, qtype and rcode.", m.queries.series().map((s) => [{ transport: s.transport, qtype: s.qtype, rcode: s.rcode }, s.value]));
  e.histogram("bunbound_query_duration_seconds", "Time from a query's arrival to its answer.", LATENCY_BUCKETS, m.queries.latency, m.queries.latencySum);
  const s = m.server;
  e.counter("bunbound_queries_received_total", "Queries received, by transport.", [[{ transport: "udp" }, s.udpQueries!], [{ transport: "tcp" }, s.tcpQueries!]]);
  e.counter("bunbound_queries_dropped_total", "Messages dropped unanswered (too short, responses, draining, oversized).", s.dropped!);
  e.counter("bunbound_answers_total", "Answers by source.", [[{ source: "local" }, s.localAnswers!], [{ source: "authoritative" }, s.authoritative!], [{ source: "forwarded" }, s.forwarded!]]);
  e.counter("bunbound_truncated_total", "Answers truncated (TC) to fit the client's UDP size.", s.truncated!);
  e.counter("bunbound_send_failures_total", "UDP answers the socket would not take.", s.sendFailed!);
  e.counter("bunbound_zone_transfers_total", "AXFR requests over TCP.", s.transfers!);
  e.counter("bunbound_ring_exhausted_total", "Queries dropped because every ring slot was in use.", [[{ ring: "udp" }, m.ring.udp.exhausted], [{ ring: "tcp" }, m.ring.tcp.exhausted]]);
  e.counter("bunbound_ring_violations_total", "Buffer ownership violations (stale or double release).", [[{ ring: "udp" }, m.ring.udp.violations], [{ ring: "tcp" }, m.ring.tcp.violations]]);
  e.gauge("bunbound_ring_slots", "Ring slots.", [[{ ring: "udp" }, m.ring.udp.slots], [{ ring: "tcp" }, m.ring.tcp.slots]]);
  e.gauge("bunbound_ring_slots_in_use", "Ring slots owned by a request now.", [[{ ring: "udp" }, m.ring.udp.inUse], [{ ring: "tcp" }, m.ring.tcp.inUse]]);
  e.gauge("bunbound_inflight_queries", "Queries waiting on upstreams or transfers now.", m.inflight);
  e.gauge("bunbound_tcp_connections", "Open client TCP connections.", m.tcpConnections);
  e.counter("bunbound_tcp_connections_total", "Client TCP connections accepted.", s.tcpConnections!);
  e.counter("bunbound_tcp_rejected_total", "Client TCP connections refused at the cap.", s.tcpRejected!);
  e.counter("bunbound_tcp_idle_closed_total", "Client TCP connections closed idle (or the longest idle, to admit a new one).", s.tcpIdleClosed!);
  e.counter("bunbound_tcp_message_timeouts_total", "Client TCP connections closed because a message did not arrive whole in time.", s.tcpMessageTimeouts!);
  e.gauge("bunbound_pending_queries", "Misses waiting for upstreams in the pending table.", m.pending.waiting);
  e.gauge("bunbound_pending_capacity", "Misses the pending table can hold (pending.max_queries).", m.pending.capacity);
  e.counter("bunbound_pending_full_total", "Misses answered early because the pending table was full, by policy.", [[{ policy: "drop_oldest" }, s.pendingEvicted!], [{ policy: "servfail" }, s.pendingRefused!]]);
  e.counter("bunbound_garbage_dropped_total", "Malformed messages whose question did not parse, dropped past the error-answer limit.", s.garbage!);
  e.counter("bunbound_rate_limited_total", "UDP answers dropped or truncated by rate_limit.udp_per_ip.", s.rateLimited!);
  e.counter("bunbound_cookie_only_total", "Queries with only a DNS cookie, answered with a server cookie.", s.cookieOnly!);

  const c = m.cache;
  e.counter("bunbound_cache_hits_total", "Cache hits.", c.hits!);
  e.counter("bunbound_cache_misses_total", "Cache misses.", c.misses!);
  e.counter("bunbound_cache_evictions_total", "Entries evicted to keep the cache within its limits.", c.evictions!);
  e.counter("bunbound_cache_expired_total", "Entries removed past their stale window.", c.expired!);
  e.counter("bunbound_cache_stale_served_total", "Answers served stale (RFC 8767).", c.staleServed!);
  e.counter("bunbound_cache_prefetches_total", "Prefetches started.", c.prefetches!);
  e.counter("bunbound_cache_coalesced_total", "Requests that joined an identical in-flight upstream query.", c.coalesced!);
  e.gauge("bunbound_cache_entries", "Entries in the cache.", c.entries!);
  e.gauge("bunbound_cache_bytes", "Bytes the cache accounts for.", c.bytes!);

  const u = m.upstream;
  e.counter("bunbound_upstream_mismatched_total", "Upstream responses refused (address, port, ID or question mismatch).", u.mismatched!);
  e.counter("bunbound_upstream_tcp_retries_total", "Upstream queries retried over TCP after TC.", u.tcpRetries!);
  e.counter(
    "bunbound_upstream_attempt_failures_total",
    "Failed upstream attempts, by kind.",
    [["timeout", u.timeouts!], ["refused", u.refused!], ["network", u.networkErrors!], ["malformed", u.malformed!], ["rcode", u.badRcodes!], ["bad_chain", u.badChains!], ["tls", u.tlsFailures!], ["http", u.httpErrors!], ["busy", u.busy!], ["cancelled", u.cancelled!]].map(([k, v]) => [{ kind: k as string }, v as number]),
  );
  e.counter("bunbound_upstream_connections_opened_total", "TLS connections and HTTP/2 sessions opened to encrypted upstreams.", u.connectionsOpened!);
  e.counter("bunbound_upstream_connection_failures_total", "Encrypted-upstream connections of no use: refused, reset, failed handshake, closed before answering.", u.connectionFailures!);
  e.counter("bunbound_upstream_connection_reuses_total", "Attempts sent over an encrypted-upstream connection already open or opening.", u.connectionReuses!);
  e.counter("bunbound_upstream_connections_idle_closed_total", "Encrypted-upstream connections closed after upstream.connection_idle_ms without a query.", u.connectionsIdleClosed!);
  e.counter("bunbound_upstream_scrubbed_records_total", "Records removed from relayed answers for lying outside the question's zone or chain.", u.scrubbedRecords!);
  e.counter("bunbound_upstream_queries_total", "Queries sent, by upstream.", m.upstreams.map((x) => [{ upstream: x.upstream }, x.queries]));
  e.counter("bunbound_upstream_failures_total", "Failed attempts, by upstream.", m.upstreams.map((x) => [{ upstream: x.upstream }, x.failures]));
  e.counter("bunbound_upstream_timeouts_total", "Attempts without any answer in time, by upstream.", m.upstreams.map((x) => [{ upstream: x.upstream }, x.timeouts]));
  e.gauge("bunbound_upstream_rtt_seconds", "Smoothed round-trip time, by upstream.", m.upstreams.map((x) => [{ upstream: x.upstream }, x.srttMs / 1000]));
  e.gauge("bunbound_upstream_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", m.upstreams.map((x) => [{ upstream: x.upstream }, BREAKER.indexOf(x.breaker)]));

  const j = m.jobs;
  e.counter("bunbound_jobs_total", "Heavy-lane jobs by outcome.", ["completed", "failed", "superseded", "rejected", "timedOut"].map((k) => [{ outcome: k }, Number(j[k] ?? 0)]));
  e.gauge("bunbound_jobs_queued", "Heavy-lane jobs waiting.", Number(j.queued ?? 0));
  e.gauge("bunbound_zone_serial", "SOA serial of each loaded zone.", m.zones.filter((z) => z.serial !== null).map((z) => [{ zone: z.name }, z.serial!]));
  e.gauge("bunbound_zone_records", "Records of each loaded zone.", m.zones.map((z) => [{ zone: z.name }, z.records]));

  if (m.clients) {
    const q = m.clients.queue;
    e.gauge("bunbound_client_queue_depth", "Client updates waiting, by priority.", [[{ priority: "high" }, q.high!], [{ priority: "low" }, q.low!]]);
    e.counter("bunbound_client_updates_enqueued_total", "Client updates queued, by priority.", [[{ priority: "high" }, q.enqueuedHigh!], [{ priority: "low" }, q.enqueuedLow!]]);
    e.counter("bunbound_client_updates_dropped_total", "Client updates dropped on a full queue, by priority.", [[{ priority: "high" }, q.droppedHigh!], [{ priority: "low" }, q.droppedLow!]]);
    e.counter("bunbound_client_updates_processed_total", "Client updates processed.", q.processed!);
  }
  if (m.discovery) {
    const d = m.discovery as unknown as Record<string, number> & typeof m.discovery;
    e.counter("bunbound_discovery_total", "Discoveries by outcome.", ["succeeded", "failed"].map((k) => [{ outcome: k }, d[k] as number]));
    e.counter("bunbound_discovery_rate_limited_total", "Times queued discoveries were held back by the token bucket.", d.rateLimited as number);
    e.counter("bunbound_discovery_breaker_blocked_total", "Times queued discoveries were held back by the open breaker.", d.breakerBlocked as number);
    e.counter("bunbound_discovery_dropped_total", "Discovery jobs dropped on a full queue.", d.dropped as number);
    e.gauge("bunbound_discovery_queued", "Discovery jobs waiting.", d.queued as number);
    e.gauge("bunbound_discovery_breaker_state", "Discovery breaker: 0 closed, 1 half-open, 2 open.", BREAKER.indexOf(d.breaker));
    e.counter("bunbound_discovery_named_total", "Clients named, by method.", Object.entries(d.byMethod).map(([k, v]) => [{ method: k }, v.named]));
    e.histogram("bunbound_discovery_duration_seconds", "Time one discovery took.", [0.01, 0.05, 0.1, 0.25, 1, 5], d.latency.buckets, d.latency.sumMs / 1000);
  }
  e.gauge("bunbound_tasks", "Background tasks and workers by category.", Object.entries(m.tasks).map(([k, v]) => [{ category: k }, v]));
  e.gauge("bunbound_process_resident_memory_bytes", "Resident set size.", m.memory.rss);
  e.gauge("bunbound_process_heap_used_bytes", "JavaScript heap in use.", m.memory.heapUsed);
  e.gauge("bunbound_uptime_seconds", "Seconds since start.", m.uptimeSeconds);
  if (m.recursion) {
    const r = m.recursion;
    const k = r.counters;
    e.counter("bunbound_recursion_requests_total", "Questions resolved by the iterator (misses outside [[forward]] zones).", k.requests!);
    e.counter("bunbound_recursion_queries_total", "Queries sent to authoritative servers.", k.queries!);
    e.counter("bunbound_recursion_failures_total", "Queries to authoritative servers without a usable answer, by kind.", [[{ kind: "timeout" }, k.timeouts!], [{ kind: "network" }, k.failures!], [{ kind: "lame" }, k.lame!]]);
    e.counter("bunbound_recursion_referrals_total", "Referrals followed.", k.referrals!);
    e.counter("bunbound_recursion_tcp_retries_total", "Truncated answers asked again over TCP.", k.tcpRetries!);
    e.counter("bunbound_recursion_edns_fallbacks_total", "Servers asked again without EDNS after FORMERR or NOTIMP.", k.ednsFallbacks!);
    e.counter("bunbound_recursion_subqueries_total", "Lookups of NS names without glue (coalesced ones included).", k.subqueries!);
    e.counter("bunbound_recursion_limits_total", "Questions stopped by a limit, by limit.", [[{ limit: "max_queries" }, k.limitQueries!], [{ limit: "max_depth" }, k.limitDepth!], [{ limit: "max_referrals" }, k.limitReferrals!], [{ limit: "max_ns_lookups" }, k.limitNsLookups!]]);
    e.counter("bunbound_recursion_servfail_total", "Questions the iterator could not answer (SERVFAIL with an Extended DNS Error).", k.servfails!);
    e.gauge("bunbound_recursion_zone_cuts", "Zone cuts (NS sets) known.", r.cuts);
    e.gauge("bunbound_recursion_server_addresses", "Server names with known addresses.", r.addresses);
    e.counter("bunbound_recursion_server_queries_total", "Queries sent, by authoritative server.", r.servers.map((x) => [{ server: x.server }, x.queries]));
    e.counter("bunbound_recursion_server_timeouts_total", "Queries without an answer in time, by authoritative server.", r.servers.map((x) => [{ server: x.server }, x.timeouts]));
    e.gauge("bunbound_recursion_server_rtt_seconds", "Smoothed round-trip time, by authoritative server.", r.servers.map((x) => [{ server: x.server }, x.srttMs / 1000]));
    e.gauge("bunbound_recursion_server_held_down", "1 while a server is not asked (unreachable), by authoritative server.", r.servers.map((x) => [{ server: x.server }, x.heldDown ? 1 : 0]));
  }
  if (m.dnssec) {
    const k = m.dnssec.counters;
    e.counter("bunbound_dnssec_verdicts_total", "DNSSEC verdicts of validated answers, by verdict: bogus and indeterminate (keys or proofs could not be fetched) ones are SERVFAIL.", [[{ verdict: "secure" }, k.secure], [{ verdict: "insecure" }, k.insecure], [{ verdict: "bogus" }, k.bogus], [{ verdict: "indeterminate" }, k.indeterminate]]);
    e.counter("bunbound_dnssec_aggressive_nxdomain_total", "NXDOMAIN answers made from validated NSEC records kept from earlier answers (RFC 8198), without asking.", m.dnssec.synthesized);
    if (m.dnssec.downgraded !== null) e.gauge("bunbound_dnssec_downgraded", 'Forwarding with dnssec.validate = "auto": 1 while forwarded answers pass unvalidated (an upstream answers without DNSSEC data, or has not answered the check yet).', m.dnssec.downgraded ? 1 : 0);
  }
  if (m.processes) {
    const p = m.processes;
    e.gauge("bunbound_processes", "Processes answering queries (the primary included).", 1 + p.filter((x) => x.state === "running").length);
    e.counter("bunbound_serving_process_starts_total", "Starts of each serving process (more than one: it was restarted).", p.map((x) => [{ process: String(x.slot) }, x.starts]));
    e.gauge("bunbound_serving_process_resident_memory_bytes", "Resident set size of each serving process, from its last report.", p.map((x) => [{ process: String(x.slot) }, x.rss]));
  }
  return e.text();
}
