// The configuration schema: the one place config shape, defaults and limits are written. Types are
// inferred from it. TOML keys are snake_case; every object is strict, so a misspelt key is an error.
import { z } from "zod";
import { parseRecord } from "../zones/records";
import { toWire } from "../wire/name";
import { parseCidr, parseHostPort } from "../net/address";

const hostPort = (defaultPort?: number) =>
  z.string().superRefine((v, ctx) => {
    try {
      parseHostPort(v, defaultPort);
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

const ms = (def: number, min: number, max: number) => z.number().int().min(min).max(max).default(def);

export const configSchema = z
  .object({
    listen: z.array(hostPort()).min(1).default(["127.0.0.1:5300", "[::1]:5300"]),
    /** HTTP API address, or "off". */
    http: z.union([z.literal("off"), hostPort()]).default("127.0.0.1:8053"),
    /** Bearer token for mutating API requests; required when `http` is not on loopback. */
    http_token: z.string().min(16, "must be at least 16 characters").optional(),
    /** Upstream servers; when absent, the nameservers of /etc/resolv.conf. */
    upstreams: z.array(hostPort(53)).optional(),
    records: z.array(record).default([]),
    data_dir: z.string().min(1).default("./data"),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /**
     * Processes answering on the listen ports (SO_REUSEPORT: UDP backend "mmsg", or "dgram"): the first also runs the
     * HTTP API, client tracking and discovery; caches are per process. See src/lifecycle/processes.ts.
     */
    processes: z.number().int().min(1).max(64).default(1),
    /**
     * Nice value of every thread but the query thread (workers, JIT, GC): they give way to it on a shared core.
     * 0 leaves them at the query thread's priority. See src/lifecycle/priority.ts.
     */
    background_nice: z.number().int().min(0).max(19).default(10),
    timeouts: z
      .object({
        /** A client's deadline: by then it has an answer (SERVFAIL at worst). */
        query_ms: ms(2500, 50, 60_000),
        /** One upstream attempt; the next upstream is tried after it. */
        upstream_ms: ms(1000, 10, 30_000),
        /** On SIGTERM, how long in-flight queries get to finish. */
        drain_ms: ms(5000, 0, 120_000),
        tcp_idle_ms: ms(10_000, 1000, 600_000),
        /** A TCP message must arrive whole within this long of its first byte, however slowly it trickles in. */
        tcp_message_ms: ms(5000, 100, 120_000),
      })
      .strict()
      .prefault({}),
    tcp: z
      .object({
        max_connections: z.number().int().min(1).max(100_000).default(1000),
        max_inflight_per_connection: z.number().int().min(1).max(65_535).default(32),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        max_entries: z.number().int().min(1).max(50_000_000).default(200_000),
        max_bytes: z.number().int().min(64 * 1024).max(64 * 1024 ** 3).default(128 * 1024 * 1024),
        /** Clamp for positive TTLs, seconds. */
        min_ttl: z.number().int().min(0).max(86_400).default(0),
        max_ttl: z.number().int().min(1).max(2_147_483_647).default(86_400),
        /** Cap for NXDOMAIN/NODATA (RFC 2308), seconds. */
        negative_max_ttl: z.number().int().min(0).max(86_400).default(3600),
        /** How long an upstream SERVFAIL is kept, seconds; 0 = not cached. */
        servfail_ttl: z.number().int().min(0).max(300).default(5),
        /** RFC 8767: answer expired data when upstreams fail or are slow. */
        serve_stale: z.boolean().default(true),
        /** How long past expiry data may still be served stale, seconds (default one day). */
        stale_max_age: z.number().int().min(0).max(7 * 86_400).default(86_400),
        /** TTL of stale answers, seconds (RFC 8767 recommends 30). */
        stale_answer_ttl: z.number().int().min(1).max(3600).default(30),
        /** With stale data at hand, how long a client waits for upstreams first (RFC 8767 suggests 1.8 s). */
        stale_client_timeout_ms: z.number().int().min(0).max(60_000).default(1800),
        /** Refresh an entry asked for in the last 10% of its TTL. */
        prefetch: z.boolean().default(true),
        /** How often expired entries are removed. */
        sweep_interval_ms: z.number().int().min(100).max(3_600_000).default(10_000),
      })
      .strict()
      .prefault({}),
    upstream: z
      .object({
        /** fastest: lowest smoothed RTT first, with some exploration; round_robin; ordered: as listed. */
        strategy: z.enum(["fastest", "round_robin", "ordered"]).default("fastest"),
        /** 0x20: randomise the qname's letter case toward upstreams and reject answers that do not echo it. */
        randomize_case: z.boolean().default(false),
        breaker_failures: z.number().int().min(1).max(1000).default(5),
        breaker_open_ms: z.number().int().min(100).max(3_600_000).default(30_000),
        breaker_max_open_ms: z.number().int().min(100).max(86_400_000).default(300_000),
        max_cname_chain: z.number().int().min(1).max(64).default(12),
        exploration: z.number().min(0).max(0.5).default(0.05),
      })
      .strict()
      .prefault({}),
    /** Per-domain forwarding: names at or below `zone` go to these upstreams; the longest zone wins. */
    forward: z
      .array(
        z
          .object({
            zone: z.string().superRefine((v, ctx) => {
              try {
                toWire(v);
              } catch (e) {
                ctx.addIssue({ code: "custom", message: (e as Error).message });
              }
            }),
            upstreams: z.array(hostPort(53)).min(1),
          })
          .strict(),
      )
      .default([]),
    /** Authoritative zones from RFC 1035 master files, loaded and signed in the heavy lane. */
    zone: z
      .array(
        z
          .object({
            name: z.string().superRefine((v, ctx) => {
              try {
                toWire(v);
              } catch (e) {
                ctx.addIssue({ code: "custom", message: (e as Error).message });
              }
            }),
            file: z.string().min(1),
            /** Sign online (keys in data_dir/keys). */
            dnssec: z.boolean().default(false),
            /** 13 = ECDSA P-256/SHA-256, 15 = Ed25519. */
            algorithm: z.union([z.literal(13), z.literal(15)]).default(13),
            /** Signature validity, days; signatures are refreshed when half of it has passed. */
            signature_validity_days: z.number().int().min(1).max(365).default(14),
            /** Who may AXFR the zone (RFC 5936 section 6: off by default; here loopback only). */
            transfer_acl: z.array(cidr).default(["127.0.0.0/8", "::1/128"]),
          })
          .strict(),
      )
      .default([]),
    /** /etc/hosts-format files: their names answer A/AAAA, their addresses PTR. */
    hosts: z.array(z.string().min(1)).default([]),
    jobs: z
      .object({
        max_queue: z.number().int().min(1).max(10_000).default(64),
        job_timeout_ms: z.number().int().min(1000).max(3_600_000).default(300_000),
        /** How often zone and hosts files are checked for changes (mtime); 0 = never. */
        watch_interval_ms: z.number().int().min(0).max(3_600_000).default(5000),
      })
      .strict()
      .prefault({}),
    /** Client tracking (seed 004): every answered query updates its client's row, off the query path. */
    clients: z
      .object({
        enabled: z.boolean().default(true),
        /** Bounded queues for updates of known clients (high) and clients still being discovered (low). */
        high_queue: z.number().int().min(16).max(1_000_000).default(10_000),
        low_queue: z.number().int().min(16).max(1_000_000).default(10_000),
        /** When both queues wait, at least this share of the work goes to the low one. */
        low_share: z.number().min(0.05).max(0.5).default(0.25),
        /** Store writes are batched: by size, or at least this often. */
        batch_size: z.number().int().min(1).max(100_000).default(500),
        batch_ms: z.number().int().min(10).max(60_000).default(1000),
        max_clients: z.number().int().min(100).max(10_000_000).default(100_000),
        /** A known client seen this long after its last discovery is named again, ahead of new clients. */
        rediscover_after_ms: z.number().int().min(1000).max(365 * 86_400_000).default(86_400_000),
      })
      .strict()
      .prefault({}),
    /** Naming new clients on Bun workers, rate-limited and behind a circuit breaker. */
    discovery: z
      .object({
        enabled: z.boolean().default(true),
        workers: z.number().int().min(1).max(64).default(4),
        queue_size: z.number().int().min(1).max(1_000_000).default(1000),
        /** Discoveries per second (token bucket) and the burst allowed. */
        rate: z.number().min(0.1).max(10_000).default(10),
        burst: z.number().int().min(1).max(10_000).default(20),
        breaker_failures: z.number().int().min(1).max(1000).default(5),
        breaker_open_ms: z.number().int().min(100).max(3_600_000).default(30_000),
        /** Tried in this order until one gives a name. */
        methods: z.array(z.enum(["dhcp", "ptr", "netbios", "mdns"])).default(["dhcp", "ptr", "netbios", "mdns"]),
        ptr_timeout_ms: z.number().int().min(10).max(30_000).default(1000),
        netbios_timeout_ms: z.number().int().min(10).max(30_000).default(1000),
        mdns_timeout_ms: z.number().int().min(10).max(30_000).default(1000),
        netbios_port: z.number().int().min(1).max(65_535).default(137),
        mdns_port: z.number().int().min(1).max(65_535).default(5353),
        /** DHCP lease files: dnsmasq.leases, ISC dhcpd.leases, Kea lease CSV. */
        leases: z.array(z.object({ format: z.enum(["dnsmasq", "isc", "kea"]), file: z.string().min(1) }).strict()).default([]),
      })
      .strict()
      .prefault({}),
    /** The UDP socket implementation (see src/server/datagram.ts and the README's performance section). */
    udp: z
      .object({
        /** "auto": "mmsg" where it runs (Linux, x64/arm64, libc), else "bun". */
        backend: z.enum(["auto", "bun", "dgram", "mmsg"]).default("auto"),
        /** SO_RCVBUF, "dgram" and "mmsg" backends: room for bursts while the process is busy. */
        receive_buffer_bytes: z.number().int().min(65_536).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
        /**
         * "mmsg" backend, under load only (a read brought 2+ datagrams): wait this long before the next read so
         * answers leave in bigger batches — fewer wake-ups per query for at most this much latency. 0 = off.
         */
        coalesce_us: z.number().int().min(0).max(500).default(0),
      })
      .strict()
      .prefault({}),
    /** Answers per client address over UDP, against reflection; TCP and clients with a good DNS cookie are exempt. */
    rate_limit: z
      .object({
        /** Answers a second to one address (a burst of one second's worth); 0 = no limit. */
        udp_per_ip: z.number().int().min(0).max(1_000_000).default(0),
        /** Every Nth limited answer goes out truncated (TC=1) so a real client retries over TCP; 0 = drop them all. */
        slip: z.number().int().min(0).max(100).default(2),
      })
      .strict()
      .prefault({}),
    /** Misses waiting for upstreams, UDP and TCP together: each holds a small fixed record, not a ring slot. */
    pending: z
      .object({
        /** How many may wait at once (each costs about 9 KB while it waits). */
        max_queries: z.number().int().min(16).max(1_000_000).default(2048),
        /**
         * When that many wait: "drop_oldest" answers the oldest now (stale data, else SERVFAIL) to admit the new
         * one, if it has waited jostle_ms or more, else the new one; "servfail" always answers the new one now.
         */
        when_full: z.enum(["drop_oldest", "servfail"]).default("drop_oldest"),
        /** "drop_oldest": how long the oldest must have waited to be pushed out (Unbound's jostle-timeout). */
        jostle_ms: z.number().int().min(0).max(60_000).default(200),
      })
      .strict()
      .prefault({}),
    ring: z
      .object({
        udp_slots: z.number().int().min(16).max(1_000_000).default(4096),
        /** Must hold the largest UDP query; answers beyond the client's size are truncated anyway. */
        udp_slot_size: z.number().int().min(512).max(65_535).default(4096),
        tcp_slots: z.number().int().min(16).max(100_000).default(512),
        tcp_slot_size: z.number().int().min(514).max(65_537).default(65_537),
        /** Throw on ownership violations instead of counting them (tests). */
        strict: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
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
