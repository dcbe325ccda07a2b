// The packet cache: upstream answers kept as wire bytes plus the offset of every TTL in them. A hit copies
// the bytes into the request's slot, keeps the client's spelling of the question, writes the client's ID and
// each TTL's remaining life: no dns-packet, no allocation.
//
// Layout (struct of arrays, no object per entry): an entry is an index. Its fields live in typed arrays, its
// bytes in a fixed 128-byte slot of one shared byte array (most answers fit; larger ones get an array of their
// own), and the hash table is a bucket array with chains through `chain`. An entry costs a fraction of what an
// object with typed arrays of its own would (a JS typed array carries a sizeable overhead of its own), and the
// garbage collector has a handful of big arrays to look at instead of millions of objects.
// An entry's bytes: the response without OPT (ID 0), then the lowercased qname, then (offset u16, ttl u32) per
// TTL field.
//
// Eviction is SIEVE (Zhang et al., NSDI '24): a FIFO queue with a "visited" bit and a hand that sweeps from old
// to new, evicting the first unvisited entry. A hit only sets a bit — no list surgery on the hot path, unlike
// LRU — and one-hit wonders (scans of random names, a common DNS pattern) are evicted before entries that were
// asked for again, which is what keeps hot entries in. Expired entries are removed by one periodic sweep
// (a task-manager task), never by a timer per entry.
//
// Indexes are reused after removal: code that keeps one across an await checks it with generation() first.
import { Flag, HEADER_LEN, Rcode } from "../wire/constants";
import { copyBytes, lower, nameEqualsAt } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { finishResponse, optLen } from "../wire/response";
import { rcodeOf } from "../wire/message";
import { copyWithoutOpt, optBytes, type Scan } from "../wire/scan";
import type { CacheCounters } from "../metrics/counters";
import type { CacheConfig } from "../config/types";
import type { TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import { relayedByte2, relayedByte3 } from "../wire/relay";

/** Bytes of an entry kept inline; larger entries get an array of their own. */
export const SLOT = 128;
/** What the typed-array fields, the bucket and the chain cost per entry, counted against max_bytes. */
const META = 64;
/** What a separate byte array costs beyond its contents (JS object + allocation). */
const LARGE_OVERHEAD = 160;
const INITIAL_CAPACITY = 1024;

const VISITED = 1;
const REFRESHING = 2;
const LARGE = 4;
const SERVFAIL = 8;
/** DNSSEC-validated as secure: hits carry AD for the clients that want it. */
const SECURE = 16;

/** Whether the answer to `q` may carry AD: the client set DO or AD (RFC 6840 5.7). */
export function wantsAd(q: QueryInfo): boolean {
  return q.dnssecOk || (q.flags & Flag.AD) !== 0;
}

/** `next` with `prev`'s contents at its start. */
function grown<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(prev: T, next: T): T {
  next.set(prev as never);
  return next;
}

/** No entry. */
export const NONE = -1;

/** The cache-key variant bits of a query: answers differ with DO (RRSIGs) and CD (unvalidated data). */
export function variantOf(q: QueryInfo): number {
  return (q.dnssecOk ? 1 : 0) | (q.flags & 0x0010 ? 2 : 0);
}

function keyHash(nameHash: number, qtype: number, qclass: number, variant: number): number {
  return Math.imul(nameHash ^ ((qtype << 8) ^ (qclass << 3) ^ variant), 0x9e3779b1) >>> 0;
}

export class PacketCache {
  /** The Extended DNS Error of SERVFAIL entries that have one (a bogus answer's reason), by entry. */
  private readonly edes = new Map<number, { code: number; text: string }>();
  private capacity = 0;
  // Per-entry fields, indexed by entry.
  private hash = new Uint32Array(0);
  private chain = new Int32Array(0); // next entry in the same bucket
  private newer = new Int32Array(0); // FIFO toward the newest
  private older = new Int32Array(0); // FIFO toward the oldest
  private storedAt = new Float64Array(0); // ms
  private staleUntilMs = new Float64Array(0);
  private ttlS = new Uint32Array(0); // the entry's fresh life, s
  private qtype = new Uint16Array(0);
  private qclass = new Uint16Array(0);
  private wireLen = new Uint16Array(0); // the response: bytes [0, wireLen), ID 0
  private nameLen = new Uint8Array(0); // the qname: bytes [wireLen, wireLen + nameLen)
  private dataLen = new Uint32Array(0); // all of it, TTL records included
  private variant = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private gen = new Uint32Array(0);
  private slots = new Uint8Array(0);
  private large: (Uint8Array | undefined)[] = [];
  private free = new Int32Array(0); // stack of unused indexes
  private freeTop = 0;
  private buckets = new Int32Array(0);
  private mask = 0;

  private head = NONE; // newest
  private tail = NONE; // oldest
  private hand = NONE;
  private count = 0;
  private bytes = 0;

  /** @param settings the cache section of the running configuration (read on every use: a reload swaps it). */
  constructor(
    private readonly settings: () => CacheConfig,
    private readonly counters: CacheCounters,
    readonly now: () => number = Date.now,
  ) {
    this.grow(Math.min(INITIAL_CAPACITY, settings().max_entries));
  }

  get entries(): number {
    return this.count;
  }

  /** Bytes counted against max_bytes: slots or own arrays, plus the per-entry fields. */
  get sizeBytes(): number {
    return this.bytes;
  }

  /** The entry for the query in buf (fresh or stale-but-servable), or NONE. Marks it visited. */
  lookup(buf: Uint8Array, q: QueryInfo, now = this.now()): number {
    const variant = variantOf(q);
    const i = this.find(keyHash(q.nameHash, q.qtype, q.qclass, variant), q.qtype, q.qclass, variant, buf, HEADER_LEN, q.qnameEnd);
    if (i === NONE) return NONE;
    if (now > this.staleUntilMs[i]!) {
      this.remove(i);
      this.counters.expired++;
      return NONE;
    }
    this.flags[i]! |= VISITED;
    return i;
  }

  private nameAt(i: number, buf: Uint8Array, off: number, end: number): boolean {
    const big = this.flags[i]! & LARGE;
    return nameEqualsAt(buf, off, end, big ? this.large[i]! : this.slots, (big ? 0 : i * SLOT) + this.wireLen[i]!, this.nameLen[i]!);
  }

  /** When the entry's fresh life ends, ms. */
  expiresAt(i: number): number {
    return this.storedAt[i]! + this.ttlS[i]! * 1000;
  }

  isFresh(i: number, now = this.now()): boolean {
    return now < this.expiresAt(i);
  }

  /** The entry's fresh life, s. */
  ttl(i: number): number {
    return this.ttlS[i]!;
  }

  /** Seconds of fresh life left (0 when expired). */
  remaining(i: number, now = this.now()): number {
    return Math.max(0, this.ttlS[i]! - Math.floor((now - this.storedAt[i]!) / 1000));
  }

  /** Changes whenever index i is removed or reused: an index kept across an await is valid while this matches. */
  generation(i: number): number {
    return this.gen[i]!;
  }

  /** Marks the entry as being refreshed (prefetch or stale); false if it already is. */
  startRefresh(i: number): boolean {
    if (this.flags[i]! & REFRESHING) return false;
    this.flags[i]! |= REFRESHING;
    return true;
  }

  isRefreshing(i: number): boolean {
    return (this.flags[i]! & REFRESHING) !== 0;
  }

  /** Ends a refresh begun by startRefresh, unless the index has been reused since (generation g). */
  endRefresh(i: number, g: number): void {
    if (this.gen[i] === g) this.flags[i]! &= ~REFRESHING;
  }

  /**
   * Writes the cached answer into the request's slot: header and everything after the question from the
   * entry, the question bytes (client's spelling) left in place, client's ID and RD, TTLs counted down (or
   * set to the stale TTL), OPT appended for EDNS clients. Returns the length, or -1 if it does not fit.
   * `now` is passed in so the hot path reads the clock once per query.
   */
  writeAnswer(buf: Uint8Array, q: QueryInfo, i: number, stale: boolean, now = this.now()): number {
    const big = this.flags[i]! & LARGE;
    const d = big ? this.large[i]! : this.slots;
    const base = big ? 0 : i * SLOT;
    const wl = this.wireLen[i]!;
    if (wl + optLen(q) > buf.length) return -1;
    buf[0] = q.id >> 8;
    buf[1] = q.id & 0xff;
    buf[2] = (d[base + 2]! & 0xfe) | ((q.flags >> 8) & 0x01);
    for (let k = 3; k < HEADER_LEN; k++) buf[k] = d[base + k]!;
    if (this.flags[i]! & SECURE && wantsAd(q)) buf[3]! |= Flag.AD;
    copyBytes(buf, q.qnameEnd, d, base + q.qnameEnd, wl - q.qnameEnd);
    const elapsed = Math.floor((now - this.storedAt[i]!) / 1000);
    const staleTtl = stale ? this.settings().stale_answer_ttl : 0;
    const end = base + this.dataLen[i]!;
    for (let r = base + wl + this.nameLen[i]!; r < end; r += 6) {
      const o = (d[r]! << 8) | d[r + 1]!;
      const orig = ((d[r + 2]! << 24) | (d[r + 3]! << 16) | (d[r + 4]! << 8) | d[r + 5]!) >>> 0;
      const t = stale ? staleTtl : Math.max(0, orig - elapsed);
      buf[o] = t >>> 24;
      buf[o + 1] = (t >>> 16) & 0xff;
      buf[o + 2] = (t >>> 8) & 0xff;
      buf[o + 3] = t & 0xff;
    }
    if (!q.edns) return wl;
    const an = (d[base + 6]! << 8) | d[base + 7]!;
    const ns = (d[base + 8]! << 8) | d[base + 9]!;
    const ar = ((d[base + 10]! << 8) | d[base + 11]!) + 1;
    const n = finishResponse(buf, wl, q, rcodeOf(buf), an, ns, this.flags[i]! & SERVFAIL ? this.edes.get(i) : undefined);
    buf[10] = ar >> 8;
    buf[11] = ar & 0xff;
    return n;
  }

  /**
   * Stores an upstream response to the query `q` (whose question is in `query`) if RFC 2308 / policy allows.
   * Returns the entry, or NONE when the response is not cacheable. A SERVFAIL does not replace an answer that
   * can still be served stale (RFC 8767: stale data beats a failure).
   */
  /**
   * How long an answer is kept (seconds; 0: not cacheable) and whether its authority and additional records are
   * capped to that: positive answers clamped to min_ttl..max_ttl, NXDOMAIN/NODATA to negative_max_ttl (RFC 2308:
   * and never without an SOA), SERVFAIL to servfail_ttl.
   */
  private policy(scan: Scan): { ttl: number; capped: boolean } {
    const o = this.settings();
    // Negative and SERVFAIL entries: no RR of the authority and additional sections (the SOA) may outlive the
    // entry; the answer section's (a CNAME chain before the NXDOMAIN) keep their own TTLs, as Unbound shows them.
    if (scan.rcode === Rcode.NOERROR && scan.answers > 0) return { ttl: Math.min(Math.max(scan.minTtl, o.min_ttl), o.max_ttl), capped: false };
    if (scan.rcode === Rcode.NOERROR || scan.rcode === Rcode.NXDOMAIN) {
      return scan.negativeTtl < 0 ? { ttl: 0, capped: true } : { ttl: Math.min(scan.negativeTtl, o.negative_max_ttl), capped: true };
    }
    if (scan.rcode === Rcode.SERVFAIL && o.servfail_ttl > 0) return { ttl: o.servfail_ttl, capped: true };
    return { ttl: 0, capped: false };
  }

  /** The TTL record k of an answer gets under `policy`: what an entry keeps, and what a fresh answer is relayed with. */
  private recordTtl(scan: Scan, k: number, p: { ttl: number; capped: boolean }): number {
    const o = this.settings();
    const t = scan.ttls[k]!;
    return p.capped && k >= scan.answers ? Math.min(t, p.ttl) : Math.min(Math.max(t, o.min_ttl), o.max_ttl);
  }

  /**
   * Rewrites the TTLs of an answer relayed as it came (its records copied to `buf` at their offsets, less `cut`
   * bytes after the OPT) to what the cache keeps, so the client that caused the fetch is told what later ones are.
   */
  clampRelayed(buf: Uint8Array, scan: Scan, cut: number): void {
    const p = this.policy(scan);
    if (p.ttl <= 0) return; // not something the cache keeps: relayed as it came
    for (let k = 0; k < scan.ttlOffsets.length; k++) {
      const off = scan.ttlOffsets[k]!;
      const at = cut && off > scan.optStart ? off - cut : off;
      const v = this.recordTtl(scan, k, p);
      buf[at] = v >>> 24;
      buf[at + 1] = (v >>> 16) & 0xff;
      buf[at + 2] = (v >>> 8) & 0xff;
      buf[at + 3] = v & 0xff;
    }
  }

  insert(query: Uint8Array, q: QueryInfo, resp: Uint8Array, scan: Scan, secure = false, ede?: { code: number; text: string }): number {
    const o = this.settings();
    if (resp[2]! & 0x02 || scan.cnameChain < 0) return this.skip(); // TC, or a looping chain
    const p = this.policy(scan);
    const { ttl } = p;
    if (ttl <= 0) return this.skip();

    // Copied without the OPT RR (its size and flags are per client: we write our own on every hit).
    const cut = optBytes(scan);
    const wireLen = resp.length - cut;
    const nameLen = q.qnameEnd - HEADER_LEN;
    const n = scan.ttlOffsets.length;
    const len = wireLen + nameLen + n * 6;
    const size = len <= SLOT ? SLOT + META : len + META + LARGE_OVERHEAD;
    if (size > o.max_bytes) return this.skip();

    const now = this.now();
    const variant = variantOf(q);
    const h = keyHash(q.nameHash, q.qtype, q.qclass, variant);
    const old = this.find(h, q.qtype, q.qclass, variant, query, HEADER_LEN, q.qnameEnd);
    if (old !== NONE) {
      if (scan.rcode === Rcode.SERVFAIL && !(this.flags[old]! & SERVFAIL) && now <= this.staleUntilMs[old]!) return this.skip();
      this.remove(old);
    }
    while (this.count > 0 && (this.count >= o.max_entries || this.bytes + size > o.max_bytes)) this.evictOne();
    if (this.freeTop === 0) this.grow(Math.min(Math.max(o.max_entries, this.count + 1), this.capacity * 2));
    const i = this.free[--this.freeTop]!;

    let d = this.slots;
    let base = i * SLOT;
    let f = 0;
    if (len > SLOT) {
      d = new Uint8Array(len);
      base = 0;
      f = LARGE;
      this.large[i] = d;
    }
    copyWithoutOpt(d, base, resp, 0, scan);
    if (cut) {
      const ar = ((resp[10]! << 8) | resp[11]!) - 1;
      d[base + 10] = ar >> 8;
      d[base + 11] = ar & 0xff;
    }
    d[base] = d[base + 1] = 0;
    // Kept as we relay it, so a hit only puts in the client's ID and RD.
    d[base + 2] = relayedByte2(resp[2]!);
    d[base + 3] = relayedByte3(resp[3]!, q.flags);
    for (let k = 0; k < nameLen; k++) {
      const b = query[HEADER_LEN + k]!;
      d[base + wireLen + k] = lower(b);
    }
    for (let k = 0, r = base + wireLen + nameLen; k < n; k++, r += 6) {
      const off = scan.ttlOffsets[k]!;
      const at = cut && off > scan.optStart ? off - cut : off;
      const v = this.recordTtl(scan, k, p);
      d[r] = at >> 8;
      d[r + 1] = at & 0xff;
      d[r + 2] = v >>> 24;
      d[r + 3] = (v >>> 16) & 0xff;
      d[r + 4] = (v >>> 8) & 0xff;
      d[r + 5] = v & 0xff;
    }
    // RFC 8767: how long past its TTL an entry may still be served stale (never a SERVFAIL).
    const staleFor = scan.rcode === Rcode.SERVFAIL || !o.serve_stale ? 0 : o.stale_max_age * 1000;
    this.hash[i] = h;
    this.qtype[i] = q.qtype;
    this.qclass[i] = q.qclass;
    this.variant[i] = variant;
    this.wireLen[i] = wireLen;
    this.nameLen[i] = nameLen;
    this.dataLen[i] = len;
    this.storedAt[i] = now;
    this.ttlS[i] = ttl;
    this.staleUntilMs[i] = now + ttl * 1000 + staleFor;
    this.flags[i] = f | (scan.rcode === Rcode.SERVFAIL ? SERVFAIL : 0) | (secure ? SECURE : 0);
    if (ede && scan.rcode === Rcode.SERVFAIL) this.edes.set(i, ede);
    this.link(i, size);
    this.counters.inserts++;
    return i;
  }

  private find(h: number, qtype: number, qclass: number, variant: number, name: Uint8Array, off: number, end: number): number {
    for (let i = this.buckets[h & this.mask]!; i !== NONE; i = this.chain[i]!) {
      if (this.hash[i] === h && this.qtype[i] === qtype && this.qclass[i] === qclass && this.variant[i] === variant && this.nameAt(i, name, off, end)) return i;
    }
    return NONE;
  }

  /** Registers the sweep (cache.sweep_interval_ms, read at start): one task for every entry, no timer per entry. */
  start(tasks: Pick<TaskManager, "every">): void {
    tasks.every("cache-sweep", "cache", this.settings().sweep_interval_ms, () => {
      const removed = this.sweep();
      if (removed) log.debug("cache sweep", { removed, entries: this.entries });
    });
  }

  /** Removes entries past their stale window; returns how many. Run by the sweep task. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (let i = this.head; i !== NONE; ) {
      const next = this.older[i]!;
      if (now > this.staleUntilMs[i]!) {
        this.remove(i);
        removed++;
      }
      i = next;
    }
    this.counters.expired += removed;
    return removed;
  }

  /** Drops everything, or every entry for one name (lowercased wire). */
  flush(name?: Uint8Array): number {
    let removed = 0;
    for (let i = this.head; i !== NONE; ) {
      const next = this.older[i]!;
      if (!name || this.nameAt(i, name, 0, name.length)) {
        this.remove(i);
        removed++;
      }
      i = next;
    }
    return removed;
  }

  private skip(): number {
    this.counters.uncacheable++;
    return NONE;
  }

  /** Puts a filled-in entry into its bucket and at the new end of the FIFO. */
  private link(i: number, size: number): void {
    const b = this.hash[i]! & this.mask;
    this.chain[i] = this.buckets[b]!;
    this.buckets[b] = i;
    this.older[i] = this.head;
    this.newer[i] = NONE;
    if (this.head !== NONE) this.newer[this.head] = i;
    this.head = i;
    if (this.tail === NONE) this.tail = i;
    this.count++;
    this.bytes += size;
  }

  private sizeOf(i: number): number {
    return this.flags[i]! & LARGE ? this.dataLen[i]! + META + LARGE_OVERHEAD : SLOT + META;
  }

  private evictOne(): void {
    let i = this.hand !== NONE ? this.hand : this.tail;
    if (i === NONE) return;
    while (this.flags[i]! & VISITED) {
      this.flags[i]! &= ~VISITED;
      i = this.newer[i] !== NONE ? this.newer[i]! : this.tail;
    }
    this.hand = this.newer[i]!;
    this.remove(i);
    this.counters.evictions++;
  }

  /** Whether entry i holds a SERVFAIL (kept servfail_ttl): never stale data to fall back on. */
  isServfail(i: number): boolean {
    return (this.flags[i]! & SERVFAIL) !== 0;
  }

  private remove(i: number): void {
    this.edes.delete(i);
    const b = this.hash[i]! & this.mask;
    if (this.buckets[b] === i) this.buckets[b] = this.chain[i]!;
    else {
      let p = this.buckets[b]!;
      while (p !== NONE && this.chain[p] !== i) p = this.chain[p]!;
      if (p === NONE) return; // already gone
      this.chain[p] = this.chain[i]!;
    }
    if (this.hand === i) this.hand = this.newer[i]!;
    const newer = this.newer[i]!;
    const older = this.older[i]!;
    if (newer !== NONE) this.older[newer] = older;
    else this.head = older;
    if (older !== NONE) this.newer[older] = newer;
    else this.tail = newer;
    this.count--;
    this.bytes -= this.sizeOf(i);
    if (this.flags[i]! & LARGE) this.large[i] = undefined;
    this.flags[i] = 0;
    this.gen[i] = this.gen[i]! + 1;
    this.free[this.freeTop++] = i;
  }

  /** Makes room for `capacity` entries: the field arrays are copied into bigger ones, the table rehashed. */
  private grow(capacity: number): void {
    const old = this.capacity;
    if (capacity <= old) capacity = old + 1;
    this.hash = grown(this.hash, new Uint32Array(capacity));
    this.chain = grown(this.chain, new Int32Array(capacity));
    this.newer = grown(this.newer, new Int32Array(capacity));
    this.older = grown(this.older, new Int32Array(capacity));
    this.storedAt = grown(this.storedAt, new Float64Array(capacity));
    this.staleUntilMs = grown(this.staleUntilMs, new Float64Array(capacity));
    this.ttlS = grown(this.ttlS, new Uint32Array(capacity));
    this.qtype = grown(this.qtype, new Uint16Array(capacity));
    this.qclass = grown(this.qclass, new Uint16Array(capacity));
    this.wireLen = grown(this.wireLen, new Uint16Array(capacity));
    this.nameLen = grown(this.nameLen, new Uint8Array(capacity));
    this.dataLen = grown(this.dataLen, new Uint32Array(capacity));
    this.variant = grown(this.variant, new Uint8Array(capacity));
    this.flags = grown(this.flags, new Uint8Array(capacity));
    this.gen = grown(this.gen, new Uint32Array(capacity));
    this.slots = grown(this.slots, new Uint8Array(capacity * SLOT));
    this.large.length = capacity;
    const free = new Int32Array(capacity);
    free.set(this.free.subarray(0, this.freeTop));
    for (let i = capacity - 1; i >= old; i--) free[this.freeTop++] = i;
    this.free = free;
    this.capacity = capacity;

    let size = 16;
    while (size < capacity) size *= 2;
    if (size !== this.buckets.length) {
      this.buckets = new Int32Array(size).fill(NONE);
      this.mask = size - 1;
      for (let i = this.tail; i !== NONE; i = this.newer[i]!) {
        const b = this.hash[i]! & this.mask;
        this.chain[i] = this.buckets[b]!;
        this.buckets[b] = i;
      }
    }
  }
}

