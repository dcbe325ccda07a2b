// The configuration's sections, as components take them: each component reads its own section's inferred type,
// so a setting is written once, in the schema.
import type { Config } from "./schema";

export type { Config };
export type CacheConfig = Config["cache"];
export type TimeoutsConfig = Config["timeouts"];
export type TcpConfig = Config["tcp"];
export type UpstreamConfig = Config["upstream"];
export type PendingConfig = Config["pending"];
export type RateLimitConfig = Config["rate_limit"];
export type ForwardConfig = Config["forward"][number];
export type StubConfig = Config["stub"][number];
export type RecursionConfig = Config["recursion"];
export type DnssecConfig = Config["dnssec"];
export type JobsConfig = Config["jobs"];
export type ClientsConfig = Config["clients"];
export type DiscoveryConfig = Config["discovery"];
export type UdpConfig = Config["udp"];
export type RingConfig = Config["ring"];
export type TlsConfig = Config["tls"];
export type DohConfig = Config["doh"];
