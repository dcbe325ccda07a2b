// Per-answer figures for /metrics and the dashboard: queries by transport, qtype and rcode, answer latency as
// a histogram, and a bounded ring of recent queries. Recording is a few typed-array stores: no allocation.
import { putName, toText } from "../wire/name";

const QTYPES: Array<[number, string]> = [
  [1, "A"], [28, "AAAA"], [5, "CNAME"], [15, "MX"], [16, "TXT"], [12, "PTR"], [33, "SRV"], [2, "NS"], [6, "SOA"],
  [43, "DS"], [48, "DNSKEY"], [65, "HTTPS"], [64, "SVCB"], [255, "ANY"], [252, "AXFR"],
];
export const QTYPE_LABELS = [...QTYPES.map(([, n]) => n), "other"];
const QTYPE_INDEX = new Uint8Array(65536).fill(QTYPES.length);
QTYPES.forEach(([code], i) => (QTYPE_INDEX[code] = i));
export const RCODE_LABELS = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"];
/** Upper bounds of the latency histogram, seconds (Prometheus `le`). */
export const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** How a query arrived. `const enum`: a number on the query path. */
export const enum Transport {
  UDP = 0,
  TCP = 1,
  /** DNS over TLS (RFC 7858). */
  TLS = 2,
  /** DNS over HTTPS (RFC 8484). */
  HTTPS = 3,
}
export const TRANSPORT_LABELS = ["udp", "tcp", "tls", "https"];

export class QueryStats {
  /** [transport][qtype][rcode] */
  readonly counts = new Float64Array(TRANSPORT_LABELS.length * QTYPE_LABELS.length * RCODE_LABELS.length);
  readonly latency = new Float64Array(LATENCY_BUCKETS.length + 1);
  latencySum = 0;
  total = 0;

  record(transport: Transport, qtype: number, rcode: number, seconds: number): void {
    const r = rcode < 6 ? rcode : 6;
    this.counts[(transport * QTYPE_LABELS.length + QTYPE_INDEX[qtype]!) * RCODE_LABELS.length + r]!++;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    this.latency[b]!++;
    this.latencySum += seconds;
    this.total++;
  }

  /** These figures plus others' (same layout, e.g. from other processes' reports), as a new QueryStats. */
  plus(others: Array<{ counts: ArrayLike<number>; latency: ArrayLike<number>; latencySum: number; total: number }>): QueryStats {
    const out = new QueryStats();
    out.counts.set(this.counts);
    out.latency.set(this.latency);
    out.latencySum = this.latencySum;
    out.total = this.total;
    for (const o of others) {
      for (let i = 0; i < out.counts.length && i < o.counts.length; i++) out.counts[i]! += o.counts[i]!;
      for (let i = 0; i < out.latency.length && i < o.latency.length; i++) out.latency[i]! += o.latency[i]!;
      out.latencySum += o.latencySum;
      out.total += o.total;
    }
    return out;
  }

  /** Non-zero series as (transport, qtype, rcode, count). */
  series(): Array<{ transport: string; qtype: string; rcode: string; value: number }> {
    const out = [];
    for (let t = 0; t < TRANSPORT_LABELS.length; t++)
      for (let q = 0; q < QTYPE_LABELS.length; q++)
        for (let r = 0; r < RCODE_LABELS.length; r++) {
          const v = this.counts[(t * QTYPE_LABELS.length + q) * RCODE_LABELS.length + r]!;
          if (v > 0) out.push({ transport: TRANSPORT_LABELS[t]!, qtype: QTYPE_LABELS[q]!, rcode: RCODE_LABELS[r]!, value: v });
        }
    return out;
  }

  /** Answered queries by transport, all qtypes and rcodes together. */
  byTransport(): Record<string, number> {
    const per = QTYPE_LABELS.length * RCODE_LABELS.length;
    const out: Record<string, number> = {};
    TRANSPORT_LABELS.forEach((label, t) => {
      let n = 0;
      for (let i = t * per; i < (t + 1) * per; i++) n += this.counts[i]!;
      out[label] = n;
    });
    return out;
  }

  /** Latency quantile from the histogram (upper bound of the bucket holding it), seconds. */
  quantile(p: number, from?: Float64Array): number {
    const h = from ?? this.latency;
    const total = h.reduce((a, b) => a + b, 0);
    if (total === 0) return 0;
    let seen = 0;
    for (let b = 0; b < h.length; b++) {
      seen += h[b]!;
      if (seen >= total * p) return LATENCY_BUCKETS[b] ?? LATENCY_BUCKETS.at(-1)! * 2;
    }
    return LATENCY_BUCKETS.at(-1)!;
  }
}

export interface LoggedQuery {
  time: string;
  client: string;
  qname: string;
  qtype: string;
  rcode: string;
  transport: string;
  ms: number;
  /** The answer carried AD: DNSSEC-validated as secure (shown only to clients that asked with DO or AD). */
  ad: boolean;
  /** The RFC 8914 INFO-CODE of a SERVFAIL that gave one (why: a bogus answer, a limit), else null. */
  ede: number | null;
}

const AD = 0x20;
const AD_FLAG = 0x80; // in the transport byte of `meta`
const EDE_OPTION = 15;

/**
 * The INFO-CODE of the EDE option of an error answer as we write them (no records but our OPT, right after the
 * question at `off`), or -1.
 */
function edeOf(buf: Uint8Array, off: number): number {
  if (buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0 || buf[10] !== 0 || buf[11] !== 1) return -1;
  if (buf[off] !== 0 || buf[off + 1] !== 0 || buf[off + 2] !== 41) return -1;
  const end = Math.min(buf.length, off + 11 + ((buf[off + 9]! << 8) | buf[off + 10]!));
  for (let o = off + 11; o + 4 <= end; o += 4 + ((buf[o + 2]! << 8) | buf[o + 3]!)) {
    if (((buf[o]! << 8) | buf[o + 1]!) === EDE_OPTION && o + 6 <= end) return (buf[o + 4]! << 8) | buf[o + 5]!;
  }
  return -1;
}

/** The last `capacity` queries, oldest overwritten first. */
export class QueryLog {
  private readonly ips: string[];
  private readonly times: Float64Array;
  private readonly meta: Uint32Array;
  private readonly ms: Float32Array;
  private readonly names: Uint8Array;
  /** EDE INFO-CODE + 1 of each entry; 0: none. */
  private readonly edes: Uint16Array;
  private next = 0;
  private size = 0;
  private total = 0;
  constructor(readonly capacity: number) {
    this.ips = new Array<string>(capacity).fill("");
    this.times = new Float64Array(capacity);
    this.meta = new Uint32Array(capacity);
    this.ms = new Float32Array(capacity);
    this.names = new Uint8Array(capacity * 256);
    this.edes = new Uint16Array(capacity);
  }

  add(ip: string, time: number, buf: Uint8Array, qnameEnd: number, qtype: number, rcode: number, transport: Transport, ms: number): void {
    const i = this.next;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.total++;
    this.ips[i] = ip;
    this.times[i] = time;
    this.meta[i] = (qtype << 16) | ((rcode & 0xff) << 8) | transport | (buf[3]! & AD ? AD_FLAG : 0);
    this.edes[i] = rcode === 2 ? edeOf(buf, qnameEnd + 4) + 1 : 0;
    this.ms[i] = ms;
    putName(this.names, i * 256, buf, 12, qnameEnd);
  }

  /** Total entries ever added: a cursor for `since`. */
  get written(): number {
    return this.total;
  }

  /** Calls `fn` with the qname (presentation) of each entry added after `cursor` that is still held. */
  since(cursor: number, fn: (qname: string) => void): number {
    const from = Math.max(cursor, this.total - this.size);
    for (let k = from; k < this.total; k++) {
      const i = k % this.capacity;
      fn(toText(this.names, i * 256 + 1, i * 256 + 1 + this.names[i * 256]!));
    }
    return this.total;
  }

  /** Newest first. */
  recent(limit: number): LoggedQuery[] {
    const out: LoggedQuery[] = [];
    for (let k = 0; k < Math.min(limit, this.size); k++) {
      const i = (this.next - 1 - k + this.capacity) % this.capacity;
      const m = this.meta[i]!;
      const qtype = m >>> 16;
      const rcode = (m >> 8) & 0xff;
      out.push({
        time: new Date(this.times[i]!).toISOString(),
        client: this.ips[i]!,
        qname: toText(this.names, i * 256 + 1, i * 256 + 1 + this.names[i * 256]!),
        qtype: QTYPES.find(([c]) => c === qtype)?.[1] ?? `TYPE${qtype}`,
        rcode: RCODE_LABELS[Math.min(rcode, 6)]!,
        transport: TRANSPORT_LABELS[m & 0x7f] ?? "udp",
        ms: Math.round(this.ms[i]! * 1000) / 1000,
        ad: (m & AD_FLAG) !== 0,
        ede: this.edes[i]! > 0 ? this.edes[i]! - 1 : null,
      });
    }
    return out;
  }
}
