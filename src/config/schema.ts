// The configuration schema: the one place config shape, defaults, limits and descriptions are written. Types
// are inferred from it, and docs/configuration.md is generated from it (src/config/reference.ts, `bun run
// docs:config`). TOML keys are snake_case; every object is strict, so a misspelt key is an error.
import { z } from "zod";
import { parseRecord } from "../zones/records";
import { toWire } from "../wire/name";
import { parseCidr, parseHostPort, parseUpstream } from "../net/address";

const hostPort = (defaultPort?: number) =>
  z.string().superRefine((v, ctx) => {
    try {
      parseHostPort(v, defaultPort);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  });

const upstream = z.string().superRefine((v, ctx) => {
  try {
    parseUpstream(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const record = z.string().superRefine((v, ctx) => {
  try {
    parseRecord(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const cidr = z.string().superRefine((v, ctx) => {
  try {
    parseCidr(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

/** A domain name as the wire code reads it. */
const domain = z.string().superRefine((v, ctx) => {
  try {
    toWire(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

const ms = (def: number, min: number, max: number) => z.number().int().min(min).max(max).default(def);

export const configSchema = z
  .object({
    listen: z.array(hostPort()).min(1).default(["127.0.0.1:5300", "[::1]:5300"])
      .describe("UDP and TCP listeners, ADDR:PORT (`[::1]:5300` for IPv6; port 0 picks a free port). Changing it needs a restart."),
    http: z.union([z.literal("off"), hostPort()]).default("127.0.0.1:8053")
      .describe("HTTP API and dashboard address (ADDR:PORT), or `\"off\"`. Off loopback it needs `http_token`. Changing it needs a restart."),
    http_token: z.string().min(16, "must be at least 16 characters").optional()
      .describe("Bearer token for mutating API requests (the POST endpoints, `Authorization: Bearer <token>`), at least 16 characters; required when `http` is not on loopback: bunbound refuses to start without it."),
    listen_tls: z.array(hostPort(853)).default([])
      .describe("DNS over TLS (RFC 7858) listeners, ADDR[:PORT] (port 853 by default), with the certificate of `[tls]`. Changing it needs a restart."),
    listen_https: z.array(hostPort(443)).default([])
      .describe("DNS over HTTPS (RFC 8484) listeners, ADDR[:PORT] (port 443 by default): HTTP/2 and HTTP/1.1, GET and POST at `doh.path`, with the certificate of `[tls]`. Apart from the `http` API and dashboard listener. Changing it needs a restart."),
    upstreams: z.array(upstream).optional()
      .describe("Upstream servers, tried as `upstream.strategy` says: `ADDR[:PORT]` (DNS over UDP and TCP, port 53), `tls://ADDR[:PORT][#auth-name]` (DNS over TLS, port 853; the certificate must name auth-name, else the address), `https://HOST[:PORT]/PATH[#ADDR]` (DNS over HTTPS, port 443; a HOST that is a name needs its address after #). When absent, the nameservers of /etc/resolv.conf."),
    mode: z.enum(["forward", "recursive"]).default("forward")
      .describe("forward: names not answered locally go to `upstreams`. recursive: bunbound resolves them itself from the root (`root_hints`, `[recursion]`), like Unbound; `[[forward]]` and `[[stub]]` zones still apply."),
    root_hints: z.string().min(1).optional()
      .describe("RFC 1035 master file of the root servers (NS records of `.` and their addresses), for `mode = \"recursive\"`; built in: IANA's root hints. The root NS set is then primed from them (RFC 8109)."),
    records: z.array(record).default([])
      .describe("Local records, `NAME [TTL] [IN] TYPE DATA` (A, AAAA, CNAME, MX, NS, PTR, SRV, TXT, CAA; TXT data as quoted strings, several allowed). A name with records but none of the asked type gets NODATA; a CNAME is followed through local data."),
    data_dir: z.string().min(1).default("./data")
      .describe("State directory: the client store (`clients.db`) and the DNSSEC keys (`keys/`). Changing it needs a restart."),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info").describe("Log threshold. Logs are JSON lines on stderr."),
    processes: z.number().int().min(1).max(64).default(1)
      .describe("Processes answering on the listen ports (SO_REUSEPORT: UDP backend \"mmsg\", or \"dgram\"): the first also runs the HTTP API, client tracking and discovery; caches are per process. See src/lifecycle/processes.ts. Changing it needs a restart."),
    background_nice: z.number().int().min(0).max(19).default(10)
      .describe("Nice value of every thread but the query thread (workers, JIT, GC): they give way to it on a shared core. 0 leaves them at the query thread's priority. See src/lifecycle/priority.ts. Changing it needs a restart."),
    timeouts: z
      .object({
        query_ms: ms(2500, 50, 60_000).describe("A client's deadline: by then it has an answer (SERVFAIL at worst)."),
        upstream_ms: ms(1000, 10, 30_000).describe("One upstream attempt; the next upstream (or the same again) is tried after it."),
        drain_ms: ms(5000, 0, 120_000).describe("On SIGTERM, how long in-flight queries get to finish before they are cancelled."),
        tcp_idle_ms: ms(10_000, 1000, 600_000)
          .describe("Idle TCP connections are closed after this; shorter once the connection table is half full (down to 500 ms when it is full)."),
        tcp_message_ms: ms(5000, 100, 120_000)
          .describe("A TCP message must arrive whole within this long of its first byte, however slowly it trickles in (slowloris)."),
      })
      .strict()
      .prefault({})
      .describe("Deadlines, in milliseconds."),
    tcp: z
      .object({
        max_connections: z.number().int().min(1).max(100_000).default(1000)
          .describe("Open client connections at most; a full table closes its longest-idle connection to admit a new one (and refuses the new one when every connection is busy)."),
        max_inflight_per_connection: z.number().int().min(1).max(65_535).default(32)
          .describe("Reading from a connection pauses at this many unanswered queries."),
      })
      .strict()
      .prefault({})
      .describe("Client TCP connections (RFC 7766), and DNS over TLS connections, which follow the same rules (each listener its own table)."),
    tls: z
      .object({
        cert: z.string().min(1).optional()
          .describe("PEM certificate (chain) of the DoT and DoH listeners. Without `cert` and `key`, bunbound makes a self-signed ECDSA P-256 certificate in `data_dir/tls/` on first start and logs its SHA-256 SPKI pin (RFC 7858 4.2). Re-read on SIGHUP and when the file changes; open connections keep theirs, a bad file keeps the last good certificate."),
        key: z.string().min(1).optional().describe("PEM private key of `cert`."),
        min_version: z.enum(["1.2", "1.3"]).default("1.2").describe("The lowest TLS version the listeners accept."),
      })
      .strict()
      .prefault({})
      .describe("The certificate of the encrypted listeners (`listen_tls`, `listen_https`)."),
    doh: z
      .object({
        path: z.string().regex(/^\/[\w./-]*$/, "must be a URL path such as /dns-query").default("/dns-query").describe("The DoH endpoint's path (RFC 8484 uses /dns-query)."),
        max_streams: z.number().int().min(1).max(1000).default(100)
          .describe("HTTP/2 streams one connection may have open at once; more are refused (RST_STREAM REFUSED_STREAM), a flood ends the session."),
      })
      .strict()
      .prefault({})
      .describe("DNS over HTTPS serving (`listen_https`). Changing it needs a restart."),
    cache: z
      .object({
        max_entries: z.number().int().min(1).max(50_000_000).default(200_000)
          .describe("Entries at most; entries are evicted (SIEVE) past this or `max_bytes`."),
        max_bytes: z.number().int().min(64 * 1024).max(64 * 1024 ** 3).default(128 * 1024 * 1024)
          .describe("Bytes at most (128 MiB by default); entries are evicted (SIEVE) past this or `max_entries`."),
        min_ttl: z.number().int().min(0).max(86_400).default(0).describe("Clamp for positive TTLs, seconds: the lowest."),
        max_ttl: z.number().int().min(1).max(2_147_483_647).default(86_400).describe("Clamp for positive TTLs, seconds: the highest."),
        negative_max_ttl: z.number().int().min(0).max(86_400).default(3600)
          .describe("Cap for NXDOMAIN/NODATA (RFC 2308), seconds: they are cached for min(SOA TTL, SOA MINIMUM), at most this."),
        servfail_ttl: z.number().int().min(0).max(300).default(5)
          .describe("How long an upstream SERVFAIL is kept, seconds; 0 = not cached."),
        serve_stale: z.boolean().default(true)
          .describe("RFC 8767: answer expired data (with TTL `stale_answer_ttl`) when upstreams fail or are slow."),
        stale_max_age: z.number().int().min(0).max(7 * 86_400).default(86_400)
          .describe("How long past expiry data may still be served stale, seconds (default one day)."),
        stale_answer_ttl: z.number().int().min(1).max(3600).default(30).describe("TTL of stale answers, seconds (RFC 8767 recommends 30)."),
        stale_client_timeout_ms: z.number().int().min(0).max(60_000).default(1800)
          .describe("With stale data at hand, how long a client waits for upstreams first (RFC 8767 suggests 1.8 s); the refresh goes on after it."),
        prefetch: z.boolean().default(true).describe("Refresh an entry asked for in the last 10% of its TTL, in the background."),
        sweep_interval_ms: z.number().int().min(100).max(3_600_000).default(10_000)
          .describe("How often expired entries are removed (by one task; no timer per entry)."),
      })
      .strict()
      .prefault({})
      .describe("The packet cache."),
    upstream: z
      .object({
        strategy: z.enum(["fastest", "round_robin", "ordered"]).default("fastest")
          .describe("fastest: lowest smoothed RTT first, with some exploration (`exploration`); round_robin; ordered: as listed."),
        randomize_case: z.boolean().default(false)
          .describe("0x20: randomise the qname's letter case toward upstreams and reject answers that do not echo it exactly."),
        breaker_failures: z.number().int().min(1).max(1000).default(5)
          .describe("Consecutive failures that open an upstream's circuit breaker."),
        breaker_open_ms: z.number().int().min(100).max(3_600_000).default(30_000)
          .describe("How long an open breaker waits before one half-open probe; each failed probe doubles the wait, up to `breaker_max_open_ms`."),
        breaker_max_open_ms: z.number().int().min(100).max(86_400_000).default(300_000)
          .describe("The longest an open breaker waits between probes."),
        max_cname_chain: z.number().int().min(1).max(64).default(12)
          .describe("Longer CNAME chains, and loops, from upstreams are refused (the next upstream is tried; SERVFAIL when none does better)."),
        exploration: z.number().min(0).max(0.5).default(0.05)
          .describe("With strategy fastest: the share of queries that try another upstream than the fastest first, so every RTT estimate stays current."),
        tls_ca: z.string().min(1).optional()
          .describe("PEM file of certificate authorities trusted for tls:// and https:// upstreams, beside the system store. A certificate that does not verify, or does not name the upstream, fails the attempt; there is never a fallback to cleartext."),
        connection_idle_ms: z.number().int().min(100).max(600_000).default(10_000)
          .describe("A TLS or HTTPS connection to an upstream is kept this long without a query, then closed; the next query opens a new one."),
      })
      .strict()
      .prefault({})
      .describe("How upstreams are chosen, and when one is given up on."),
    stub: z
      .array(
        z
          .object({
            zone: domain.describe("The domain."),
            servers: z.array(hostPort(53)).min(1).describe("Its authoritative servers, ADDR[:PORT] (port 53 by default)."),
          })
          .strict(),
      )
      .default([])
      .describe("In recursive mode, names at or below `zone` are resolved starting at these authoritative servers, asked without recursion desired (Unbound's stub-zone); the rest of the tree is found from there as usual."),
    recursion: z
      .object({
        qname_minimisation: z.boolean().default(true)
          .describe("RFC 9156, relaxed like Unbound's default: each server is asked only for the next label it needs to answer; an NXDOMAIN or failure for a shortened name is asked again in full."),
        randomize_case: z.boolean().default(false)
          .describe("0x20: randomise the qname's letter case toward authoritative servers and reject answers that do not echo it exactly."),
        max_queries: z.number().int().min(4).max(1000).default(64)
          .describe("Queries sent to authoritative servers for one client question at most, those for NS names and CNAME targets included; past it, SERVFAIL with Extended DNS Error 0 naming the limit (RFC 8914)."),
        max_ns_lookups: z.number().int().min(1).max(64).default(4)
          .describe("NS names without glue resolved for one delegation at most (NXNSAttack: a referral to many glue-less names cannot make us send many queries)."),
        max_depth: z.number().int().min(1).max(16).default(5)
          .describe("How deep sub-queries may depend on each other (an NS name's address needing another NS name's address, ...)."),
        max_referrals: z.number().int().min(2).max(200).default(30)
          .describe("Referrals followed for one name at most (a referral loop ends here)."),
        port: z.number().int().min(1).max(65_535).default(53)
          .describe("The port authoritative servers are asked on: 53, except for test beds on loopback."),
        server_timeout_ms: ms(1000, 10, 30_000)
          .describe("The longest wait for one authoritative server's answer; a server's own timeout starts lower, from its smoothed RTT, and doubles with each timeout."),
        infra_ttl_ms: ms(900_000, 1000, 86_400_000)
          .describe("How long what was learnt about a server (RTT, EDNS support) is kept, and how long a lame or unreachable one is held down."),
        infra_max: z.number().int().min(16).max(10_000_000).default(10_000)
          .describe("Servers the infrastructure cache knows at most (the least recently used go)."),
        delegations_max: z.number().int().min(16).max(10_000_000).default(100_000)
          .describe("Zone cuts (NS sets) and server addresses kept at most (the least recently used go)."),
        prime_interval_ms: ms(3_600_000, 1000, 86_400_000)
          .describe("How often the root NS set is primed again (RFC 8109), besides at start; sooner when its TTL ends."),
      })
      .strict()
      .prefault({})
      .describe("Full recursion (`mode = \"recursive\"`)."),
    dnssec: z
      .object({
        validate: z.union([z.literal("auto"), z.boolean()]).default("auto")
          .describe("DNSSEC validation of what is resolved or forwarded (RFC 4035 5): \"auto\" validates in recursive mode, and in forwarding mode once every upstream has answered the root DNSKEY signed (while one answers it without signatures, or not at all, answers pass unvalidated, with a warning); true validates in both and never downgrades; false never validates. Validated answers get AD=1 for clients that set DO or AD; bogus ones are SERVFAIL with an Extended DNS Error; CD=1 clients get the data unchecked."),
        trust_anchors: z.array(z.string().min(1)).default([])
          .describe("Files of DS or DNSKEY records (master-file form, TTLs optional) that replace the built-in root trust anchors (KSK-2017 and KSK-2024): a private root, a test bed. Either way the anchored zones' keys are tracked through rollovers (RFC 5011), with their states in data_dir/dnssec/trust-anchors.json."),
        aggressive_nsec: z.boolean().default(true)
          .describe("Aggressive use of validated NSEC records (RFC 8198): NXDOMAIN for a name that the NSEC records of an earlier secure negative answer prove absent, answered from them without asking (NSEC3 spans are not used)."),
        negative_trust_anchors: z.array(domain).default([])
          .describe("Zones not validated (RFC 7646): their answers are treated as insecure, e.g. a zone whose signatures are known to be broken."),
      })
      .strict()
      .prefault({})
      .describe("DNSSEC validation."),
    forward: z
      .array(
        z
          .object({
            zone: domain.describe("The domain."),
            upstreams: z.array(upstream).min(1).describe("Its upstream servers, in the forms of the top-level `upstreams`."),
          })
          .strict(),
      )
      .default([])
      .describe("Per-domain forwarding: names at or below `zone` go to these upstreams; the longest zone wins. A forward zone at or below a special-use name (RFC 6761: `test.`, `local.`, ...) takes over its names."),
    zone: z
      .array(
        z
          .object({
            name: domain.describe("The zone's name (its apex)."),
            file: z.string().min(1).describe("Its master file (a relative path is taken from the working directory)."),
            dnssec: z.boolean().default(false).describe("Sign online; the key is made on first load into data_dir/keys."),
            algorithm: z.union([z.literal(13), z.literal(15)]).default(13).describe("13 = ECDSA P-256/SHA-256, 15 = Ed25519."),
            signature_validity_days: z.number().int().min(1).max(365).default(14)
              .describe("Signature validity, days; signatures are refreshed when half of it has passed."),
            transfer_acl: z.array(cidr).default(["127.0.0.0/8", "::1/128"])
              .describe("Who may AXFR the zone, as address prefixes; REFUSED for everyone else (RFC 5936 section 6: off by default; here loopback only)."),
          })
          .strict(),
      )
      .default([])
      .describe("Authoritative zones from RFC 1035 master files, loaded and signed in the heavy lane. A file that does not load keeps the zone's previous version serving; names of a zone not loaded yet get SERVFAIL, never an upstream's answer."),
    hosts: z.array(z.string().min(1)).default([])
      .describe("/etc/hosts-format files: their names answer A/AAAA, their addresses PTR. Re-read when they change (`jobs.watch_interval_ms`)."),
    jobs: z
      .object({
        max_queue: z.number().int().min(1).max(10_000).default(64).describe("Queued jobs beyond this are refused (and counted)."),
        job_timeout_ms: z.number().int().min(1000).max(3_600_000).default(300_000)
          .describe("A job running longer fails and its worker is replaced."),
        watch_interval_ms: z.number().int().min(0).max(3_600_000).default(5000)
          .describe("How often zone and hosts files are checked for changes (mtime) and re-read; 0 = never."),
        idle_ms: z.number().int().min(100).max(86_400_000).default(30_000)
          .describe("The heavy lane's worker is started by the first job and let go after this long without one; the next job starts a new one."),
      })
      .strict()
      .prefault({})
      .describe("The heavy lane: zone loading, signing and AXFR building in a Bun worker, off the query thread."),
    clients: z
      .object({
        enabled: z.boolean().default(true).describe("Track clients (and, with `discovery.enabled`, name new ones)."),
        high_queue: z.number().int().min(16).max(1_000_000).default(10_000)
          .describe("Bounded queue for updates of known clients; when it is full, an update is dropped and counted."),
        low_queue: z.number().int().min(16).max(1_000_000).default(10_000)
          .describe("Bounded queue for updates of clients still being discovered; when it is full, an update is dropped and counted."),
        low_share: z.number().min(0.05).max(0.5).default(0.25)
          .describe("When both queues wait, at least this share of the work goes to the low one."),
        batch_size: z.number().int().min(1).max(100_000).default(500)
          .describe("Store writes are batched: by size (this many rows), or at least every `batch_ms`."),
        batch_ms: z.number().int().min(10).max(60_000).default(1000)
          .describe("Store writes are batched: by `batch_size`, or at least this often, from the store's own worker (bun:sqlite, WAL)."),
        max_clients: z.number().int().min(100).max(10_000_000).default(100_000)
          .describe("Clients remembered in memory for new-client detection."),
        rediscover_after_ms: z.number().int().min(1000).max(365 * 86_400_000).default(86_400_000)
          .describe("A known client seen this long after its last discovery is named again, ahead of new clients."),
        store_idle_ms: z.number().int().min(100).max(86_400_000).default(30_000)
          .describe("The client store (its worker) is opened by the first batch or API read and closed after this long without a request."),
      })
      .strict()
      .prefault({})
      .describe("Client tracking (seed 004): every answered query updates its client's row, off the query path (which only posts to a bounded queue)."),
    discovery: z
      .object({
        enabled: z.boolean().default(true).describe("Name new clients."),
        workers: z.number().int().min(1).max(64).default(4).describe("Bun workers in the discovery pool, at most: they start as queued work needs them."),
        idle_ms: z.number().int().min(100).max(86_400_000).default(30_000)
          .describe("A discovery worker with no job for this long is let go."),
        queue_size: z.number().int().min(1).max(1_000_000).default(1000)
          .describe("Jobs beyond this are dropped and counted; jobs held back (token bucket, breaker) stay queued."),
        rate: z.number().min(0.1).max(10_000).default(10).describe("Discoveries per second (token bucket)."),
        burst: z.number().int().min(1).max(10_000).default(20).describe("The token bucket's burst."),
        breaker_failures: z.number().int().min(1).max(1000).default(5)
          .describe("Consecutive failures that open the breaker; `breaker_open_ms` later, one trial."),
        breaker_open_ms: z.number().int().min(100).max(3_600_000).default(30_000)
          .describe("How long the open breaker holds discoveries back before one trial."),
        methods: z.array(z.enum(["dhcp", "ptr", "netbios", "mdns"])).default(["dhcp", "ptr", "netbios", "mdns"])
          .describe("Tried in this order until one gives a name."),
        ptr_timeout_ms: z.number().int().min(10).max(30_000).default(1000)
          .describe("PTR lookup, through bunbound's own listener (local data, zones and upstreams apply)."),
        netbios_timeout_ms: z.number().int().min(10).max(30_000).default(1000)
          .describe("RFC 1002 node status request to the client's `netbios_port`."),
        mdns_timeout_ms: z.number().int().min(10).max(30_000).default(1000)
          .describe("RFC 6762 reverse lookup, legacy unicast to the client's `mdns_port`."),
        netbios_port: z.number().int().min(1).max(65_535).default(137).describe("Port of NetBIOS node status requests."),
        mdns_port: z.number().int().min(1).max(65_535).default(5353).describe("Port of mDNS reverse lookups."),
        leases: z.array(z.object({ format: z.enum(["dnsmasq", "isc", "kea"])
          .describe("dnsmasq, isc (dhcpd.leases) or kea (lease CSV)."), file: z.string().min(1).describe("The lease file.") }).strict()).default([]).describe("DHCP lease files for the dhcp method: dnsmasq.leases, ISC dhcpd.leases, Kea lease CSV; e.g. `[{ format = \"dnsmasq\", file = \"/var/lib/misc/dnsmasq.leases\" }]`."),
      })
      .strict()
      .prefault({})
      .describe("Naming new clients on Bun workers, rate-limited and behind a circuit breaker."),
    udp: z
      .object({
        backend: z.enum(["auto", "bun", "dgram", "mmsg"]).default("auto")
          .describe("\"auto\": \"mmsg\" where it runs (Linux, x64/arm64, libc), else \"bun\". \"mmsg\": libc recvmmsg/sendmmsg via bun:ffi, SO_RCVBUF, SO_REUSEPORT: least CPU, no loss on bursts; \"bun\": Bun.udpSocket + sendMany, no SO_RCVBUF, no SO_REUSEPORT; \"dgram\": node:dgram, SO_RCVBUF + SO_REUSEPORT, most CPU."),
        receive_buffer_bytes: z.number().int().min(65_536).max(256 * 1024 * 1024).default(4 * 1024 * 1024)
          .describe("SO_RCVBUF, \"dgram\" and \"mmsg\" backends: room for bursts while the process is busy (capped by net.core.rmem_max)."),
        coalesce_us: z.number().int().min(0).max(500).default(0)
          .describe("\"mmsg\" backend, under load only (a read brought 2+ datagrams): wait this long (plus the kernel's ~50 µs timer slack) before the next read so answers leave in bigger batches — fewer wake-ups per query for at most this much latency (~10% less CPU per query at 50k q/s for ~2-3x the average latency: docs/performance.md). 0 = off; one query at a time never waits."),
      })
      .strict()
      .prefault({})
      .describe("The UDP socket implementation (see src/server/datagram.ts and docs/performance.md). Changes need a restart."),
    rate_limit: z
      .object({
        udp_per_ip: z.number().int().min(0).max(1_000_000).default(0)
          .describe("Answers a second to one address (a burst of one second's worth); 0 = no limit."),
        slip: z.number().int().min(0).max(100).default(2)
          .describe("Every Nth limited answer goes out truncated (TC=1) so a real client retries over TCP; 0 = drop them all."),
      })
      .strict()
      .prefault({})
      .describe("Answers per client address over UDP, against reflection; TCP and clients with a good DNS cookie are exempt."),
    pending: z
      .object({
        max_queries: z.number().int().min(16).max(1_000_000).default(2048)
          .describe("How many may wait at once (each costs about 9 KB while it waits)."),
        when_full: z.enum(["drop_oldest", "servfail"]).default("drop_oldest")
          .describe("When that many wait: \"drop_oldest\" answers the oldest now (stale data, else SERVFAIL) to admit the new one, if it has waited jostle_ms or more, else the new one; \"servfail\" always answers the new one now."),
        jostle_ms: z.number().int().min(0).max(60_000).default(200)
          .describe("\"drop_oldest\": how long the oldest must have waited to be pushed out (Unbound's jostle-timeout)."),
      })
      .strict()
      .prefault({})
      .describe("Misses waiting for upstreams, UDP and TCP together: each holds a small fixed record, not a ring slot. Changes need a restart."),
    ring: z
      .object({
        udp_slots: z.number().int().min(16).max(1_000_000).default(4096)
          .describe("UDP answers being written and sent at once; beyond this queries are dropped and counted."),
        udp_slot_size: z.number().int().min(512).max(65_535).default(4096)
          .describe("Must hold the largest UDP query; answers beyond the client's size are truncated anyway."),
        tcp_slots: z.number().int().min(16).max(100_000).default(512)
          .describe("TCP answers being written at once (and zone transfers); beyond this reading waits."),
        tcp_slot_size: z.number().int().min(514).max(65_537).default(65_537)
          .describe("A full 65535-byte message plus its 2-byte length prefix."),
        strict: z.boolean().default(false).describe("Throw on buffer ownership violations instead of counting them (tests)."),
      })
      .strict()
      .prefault({})
      .describe("The preallocated buffers answers are written in, one slot per request. Changes need a restart."),
  })
  .strict();

export const checkedConfigSchema = configSchema.superRefine((c, ctx) => {
  if (c.http === "off" || c.http_token) return;
  const host = parseHostPort(c.http).host;
  if (!(host === "::1" || host.startsWith("127."))) {
    ctx.addIssue({ code: "custom", path: ["http_token"], message: `required when http (${c.http}) is not on loopback: the API can flush caches and reload zones` });
  }
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
