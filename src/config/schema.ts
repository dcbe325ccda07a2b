// The configuration schema: the one place config shape, defaults and limits are written. Types are
// inferred from it. TOML keys are snake_case; every object is strict, so a misspelt key is an error.
import { z } from "zod";
import { parseRecord } from "../zones/records";
import { parseHostPort } from "./address";

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

const ms = (def: number, min: number, max: number) => z.number().int().min(min).max(max).default(def);

export const configSchema = z
  .object({
    listen: z.array(hostPort()).min(1).default(["127.0.0.1:5300", "[::1]:5300"]),
    /** HTTP API address, or "off". */
    http: z.union([z.literal("off"), hostPort()]).default("127.0.0.1:8053"),
    /** Upstream servers; when absent, the nameservers of /etc/resolv.conf. */
    upstreams: z.array(hostPort(53)).optional(),
    records: z.array(record).default([]),
    data_dir: z.string().min(1).default("./data"),
    log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    timeouts: z
      .object({
        /** A client's deadline: by then it has an answer (SERVFAIL at worst). */
        query_ms: ms(2500, 50, 60_000),
        /** One upstream attempt; the next upstream is tried after it. */
        upstream_ms: ms(1000, 10, 30_000),
        /** On SIGTERM, how long in-flight queries get to finish. */
        drain_ms: ms(5000, 0, 120_000),
        tcp_idle_ms: ms(10_000, 1000, 600_000),
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

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
