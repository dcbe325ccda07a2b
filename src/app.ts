// Wires the parts together and owns the order of start, reload and stop.
import type { Server } from "bun";
import { formatHostPort, isLoopback, parseHostPort } from "./net/address";
import { ConfigError, type ResolvedConfig } from "./config/load";
import { settleWithin, TaskManager } from "./lifecycle/tasks";
import { CacheCounters, ServerCounters, UpstreamCounters } from "./metrics/counters";
import { log, setLogLevel } from "./metrics/log";
import { Pipeline, type Snapshot } from "./pipeline";
import { Ring } from "./server/ring";
import { TcpServer, type TransferFn } from "./server/tcp";
import { HeavyLane } from "./jobs/lane";
import { ZoneManager } from "./jobs/zones";
import { HostsWatch, hostsRecords } from "./zones/hosts";
import { join } from "node:path";
import { setCookieSecret } from "./wire/cookie";
import { loadOrCreateSecret } from "./lifecycle/secret";
import type { ClientStore } from "./clients/store";
import type { ClientTracker } from "./clients/tracker";
import type { DiscoveryPool } from "./discovery/pool";
import { startClientTracking } from "./clients/setup";
import type { QueryLog, QueryStats } from "./metrics/querystats";
import { Observer } from "./metrics/observer";
import { LiveFeed } from "./http/live";
import { toWire } from "./wire/name";
import { rcodeOf } from "./wire/message";
import { QType } from "./wire/constants";
import { UdpServer } from "./server/udp";
import { Requests, type AnswerHook } from "./server/request";
import { loadTrust, type TrustStore } from "./upstream/tls-ca";
import { RateLimit } from "./server/ratelimit";
import { HttpsServer } from "./server/https";
import { TlsCertificates } from "./server/tls";
import { Transport } from "./metrics/querystats";
import { assertUdpPortFree, chooseBackend } from "./server/datagram";
import { Forwarder, type Resolver } from "./upstream/forwarder";
import { loadRootHints, RecursiveResolver, Recursor, type RecursionSettings, type RootHints } from "./recursion";
import { traceResolution } from "./recursion/trace";
import { Validator } from "./validator/validate";
import { loadAnchors, type Anchor } from "./validator/anchors";
import { dnssecQuery, UpstreamDnssec, ValidatingForwarder } from "./upstream/validating";
import { AnchorStates } from "./validator/rfc5011";
import { UpstreamPool, UpstreamState } from "./upstream/pool";
import { PacketCache } from "./cache/cache";
import { LocalData } from "./zones/local";
import { startHttp } from "./http/server";
import { VERSION } from "./version";
import { Status } from "./status";
import { ProcessGroup, selfCommand } from "./lifecycle/processes";
import { ThreadPriority } from "./lifecycle/priority";
import { forwardingQueue, postBatch } from "./lifecycle/serving";
import { viaOf, type ClientQueue } from "./clients/queue";

/** "primary": the whole app. "serve": one of the extra processes of `processes = N` (src/lifecycle/processes.ts). */
export type Role = "primary" | "serve";

/**
 * Everything the running app reads from its configuration: the configuration itself (with the settings that need
 * a restart kept at their running values), what requests read (local data, the forwarder) and the UDP rate limit.
 * Built off to the side and swapped in one assignment on reload; components read it through getters.
 */
interface Runtime extends Snapshot {
  readonly config: ResolvedConfig;
  readonly limit: RateLimit | null;
  /** The iterator's settings in recursive mode, else null. */
  readonly recursion: RecursionSettings | null;
  /** DNSSEC trust anchors and negative trust anchors while validating (recursive mode), else empty. */
  readonly anchors: Anchor[];
  readonly ntas: Uint8Array[];
}

/** What outlives reloads, made when first needed: the iterator, the validator, what the upstreams do with DNSSEC. */
interface LongLived {
  recursor: () => Recursor;
  validator: (cfg: ResolvedConfig) => Validator;
  upstreamDnssec: () => UpstreamDnssec;
}

/**
 * The runtime for `cfg`. Upstream health (registry) carries over; so does the rate limiter's state while its
 * settings stay the same. Throws, changing nothing, when the configuration cannot be built.
 */
function buildRuntime(cfg: ResolvedConfig, upstreamCounters: UpstreamCounters, registry: Map<string, UpstreamState>, before: Runtime | null, keep: LongLived): Runtime {
  const pool = new UpstreamPool(cfg.upstreams, cfg.forward, cfg.upstream, registry);
  const sameLimit = before && JSON.stringify(before.config.rate_limit) === JSON.stringify(cfg.rate_limit);
  let trust: TrustStore;
  try {
    trust = loadTrust(cfg.upstream.tls_ca);
  } catch (e) {
    // A bad CA file is a bad setting: named like the schema's problems, and a start exits 2, a reload is refused.
    throw new ConfigError(cfg.source, [{ path: "upstream.tls_ca", message: (e as Error).message.replace(/^upstream\.tls_ca /, "") }]);
  }
  let hints: RootHints | null = null;
  if (cfg.mode === "recursive") {
    try {
      hints = loadRootHints(cfg.root_hints);
    } catch (e) {
      throw new ConfigError(cfg.source, [{ path: "root_hints", message: (e as Error).message }]);
    }
  }
  const validating = cfg.dnssec.validate !== false;
  let anchors: Anchor[] = [];
  if (validating) {
    try {
      anchors = loadAnchors(cfg.dnssec.trust_anchors);
    } catch (e) {
      throw new ConfigError(cfg.source, [{ path: "dnssec.trust_anchors", message: (e as Error).message }]);
    }
  }
  const forwarder = new Forwarder({ pool, upstream: cfg.upstream, timeouts: cfg.timeouts, trust }, upstreamCounters);
  let resolver: Resolver = forwarder;
  let v: Validator | null = null;
  if (validating) {
    v = keep.validator(cfg);
    // Other anchors, or answers now from other upstreams: the keys trusted so far are checked again.
    const changed = (k: "dnssec" | "upstreams" | "mode") => before && JSON.stringify(before.config[k]) !== JSON.stringify(cfg[k]);
    if (changed("dnssec") || changed("upstreams") || changed("mode")) v.clear();
  }
  if (hints) {
    const r = keep.recursor();
    r.configure(hints, cfg.stub.map((s) => ({ zone: toWire(s.zone), servers: s.servers.map((a) => parseHostPort(a, 53)) })), cfg.recursion.port, v);
    resolver = new RecursiveResolver(r, forwarder);
  } else if (v) {
    resolver = new ValidatingForwarder(forwarder, v, cfg.dnssec.validate === true ? null : keep.upstreamDnssec());
  }
  return {
    config: cfg,
    local: new LocalData([...cfg.records, ...cfg.hosts.flatMap((f) => hostsRecords(f))], true, [...cfg.zone.map((z) => z.name), ...cfg.forward.map((f) => f.zone), ...cfg.stub.map((s) => s.zone)]),
    forwarder,
    resolver,
    recursion: hints ? { ...cfg.recursion, max_cname_chain: cfg.upstream.max_cname_chain } : null,
    anchors,
    ntas: validating ? cfg.dnssec.negative_trust_anchors.map((n) => toWire(n)) : [],
    timeouts: cfg.timeouts,
    cache: cfg.cache,
    limit: sameLimit ? before.limit : cfg.rate_limit.udp_per_ip > 0 ? new RateLimit(cfg.rate_limit.udp_per_ip, cfg.rate_limit.slip) : null,
  };
}


/**
 * The per-answer hook: query stats, the recent-query log and the client-update queue, each left out when null
 * (bench/path.ts measures them one at a time with the same function).
 */
export function answerHook(stats: QueryStats | null, qlog: QueryLog | null, queue: ClientQueue | null): AnswerHook {
  return (ip, buf, q, transport, seconds) => {
    const rcode = rcodeOf(buf);
    const now = Date.now(); // one clock read for the log and the client update
    stats?.record(transport, q.qtype, rcode, seconds);
    qlog?.add(ip, now, buf, q.qnameEnd, q.qtype, rcode, transport, seconds * 1000);
    queue?.post(ip, now, buf, 12, q.qnameEnd, q.qtype, rcode, viaOf(transport));
  };
}

/** How often the trust anchors' DNSKEY RRsets are fetched again (RFC 5011 2.3). */
const ANCHOR_REFRESH_MS = 3_600_000;

/** Settings a reload cannot apply (sockets, rings, processes, threads): they keep their values until a restart. */
const RESTART_KEYS = ["listen", "listen_tls", "listen_https", "doh", "http", "ring", "pending", "data_dir", "udp", "processes", "background_nice"] as const;
type RestartKey = (typeof RESTART_KEYS)[number];

export class App {
  readonly counters = new ServerCounters();
  readonly upstreamCounters = new UpstreamCounters();
  readonly cacheCounters = new CacheCounters();
  /** Upstream health by address, kept across reloads. */
  readonly upstreamStates = new Map<string, UpstreamState>();
  readonly cache: PacketCache;
  readonly lane: HeavyLane;
  readonly zones: ZoneManager;
  /** hosts files: a change rebuilds the runtime's local data. */
  readonly hosts: HostsWatch;
  readonly store: ClientStore | null = null;
  readonly tracker: ClientTracker | null = null;
  readonly discovery: DiscoveryPool | null = null;
  readonly observer = new Observer();
  readonly live = new LiveFeed();
  readonly status: Status = new Status(this);
  readonly tasks = new TaskManager();
  /** Lowers every thread but the query thread (background_nice). */
  readonly threads: ThreadPriority;
  readonly udpRing: Ring;
  readonly tcpRing: Ring;
  readonly pipeline: Pipeline;
  /** The request entry every transport hands queries to, with the pending misses. */
  readonly requests: Requests;
  readonly udp: UdpServer[] = [];
  /** DNS over TCP listeners, then DNS over TLS ones (TcpServer with a certificate). */
  readonly tcp: TcpServer[] = [];
  /** DNS over HTTPS listeners. */
  readonly https: HttpsServer[] = [];
  /** The certificate of the encrypted listeners; null when there are none. */
  readonly certificates: TlsCertificates | null;
  private http: Server<undefined> | null = null;
  /** The serving processes (primary with processes > 1). */
  processes: ProcessGroup | null = null;
  /** The UDP socket backend in use (config "auto" resolved). */
  udpBackend = "";
  /** Clients seen, on their way to the primary (serving processes). */
  forwardQueue: ClientQueue | null = null;
  private stopping: Promise<void> | null = null;
  readonly startedAt = Date.now();
  reloads = 0;

  /** What everything reads from the configuration; a reload replaces it in one assignment. */
  private runtime: Runtime;
  /** The iterator, made when recursive mode is first configured; what it learnt outlives reloads. */
  recursor: Recursor | null = null;
  private readonly recursorFor = (): Recursor => (this.recursor ??= new Recursor(() => this.runtime.recursion!));
  /** The DNSSEC validator, made when validation is first configured; the zone keys it trusts outlive reloads. */
  validator: Validator | null = null;
  private readonly validatorFor = (cfg: ResolvedConfig): Validator =>
    (this.validator ??= new Validator(() => this.runtime.anchors, () => this.runtime.ntas, {
      aggressive: () => this.runtime.config.dnssec.aggressive_nsec,
      tracker: new AnchorStates(join(cfg.data_dir, "dnssec")), // data_dir changes only with a restart
    }));
  /** Whether the upstreams return DNSSEC data (forwarding with dnssec.validate = "auto"), checked by its task. */
  upstreamDnssec: UpstreamDnssec | null = null;
  private readonly keep: LongLived = {
    recursor: this.recursorFor,
    validator: this.validatorFor,
    upstreamDnssec: () => (this.upstreamDnssec ??= new UpstreamDnssec(() => (this.runtime.resolver instanceof ValidatingForwarder ? this.runtime.forwarder : null), () => this.runtime.config.timeouts.upstream_ms)),
  };

  private constructor(
    cfg: ResolvedConfig,
    readonly role: Role,
  ) {
    this.runtime = buildRuntime(cfg, this.upstreamCounters, this.upstreamStates, null, this.keep);
    this.threads = new ThreadPriority(cfg.background_nice);
    const r = cfg.ring;
    this.udpRing = new Ring(r.udp_slots, r.udp_slot_size, 0, r.strict);
    this.tcpRing = new Ring(r.tcp_slots, r.tcp_slot_size, 2, r.strict);
    this.cache = new PacketCache(() => this.runtime.config.cache, this.cacheCounters);
    this.lane = new HeavyLane({ jobs: cfg.jobs, tasks: this.tasks });
    this.zones = new ZoneManager(this.lane, cfg.data_dir);
    this.pipeline = new Pipeline(() => this.runtime, this.cache, this.zones.table, this.counters, this.cacheCounters);
    this.requests = new Requests(this.pipeline, this.counters, cfg.pending.max_queries, () => this.runtime);
    this.certificates = cfg.listen_tls.length + cfg.listen_https.length > 0 ? new TlsCertificates(() => ({ ...this.runtime.config.tls, data_dir: this.runtime.config.data_dir })) : null;
    this.hosts = new HostsWatch(
      () => this.runtime.config.hosts,
      () => {
        log.info("hosts file changed; reloading local data");
        try {
          this.runtime = buildRuntime(this.runtime.config, this.upstreamCounters, this.upstreamStates, this.runtime, this.keep);
        } catch (err) {
          log.warn("hosts file not reloaded; the last good local data stays", { err });
        }
      },
    );
  }

  get config(): ResolvedConfig {
    return this.runtime.config;
  }

  /** The configuration the app runs with. */
  private get cfg(): ResolvedConfig {
    return this.runtime.config;
  }

  /** Binds every listener (UDP and TCP on each address, then HTTP) and starts background tasks. */
  static async start(cfg: ResolvedConfig, role: Role = "primary"): Promise<App> {
    setLogLevel(cfg.log_level);
    setCookieSecret(loadOrCreateSecret(join(cfg.data_dir, "cookie.secret")));
    const app = new App(cfg, role);
    // Zones load in the heavy lane. Small ones are ready before we answer; a large one keeps loading after
    // start-up, and until it is in, its names get SERVFAIL (never an upstream's answer). A zone that fails to
    // load is reported (file:line) and stays SERVFAIL; the rest serve.
    const zonesLoaded = app.zones.apply(cfg.zone);
    await settleWithin(zonesLoaded, 5000);
    try {
      await app.listen();
    } catch (err) {
      app.closeSockets();
      throw err;
    }
    app.startClients();
    if (role === "serve") app.forwardQueue = forwardingQueue(cfg);
    app.installAnswerHook();
    if (role === "primary" && cfg.processes > 1) {
      // Serving processes start once our zones are in (DNSSEC keys are then on disk for them to load).
      app.processes = new ProcessGroup(
        { count: cfg.processes - 1, command: selfCommand(), listen: app.boundListen(), stopTimeoutMs: cfg.timeouts.drain_ms + 2000 },
        (batch) => {
          if (app.tracker) postBatch(app.tracker.queue, batch);
        },
      );
      app.processes.start(app.tasks, zonesLoaded.catch(() => undefined));
    }
    // Each part registers its own periodic work.
    app.threads.start(app.tasks);
    app.live.start(app.tasks, app.status);
    app.status.start(app.tasks);
    app.zones.start(app.tasks, cfg.jobs.watch_interval_ms);
    app.hosts.start(app.tasks, cfg.jobs.watch_interval_ms);
    app.cache.start(app.tasks);
    app.certificates?.start(app.tasks, cfg.jobs.watch_interval_ms);
    if (app.runtime.recursion) app.recursor?.start(app.tasks);
    app.upstreamDnssec?.start(app.tasks);
    if (app.validator) app.startAnchorRefresh();
    log.info("bunbound started", {
      version: VERSION,
      listen: app.boundListen(),
      ...(app.certificates && { listenTls: app.boundEncrypted().tls, listenHttps: app.boundEncrypted().https, spkiPin: app.certificates.material.pin }),
      udpBackend: app.udpBackend,
      role,
      mode: cfg.mode,
      processes: cfg.processes,
      http: cfg.http === "off" ? "off" : `http://${app.httpAddress}`,
      upstreams: cfg.upstreams,
      upstreamsFrom: cfg.upstreamsFrom,
      records: app.runtime.local.recordCount,
      config: cfg.source,
    });
    if (cfg.upstreams.length === 0 && cfg.mode === "forward") log.warn("no upstreams configured: names not answered locally get SERVFAIL");
    return app;
  }

  /** Client tracking and discovery (src/clients/setup.ts), once the listeners are up. */
  private startClients(): void {
    const dns = this.udp[0]!;
    const parts = startClientTracking(this.cfg, this.tasks, { host: dns.host, port: dns.boundPort });
    const self = this as { -readonly [K in keyof typeof parts]: App[K] };
    Object.assign(self, parts);
  }

  /** One hook per answered query: metrics, the recent-query log, and (when on) client tracking. */
  private installAnswerHook(): void {
    this.requests.onAnswered = answerHook(this.observer.stats, this.observer.log, this.tracker?.queue ?? this.forwardQueue);
  }



  private async listen(): Promise<void> {
    const settings = () => this.runtime.config;
    // processes = N: every process binds with SO_REUSEPORT, which Bun.udpSocket cannot; "dgram" and "mmsg" can.
    const reusePort = this.role === "serve" || this.cfg.processes > 1;
    const backend = chooseBackend(this.cfg.udp.backend, reusePort);
    if (reusePort && this.cfg.udp.backend === "bun" && this.role === "primary") log.info("processes > 1: UDP uses the dgram backend (SO_REUSEPORT)");
    this.udpBackend = backend;
    for (const addr of this.cfg.listen) {
      const { host, port } = parseHostPort(addr);
      if (reusePort && this.role === "primary" && port !== 0) await assertUdpPortFree(host, port);
      // Port 0 means "any": TCP takes the port UDP got, so one ADDR:PORT serves both. That TCP port may
      // be taken already; then try another pair.
      for (let attempt = 0; ; attempt++) {
        const udp = new UdpServer(host, port, this.udpRing, this.requests, this.counters, {
          ...this.cfg.udp,
          backend,
          reusePort,
          // Upstream answers and TCP queries arrive through the event loop: while any can, it gets a turn every 1 ms.
          otherWork: () => this.pipeline.inflight > 0 || this.tcp.some((t) => t.connections > 0) || this.https.some((h) => h.connections > 0),
          awaiting: () => this.pipeline.inflight > 0,
        });
        await udp.start();
        const tcp = new TcpServer(host, udp.boundPort, this.tcpRing, this.requests, this.counters, settings, this.transfer);
        try {
          tcp.start(this.tasks, reusePort);
        } catch (err) {
          udp.close();
          if (port === 0 && attempt < 10) continue;
          throw err;
        }
        this.udp.push(udp);
        this.tcp.push(tcp);
        break;
      }
    }
    await this.listenEncrypted(settings);
    if (this.cfg.http !== "off") {
      const { host, port } = parseHostPort(this.cfg.http);
      if (!isLoopback(host)) log.warn("HTTP listener is not on loopback", { http: this.cfg.http });
      this.http = startHttp(host, port, {
        health: () => this.status.health(),
        zones: () => this.zones.status(),
        reloadZone: (name) => {
          if (!this.zones.has(name)) return null;
          this.processes?.broadcast({ t: "reload-zone", name });
          return this.zones.reload(name);
        },
        clients: (op) => (this.store?.ready ? this.store.request(op) : null),
        metrics: {
          queue: () => this.status.clientStats(),
          discovery: () => this.status.discoveryStats(),
          workers: () => ({ tasks: this.tasks.byCategory(), list: this.tasks.list(), processes: this.status.processList(), threads: this.threads.state() }),
          cache: () => ({ ...this.status.totals().cache, flights: this.pipeline.flights.inflight }),
          upstreams: () => ({ ...this.status.totals().upstream, servers: [...this.upstreamStates.values()].map((s) => s.snapshot()) }),
          recursion: () => this.status.recursion(),
        },
        ready: () => this.status.readiness(),
        metricsText: () => this.status.metricsText(),
        querylog: (limit) => this.observer.log.recent(limit),
        flushCache: (name) => {
          const removed = this.cache.flush(name === null ? undefined : toWire(name));
          this.processes?.broadcast({ t: "flush", name }); // each process has its own cache
          return removed;
        },
        live: this.live,
        resolve: (name, type) => (this.runtime.recursion && this.recursor ? traceResolution(this.recursor, name, type, this.runtime.config.timeouts.query_ms) : null),
        token: this.cfg.http_token,
      });
    }
  }

  /** DoT and DoH listeners, with the configured certificate or the self-signed one of data_dir. */
  private async listenEncrypted(settings: () => ResolvedConfig): Promise<void> {
    const certificates = this.certificates;
    if (!certificates) return;
    const m = await certificates.load();
    log.info("TLS certificate", { file: m.certFile, selfSigned: m.selfSigned, spkiPin: m.pin });
    for (const addr of this.cfg.listen_tls) {
      const { host, port } = parseHostPort(addr, 853);
      const dot = new TcpServer(host, port, this.tcpRing, this.requests, this.counters, settings, this.transfer, certificates);
      dot.start(this.tasks);
      this.tcp.push(dot);
    }
    for (const addr of this.cfg.listen_https) {
      const { host, port } = parseHostPort(addr, 443);
      const doh = new HttpsServer(host, port, this.tcpRing, this.requests, this.counters, settings, certificates);
      await doh.start();
      this.https.push(doh);
    }
  }

  /** The encrypted listeners as bound: DoT, then DoH (port 0 resolved). */
  boundEncrypted(): { tls: string[]; https: string[] } {
    const fmt = (host: string, port: number) => formatHostPort({ host, port, family: host.includes(":") ? 6 : 4 });
    return { tls: this.tcp.filter((t) => t.transport === Transport.TLS).map((t) => fmt(t.host, t.boundPort)), https: this.https.map((h) => fmt(h.host, h.boundPort)) };
  }

  /** The listen addresses as bound (port 0 resolved). */
  boundListen(): string[] {
    return this.udp.map((u) => formatHostPort({ host: u.host, port: u.boundPort, family: u.host.includes(":") ? 6 : 4 }));
  }

  get httpAddress(): string | null {
    if (!this.http) return null;
    const host = this.http.hostname ?? "";
    return host.includes(":") ? `[${host}]:${this.http.port}` : `${host}:${this.http.port}`;
  }

  /**
   * Applies a new configuration. Everything requests read is rebuilt first and swapped in one assignment;
   * a config that fails to build throws and leaves the running one untouched. Listener, HTTP and ring
   * changes need a restart and are reported as such.
   */
  /** AXFR for the TCP server: ACL check, then the messages from the heavy lane. */
  private readonly transfer: TransferFn = async (query, q, peer) => {
    const zone = this.zones.table.find(query, 12, q.qnameEnd);
    if (!zone || zone.loading) return "refused";
    if (!this.zones.mayTransfer(zone.p.name, peer)) {
      log.warn("AXFR refused by transfer_acl", { zone: zone.p.name, peer });
      return "refused";
    }
    return this.zones.transfer(zone.p.name, q.id, query.slice(12, q.questionEnd));
  };

  private anchorRefresh = false;
  /**
   * Asks for each trust anchor's DNSKEY RRset every hour (RFC 5011 2.3: at least that often for a TTL of two
   * days), through the resolver as a question would, so that key rollovers are seen without client traffic.
   */
  private startAnchorRefresh(): void {
    if (this.anchorRefresh) return;
    this.anchorRefresh = true;
    this.tasks.every("dnssec-anchor-refresh", "upstream", ANCHOR_REFRESH_MS, async (signal) => {
      const v = this.validator;
      if (!v || this.runtime.config.dnssec.validate === false) return;
      v.refreshAnchors();
      for (const a of this.runtime.anchors) {
        const { msg, q } = dnssecQuery(a.zone, QType.DNSKEY, false);
        await this.runtime.resolver.forward(msg, q, Date.now() + this.runtime.config.timeouts.query_ms, signal);
      }
    });
  }

  reload(next: ResolvedConfig): Promise<void> {
    if (this.stopping) throw new Error("shutting down");
    const before = this.runtime.config;
    const needsRestart = RESTART_KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(before[k]));
    const kept = { ...next };
    for (const k of RESTART_KEYS) (kept as Record<RestartKey, unknown>)[k] = before[k]; // running with the old ones
    this.runtime = buildRuntime(kept, this.upstreamCounters, this.upstreamStates, this.runtime, this.keep); // may throw: nothing changed yet
    if (this.runtime.recursion) this.recursor?.start(this.tasks);
    else this.recursor?.stop();
    this.upstreamDnssec?.start(this.tasks);
    this.upstreamDnssec?.reconsider();
    if (this.validator) this.startAnchorRefresh();
    this.processes?.reload(); // each serving process reloads from the same sources
    setLogLevel(next.log_level);
    this.reloads++;
    log.info("configuration reloaded", { records: this.runtime.local.recordCount, upstreams: next.upstreams, source: next.source });
    if (needsRestart.length) log.warn("some changes take effect only after a restart", { fields: needsRestart });
    this.hosts.reset();
    void this.certificates?.check(); // other files configured, or the same ones changed: a bad pair keeps the old one
    return this.zones.apply(next.zone).then(() => undefined);
  }

  /**
   * Stops accepting, lets in-flight queries finish (up to timeouts.drain_ms, then cancels them: they get
   * SERVFAIL), closes every socket and stops every task. Idempotent: every caller gets the same promise.
   */
  shutdown(reason = "shutdown"): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      log.info("shutting down", { reason, inflight: this.inflight });
      this.live.close();
      this.http?.stop(true);
      this.http = null;
      const children = this.processes?.stop() ?? Promise.resolve(); // they drain at the same time as we do
      const drained = Promise.all([...this.udp.map((u) => u.drain()), ...this.tcp.map((t) => t.drain()), ...this.https.map((h) => h.drain())]);
      const inTime = await settleWithin(drained, this.cfg.timeouts.drain_ms);
      if (!inTime) {
        log.warn("drain timeout: cancelling in-flight queries", { inflight: this.inflight });
        this.pipeline.cancelAll();
        await settleWithin(drained, 1000);
      }
      this.closeSockets();
      await settleWithin(children, this.cfg.timeouts.drain_ms + 3000);
      // The tracker first: its last batch must reach the store before the store closes.
      if (this.tracker) await this.tasks.stop("client-tracker", 2000);
      await this.tasks.stopAll(2000);
      await settleWithin(this.lane.stop(), 2000); // queued jobs are failed, the worker (if any) ended
      log.info("stopped", this.status.stats());
    })();
    return this.stopping;
  }

  private closeSockets(): void {
    for (const u of this.udp) u.close();
    for (const t of this.tcp) t.close();
    for (const h of this.https) h.close();
    this.http?.stop(true);
    this.http = null;
    // Encrypted upstreams' connections: what still waits on them is cancelled, and none keeps the process alive.
    for (const s of this.upstreamStates.values()) s.close();
  }

  get isStopping(): boolean {
    return this.stopping !== null;
  }

  get inflight(): number {
    return this.udp.reduce((n, u) => n + u.inflight, 0) + this.tcp.reduce((n, t) => n + t.inflight, 0) + this.https.reduce((n, h) => n + h.inflight, 0);
  }
}
