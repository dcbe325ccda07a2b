// The packet cache: upstream answers kept as wire bytes plus the offset of every TTL in them. A hit copies
// the bytes into the request's slot, keeps the client's spelling of the question, writes the client's ID and
// each TTL's remaining life: no dns-packet, no allocation.
//
// Eviction is SIEVE (Zhang et al., NSDI '24): a FIFO queue with a "visited" bit and a hand that sweeps from old
// to new, evicting the first unvisited entry. A hit only sets a bit — no list surgery on the hot path, unlike
// LRU — and one-hit wonders (scans of random names, a common DNS pattern) are evicted before entries that were
// asked for again, which is what keeps hot entries in. Expired entries are removed by one periodic sweep
// (a task-manager task), never by a timer per entry.
import { HEADER_LEN, Rcode } from "../wire/constants";
import { nameEquals } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { finishResponse } from "../wire/response";
import type { Scan } from "../wire/scan";
import type { CacheCounters } from "../metrics/counters";

export interface CacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Clamp for positive TTLs, seconds. */
  minTtl: number;
  maxTtl: number;
  /** Cap for negative answers (RFC 2308), seconds. */
  negativeMaxTtl: number;
  /** How long a SERVFAIL is kept, seconds (0 = not cached). */
  servfailTtl: number;
  /** How long past expiry an entry may still be served stale (RFC 8767), seconds (0 = never). */
  staleMaxAge: number;
  /** TTL written into stale answers, seconds (RFC 8767 recommends 30). */
  staleAnswerTtl: number;
}

export class CacheEntry {
  prev: CacheEntry | null = null; // toward the newest
  next: CacheEntry | null = null; // toward the oldest
  visited = false;
  /** A refresh (prefetch or stale) is under way. */
  refreshing = false;
  readonly size: number;
  constructor(
    readonly hash: number,
    readonly name: Uint8Array, // lowercased wire qname
    readonly qtype: number,
    readonly qclass: number,
    readonly variant: number, // DO and CD bits
    readonly wire: Uint8Array, // response without OPT, ID 0
    readonly ttlOffsets: Uint16Array,
    readonly ttls: Uint32Array,
    readonly storedAt: number, // ms
    readonly ttl: number, // s: the entry's fresh life
    readonly staleUntil: number, // ms
  ) {
    this.size = wire.length + name.length + ttlOffsets.length * 6 + 160;
  }

  get expiresAt(): number {
    return this.storedAt + this.ttl * 1000;
  }
}

/** The cache-key variant bits of a query: answers differ with DO (RRSIGs) and CD (unvalidated data). */
export function variantOf(q: QueryInfo): number {
  return (q.dnssecOk ? 1 : 0) | (q.flags & 0x0010 ? 2 : 0);
}

function keyHash(nameHash: number, qtype: number, qclass: number, variant: number): number {
  return Math.imul(nameHash ^ ((qtype << 8) ^ (qclass << 3) ^ variant), 0x9e3779b1) >>> 0;
}

export class PacketCache {
  private readonly map = new Map<number, CacheEntry[]>();
  private head: CacheEntry | null = null;
  private tail: CacheEntry | null = null;
  private hand: CacheEntry | null = null;
  private count = 0;
  private bytes = 0;

  constructor(
    public opts: CacheOptions,
    private readonly counters: CacheCounters,
    readonly now: () => number = Date.now,
  ) {}

  get entries(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** The entry for the query in buf (fresh or stale-but-servable), or undefined. Marks it visited. */
  lookup(buf: Uint8Array, q: QueryInfo, now = this.now()): CacheEntry | undefined {
    const variant = variantOf(q);
    const bucket = this.map.get(keyHash(q.nameHash, q.qtype, q.qclass, variant));
    if (!bucket) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (e.qtype !== q.qtype || e.qclass !== q.qclass || e.variant !== variant) continue;
      if (!nameEquals(buf, HEADER_LEN, q.qnameEnd, e.name)) continue;
      if (now > e.staleUntil) {
        this.remove(e);
        this.counters.expired++;
        return undefined;
      }
      e.visited = true;
      return e;
    }
    return undefined;
  }

  isFresh(e: CacheEntry, now = this.now()): boolean {
    return now < e.expiresAt;
  }

  /** Seconds of fresh life left (0 when expired). */
  remaining(e: CacheEntry, now = this.now()): number {
    return Math.max(0, e.ttl - Math.floor((now - e.storedAt) / 1000));
  }

  /**
   * Writes the cached answer into the request's slot: header and everything after the question from the
   * entry, the question bytes (client's spelling) left in place, client's ID and RD, TTLs counted down (or
   * set to the stale TTL), OPT appended for EDNS clients. Returns the length, or -1 if it does not fit.
   * `now` is passed in so the hot path reads the clock once per query.
   */
  writeAnswer(buf: Uint8Array, q: QueryInfo, e: CacheEntry, stale: boolean, now = this.now()): number {
    const w = e.wire;
    if (w.length + 11 > buf.length) return -1;
    buf[0] = q.id >> 8;
    buf[1] = q.id & 0xff;
    buf[2] = (w[2]! & 0xfe) | ((q.flags >> 8) & 0x01);
    for (let i = 3; i < HEADER_LEN; i++) buf[i] = w[i]!;
    buf.set(w.subarray(q.qnameEnd), q.qnameEnd);
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    const staleTtl = this.opts.staleAnswerTtl;
    for (let i = 0; i < e.ttlOffsets.length; i++) {
      const t = stale ? staleTtl : Math.max(0, e.ttls[i]! - elapsed);
      const o = e.ttlOffsets[i]!;
      buf[o] = t >>> 24;
      buf[o + 1] = (t >>> 16) & 0xff;
      buf[o + 2] = (t >>> 8) & 0xff;
      buf[o + 3] = t & 0xff;
    }
    if (!q.edns) return w.length;
    const an = (w[6]! << 8) | w[7]!;
    const ns = (w[8]! << 8) | w[9]!;
    const ar = ((w[10]! << 8) | w[11]!) + 1;
    const end = finishResponse(buf, w.length, q, buf[3]! & 0xf, an, ns);
    buf[10] = ar >> 8;
    buf[11] = ar & 0xff;
    return end;
  }

  /**
   * Stores an upstream response to the query `q` (whose question is in `query`) if RFC 2308 / policy allows.
   * Returns the entry, or undefined when the response is not cacheable.
   */
  insert(query: Uint8Array, q: QueryInfo, resp: Uint8Array, scan: Scan): CacheEntry | undefined {
    const o = this.opts;
    if (resp[2]! & 0x02 || scan.cnameChain < 0) return this.skip(); // TC, or a looping chain
    let ttl: number;
    let capped = false; // negative and SERVFAIL entries: no RR may outlive the entry
    if (scan.rcode === Rcode.NOERROR && scan.answers > 0) {
      ttl = Math.min(Math.max(scan.minTtl, o.minTtl), o.maxTtl);
    } else if (scan.rcode === Rcode.NOERROR || scan.rcode === Rcode.NXDOMAIN) {
      if (scan.negativeTtl < 0) return this.skip(); // no SOA: RFC 2308 section 5, do not cache
      ttl = Math.min(scan.negativeTtl, o.negativeMaxTtl);
      capped = true;
    } else if (scan.rcode === Rcode.SERVFAIL && o.servfailTtl > 0) {
      ttl = o.servfailTtl;
      capped = true;
    } else return this.skip();
    if (ttl <= 0) return this.skip();

    // Copy without the OPT RR (its size and flags are per client: we write our own on every hit).
    const cut = scan.optStart >= 0 ? scan.optEnd - scan.optStart : 0;
    const wire = new Uint8Array(resp.length - cut);
    if (cut) {
      wire.set(resp.subarray(0, scan.optStart));
      wire.set(resp.subarray(scan.optEnd), scan.optStart);
      const ar = ((resp[10]! << 8) | resp[11]!) - 1;
      wire[10] = ar >> 8;
      wire[11] = ar & 0xff;
    } else wire.set(resp);
    wire[0] = wire[1] = 0;
    const n = scan.ttlOffsets.length;
    const offsets = new Uint16Array(n);
    const ttls = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const off = scan.ttlOffsets[i]!;
      offsets[i] = cut && off > scan.optStart ? off - cut : off;
      const t = scan.ttls[i]!;
      ttls[i] = capped ? Math.min(t, ttl) : Math.min(Math.max(t, o.minTtl), o.maxTtl);
    }
    const now = this.now();
    const name = query.slice(HEADER_LEN, q.qnameEnd);
    for (let i = 0; i < name.length; i++) if (name[i]! >= 0x41 && name[i]! <= 0x5a) name[i] = name[i]! | 0x20;
    const variant = variantOf(q);
    const staleFor = scan.rcode === Rcode.SERVFAIL ? 0 : o.staleMaxAge * 1000;
    const e = new CacheEntry(
      keyHash(q.nameHash, q.qtype, q.qclass, variant), name, q.qtype, q.qclass, variant, wire, offsets, ttls,
      now, ttl, now + ttl * 1000 + staleFor,
    );
    if (e.size > o.maxBytes) return this.skip();
    this.replace(e);
    this.counters.inserts++;
    while (this.count > o.maxEntries || this.bytes > o.maxBytes) this.evictOne();
    return e;
  }

  /** Removes entries past their stale window; returns how many. Run by the sweep task. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (let e = this.head; e; ) {
      const next = e.next;
      if (now > e.staleUntil) {
        this.remove(e);
        removed++;
      }
      e = next;
    }
    this.counters.expired += removed;
    return removed;
  }

  /** Drops everything, or every entry for one name (lowercased wire). */
  flush(name?: Uint8Array): number {
    let removed = 0;
    for (let e = this.head; e; ) {
      const next = e.next;
      if (!name || nameEquals(e.name, 0, e.name.length, name)) {
        this.remove(e);
        removed++;
      }
      e = next;
    }
    return removed;
  }

  private skip(): undefined {
    this.counters.uncacheable++;
    return undefined;
  }

  private replace(e: CacheEntry): void {
    const bucket = this.map.get(e.hash);
    const old = bucket?.find(
      (x) => x.qtype === e.qtype && x.qclass === e.qclass && x.variant === e.variant && nameEquals(x.name, 0, x.name.length, e.name),
    );
    if (old) this.remove(old);
    const b = this.map.get(e.hash);
    if (b) b.push(e);
    else this.map.set(e.hash, [e]);
    e.next = this.head;
    if (this.head) this.head.prev = e;
    this.head = e;
    if (!this.tail) this.tail = e;
    this.count++;
    this.bytes += e.size;
  }

  private evictOne(): void {
    let o = this.hand ?? this.tail;
    if (!o) return;
    while (o.visited) {
      o.visited = false;
      o = o.prev ?? this.tail!;
    }
    this.hand = o.prev;
    this.remove(o);
    this.counters.evictions++;
  }

  private remove(e: CacheEntry): void {
    const bucket = this.map.get(e.hash);
    const i = bucket ? bucket.indexOf(e) : -1;
    if (i < 0) return; // already gone
    bucket!.splice(i, 1);
    if (bucket!.length === 0) this.map.delete(e.hash);
    if (this.hand === e) this.hand = e.prev;
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
    this.count--;
    this.bytes -= e.size;
  }
}
