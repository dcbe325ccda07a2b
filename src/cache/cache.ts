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
import { nameEqualsAt } from "../wire/name";
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

/**
 * One cached answer. Its bytes live in a single array — the response without OPT, then the lowercased qname,
 * then (offset u16, ttl u32) per TTL field — because every typed array costs ~130 bytes of overhead in JSC,
 * and a million entries of four arrays each came to ~1.1 KB per entry.
 */
export class CacheEntry {
  prev: CacheEntry | null = null; // toward the newest
  next: CacheEntry | null = null; // toward the oldest
  visited = false;
  /** A refresh (prefetch or stale) is under way. */
  refreshing = false;
  constructor(
    readonly hash: number,
    readonly qtype: number,
    readonly qclass: number,
    readonly variant: number, // DO and CD bits
    readonly data: Uint8Array,
    readonly wireLen: number, // the response: data[0, wireLen), ID 0
    readonly nameLen: number, // the qname: data[wireLen, wireLen + nameLen)
    readonly storedAt: number, // ms
    readonly ttl: number, // s: the entry's fresh life
    readonly staleUntil: number, // ms
  ) {}

  get size(): number {
    return this.data.length + 200;
  }

  get expiresAt(): number {
    return this.storedAt + this.ttl * 1000;
  }

  /** Number of TTL fields recorded. */
  get ttlCount(): number {
    return (this.data.length - this.wireLen - this.nameLen) / 6;
  }

  sameName(buf: Uint8Array, off: number, end: number): boolean {
    return nameEqualsAt(buf, off, end, this.data, this.wireLen, this.nameLen);
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
  private readonly map = new Map<number, CacheEntry | CacheEntry[]>();
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
    const slot = this.map.get(keyHash(q.nameHash, q.qtype, q.qclass, variant));
    if (slot === undefined) return undefined;
    // A hash slot holds one entry, or an array of them on the rare collision (saves an array per entry).
    const e = slot instanceof CacheEntry ? (this.matches(slot, buf, q, variant) ? slot : undefined) : slot.find((x) => this.matches(x, buf, q, variant));
    if (!e) return undefined;
    if (now > e.staleUntil) {
      this.remove(e);
      this.counters.expired++;
      return undefined;
    }
    e.visited = true;
    return e;
  }

  private matches(e: CacheEntry, buf: Uint8Array, q: QueryInfo, variant: number): boolean {
    return e.qtype === q.qtype && e.qclass === q.qclass && e.variant === variant && e.sameName(buf, HEADER_LEN, q.qnameEnd);
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
    const d = e.data;
    const wl = e.wireLen;
    if (wl + 11 > buf.length) return -1;
    buf[0] = q.id >> 8;
    buf[1] = q.id & 0xff;
    buf[2] = (d[2]! & 0xfe) | ((q.flags >> 8) & 0x01);
    for (let i = 3; i < HEADER_LEN; i++) buf[i] = d[i]!;
    buf.set(d.subarray(q.qnameEnd, wl), q.qnameEnd);
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    const staleTtl = this.opts.staleAnswerTtl;
    for (let r = wl + e.nameLen; r < d.length; r += 6) {
      const o = (d[r]! << 8) | d[r + 1]!;
      const orig = ((d[r + 2]! << 24) | (d[r + 3]! << 16) | (d[r + 4]! << 8) | d[r + 5]!) >>> 0;
      const t = stale ? staleTtl : Math.max(0, orig - elapsed);
      buf[o] = t >>> 24;
      buf[o + 1] = (t >>> 16) & 0xff;
      buf[o + 2] = (t >>> 8) & 0xff;
      buf[o + 3] = t & 0xff;
    }
    if (!q.edns) return wl;
    const an = (d[6]! << 8) | d[7]!;
    const ns = (d[8]! << 8) | d[9]!;
    const ar = ((d[10]! << 8) | d[11]!) + 1;
    const end = finishResponse(buf, wl, q, buf[3]! & 0xf, an, ns);
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
    const wireLen = resp.length - cut;
    const nameLen = q.qnameEnd - HEADER_LEN;
    const n = scan.ttlOffsets.length;
    const data = new Uint8Array(wireLen + nameLen + n * 6);
    if (cut) {
      data.set(resp.subarray(0, scan.optStart));
      data.set(resp.subarray(scan.optEnd), scan.optStart);
      const ar = ((resp[10]! << 8) | resp[11]!) - 1;
      data[10] = ar >> 8;
      data[11] = ar & 0xff;
    } else data.set(resp);
    data[0] = data[1] = 0;
    for (let i = 0; i < nameLen; i++) {
      const b = query[HEADER_LEN + i]!;
      data[wireLen + i] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    }
    for (let i = 0, r = wireLen + nameLen; i < n; i++, r += 6) {
      const off = scan.ttlOffsets[i]!;
      const at = cut && off > scan.optStart ? off - cut : off;
      const t = scan.ttls[i]!;
      const v = capped ? Math.min(t, ttl) : Math.min(Math.max(t, o.minTtl), o.maxTtl);
      data[r] = at >> 8;
      data[r + 1] = at & 0xff;
      data[r + 2] = v >>> 24;
      data[r + 3] = (v >>> 16) & 0xff;
      data[r + 4] = (v >>> 8) & 0xff;
      data[r + 5] = v & 0xff;
    }
    const now = this.now();
    const variant = variantOf(q);
    const staleFor = scan.rcode === Rcode.SERVFAIL ? 0 : o.staleMaxAge * 1000;
    const e = new CacheEntry(keyHash(q.nameHash, q.qtype, q.qclass, variant), q.qtype, q.qclass, variant, data, wireLen, nameLen, now, ttl, now + ttl * 1000 + staleFor);
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
      if (!name || nameEqualsAt(name, 0, name.length, e.data, e.wireLen, e.nameLen)) {
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
    const slot = this.map.get(e.hash);
    const same = (x: CacheEntry) => x.qtype === e.qtype && x.qclass === e.qclass && x.variant === e.variant && x.sameName(e.data, e.wireLen, e.wireLen + e.nameLen);
    const old = slot === undefined ? undefined : slot instanceof CacheEntry ? (same(slot) ? slot : undefined) : slot.find(same);
    if (old) this.remove(old);
    const now = this.map.get(e.hash);
    if (now === undefined) this.map.set(e.hash, e);
    else if (now instanceof CacheEntry) this.map.set(e.hash, [now, e]);
    else now.push(e);
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
    const slot = this.map.get(e.hash);
    if (slot === e) this.map.delete(e.hash);
    else if (Array.isArray(slot) && slot.includes(e)) {
      const rest = slot.filter((x) => x !== e);
      this.map.set(e.hash, rest.length === 1 ? rest[0]! : rest);
    } else return; // already gone
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
