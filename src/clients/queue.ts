// The client-update queue (seed 004): every answered query posts (ip, time, qname, qtype, rcode) here with a
// non-blocking enqueue; when a queue is full the update is dropped and counted. Two priorities — clients we
// know (high) and clients still being discovered (low) — with a guaranteed share for low so it never starves.
// Storage is struct-of-arrays: posting copies a few numbers and the qname bytes, nothing else. A ring starts
// small and doubles when full, up to its configured capacity: the tracker drains it within milliseconds, so
// its size follows the deepest backlog seen, not the worst case the setting allows.
// A client's queries tend to come in runs (a page load, a burst from one host): a post from the same client
// as the newest entry still waiting is folded into it (its count goes up, time/qname/qtype/rcode become the
// latest), which is what the tracker does with them anyway — it keeps a count and the last query per client.
// An update also carries how its queries came (`via`): the transports they used, and the latest one.
import { copyBytes, putName, toText } from "../wire/name";
import { TRANSPORT_LABELS, type Transport } from "../metrics/querystats";

/** `via` of one query over `t`: the set of transports used {t}, the latest t. */
export function viaOf(t: Transport): number {
  return (1 << t) | (t << 4);
}

/** `via` of a query (or run of them) `b` folded after `a`: both sets, b's latest. */
export function foldVia(a: number, b: number): number {
  return ((a | b) & 0x0f) | (b & 0xf0);
}

/** The transports of a `via` set, as labels ("udp", "tls", …). */
export function transportLabels(mask: number): string[] {
  return TRANSPORT_LABELS.filter((_, i) => (mask & (1 << i)) !== 0);
}

/** qtype, rcode and via in one 32-bit word (ring storage, batches between processes). */
export function packMeta(qtype: number, rcode: number, via: number): number {
  return ((qtype << 16) | ((via & 0xff) << 8) | (rcode & 0xff)) >>> 0;
}
export const metaQtype = (m: number): number => m >>> 16;
export const metaVia = (m: number): number => (m >>> 8) & 0xff;
export const metaRcode = (m: number): number => m & 0xff;

export interface ClientUpdate {
  ip: string;
  /** When the latest of these queries was answered (ms since the epoch). */
  time: number;
  /** When the first of them was. */
  first: number;
  /** Queries this update stands for (consecutive ones from the same client are folded together). */
  count: number;
  qname: string;
  qtype: number;
  rcode: number;
  /** The latest query's transport, and every transport these queries used. */
  transport: string;
  transports: string[];
}

/** Entries a ring starts with; it doubles from here when full. */
const INITIAL_SLOTS = 64;

/** A bounded FIFO of updates held in typed arrays (and one array of address strings Bun already made). */
class Ring {
  private ips: string[];
  private times: Float64Array;
  private firsts: Float64Array;
  private counts: Uint32Array;
  private meta: Uint32Array; // packMeta(qtype, rcode, via)
  private names: Uint8Array; // wire qname, up to 255 bytes per slot
  private head = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    const n = Math.min(capacity, INITIAL_SLOTS);
    this.ips = new Array<string>(n).fill("");
    this.times = new Float64Array(n);
    this.firsts = new Float64Array(n);
    this.counts = new Uint32Array(n);
    this.meta = new Uint32Array(n);
    this.names = new Uint8Array(n * 256);
  }
  /** Slots allocated now (≤ capacity). */
  get allocated(): number {
    return this.times.length;
  }
  /** Doubles the storage (up to capacity), the waiting updates moved to the front in order. */
  private grow(): void {
    const old = this.allocated;
    const n = Math.min(this.capacity, old * 2);
    const ips = new Array<string>(n).fill("");
    const times = new Float64Array(n);
    const firsts = new Float64Array(n);
    const counts = new Uint32Array(n);
    const meta = new Uint32Array(n);
    const names = new Uint8Array(n * 256);
    for (let k = 0; k < this.size; k++) {
      const j = (this.head + k) % old;
      ips[k] = this.ips[j]!;
      times[k] = this.times[j]!;
      firsts[k] = this.firsts[j]!;
      counts[k] = this.counts[j]!;
      meta[k] = this.meta[j]!;
      names.set(this.names.subarray(j * 256, j * 256 + 256), k * 256);
    }
    this.ips = ips;
    this.times = times;
    this.firsts = firsts;
    this.counts = counts;
    this.meta = meta;
    this.names = names;
    this.head = 0;
  }
  get length(): number {
    return this.size;
  }
  push(ip: string, time: number, name: Uint8Array, nameOff: number, nameEnd: number, qtype: number, rcode: number, via: number, count: number, first: number): boolean {
    if (this.size === this.allocated) {
      if (this.size === this.capacity) return false;
      this.grow();
    }
    const i = (this.head + this.size) % this.allocated;
    this.ips[i] = ip;
    this.firsts[i] = first;
    this.counts[i] = count;
    this.size++;
    this.latest(i, time, name, nameOff, nameEnd, qtype, rcode, via);
    return true;
  }
  /** Folds the update into the newest entry when that one is the same client's; false otherwise. */
  fold(ip: string, time: number, name: Uint8Array, nameOff: number, nameEnd: number, qtype: number, rcode: number, via: number, count: number): boolean {
    if (this.size === 0) return false;
    const i = (this.head + this.size - 1) % this.allocated;
    if (this.ips[i] !== ip || this.counts[i]! + count > 0xffff_ffff) return false;
    this.counts[i]! += count;
    this.latest(i, time, name, nameOff, nameEnd, qtype, rcode, foldVia(metaVia(this.meta[i]!), via));
    return true;
  }
  private latest(i: number, time: number, name: Uint8Array, nameOff: number, nameEnd: number, qtype: number, rcode: number, via: number): void {
    this.times[i] = time;
    this.meta[i] = packMeta(qtype, rcode, via);
    putName(this.names, i * 256, name, nameOff, nameEnd);
  }
  /** Moves the oldest update into `out` (its qname as wire bytes); false when empty. Allocates nothing. */
  shiftInto(out: RawUpdate): boolean {
    if (this.size === 0) return false;
    const i = this.head;
    this.head = (this.head + 1) % this.allocated;
    this.size--;
    const base = i * 256;
    const len = this.names[base]!;
    out.ip = this.ips[i]!;
    out.time = this.times[i]!;
    out.first = this.firsts[i]!;
    out.count = this.counts[i]!;
    const m = this.meta[i]!;
    out.qtype = metaQtype(m);
    out.rcode = metaRcode(m);
    out.via = metaVia(m);
    out.nameLen = len;
    copyBytes(out.name, 0, this.names, base + 1, len);
    this.ips[i] = "";
    return true;
  }
}

/** A reusable update holder for the processor: no object or string per update. */
export class RawUpdate {
  ip = "";
  time = 0;
  first = 0;
  count = 0;
  qtype = 0;
  rcode = 0;
  /** See viaOf: the transports used and the latest. */
  via = 0;
  nameLen = 0;
  readonly name = new Uint8Array(256);

  /** The qname in presentation form, lowercased, with a trailing dot. */
  qname(): string {
    return toText(this.name, 0, this.nameLen);
  }
}

export class QueueCounters {
  /** Queries accepted (folded ones included) and dropped, by priority; processed: queries taken off. */
  enqueuedHigh = 0;
  enqueuedLow = 0;
  droppedHigh = 0;
  droppedLow = 0;
  processed = 0;
}

export class ClientQueue {
  readonly counters = new QueueCounters();
  private readonly high: Ring;
  private readonly low: Ring;
  /** Of every `1 / lowShare` updates taken while both queues have some, one comes from low. */
  private turn = 0;
  private readonly lowEvery: number;
  /** Where the last post went: a post from the same client tries to fold into it before anything else. */
  private lastIp = "";
  private lastRing: Ring | null = null;
  /** Called once by the next post, then cleared: the consumer sleeping on an empty queue (see onNextPost). */
  private waiter: (() => void) | null = null;

  /**
   * @param isKnown decides the priority: known clients go to the high queue.
   * @param lowShare the guaranteed share of the low queue when both are busy (0 < share ≤ 0.5).
   */
  constructor(
    highCapacity: number,
    lowCapacity: number,
    lowShare: number,
    private readonly isKnown: (ip: string) => boolean,
  ) {
    this.high = new Ring(highCapacity);
    this.low = new Ring(lowCapacity);
    this.lowEvery = Math.max(2, Math.round(1 / lowShare));
  }

  get depthHigh(): number {
    return this.high.length;
  }

  get depthLow(): number {
    return this.low.length;
  }

  /** Slots allocated in the high and low rings (they grow with the backlog, up to their capacity). */
  get allocated(): { high: number; low: number } {
    return { high: this.high.allocated, low: this.low.allocated };
  }

  get dropped(): number {
    return this.counters.droppedHigh + this.counters.droppedLow;
  }

  /**
   * Non-blocking: records the update (folded into the newest entry when that is the same client's, see the
   * top of this file) or drops it (counted). Never awaits; allocates only when a ring grows. `count` > 1 posts
   * updates already folded elsewhere (a serving process's batch); `first` is then the time of the first of them.
   * `via` is how they came (viaOf(transport) for one query).
   */
  post(ip: string, time: number, name: Uint8Array, nameOff: number, nameEnd: number, qtype: number, rcode: number, via: number, count = 1, first = time): boolean {
    const c = this.counters;
    let ring = this.lastRing;
    if (ip !== this.lastIp || ring === null || !ring.fold(ip, time, name, nameOff, nameEnd, qtype, rcode, via, count)) {
      ring = this.isKnown(ip) ? this.high : this.low;
      if (!ring.push(ip, time, name, nameOff, nameEnd, qtype, rcode, via, count, first)) {
        if (ring === this.high) c.droppedHigh += count;
        else c.droppedLow += count;
        return false;
      }
      this.lastIp = ip;
      this.lastRing = ring;
    }
    if (ring === this.high) c.enqueuedHigh += count;
    else c.enqueuedLow += count;
    if (this.waiter !== null) this.wakeWaiter();
    return true;
  }

  /**
   * `wake` is called (once) by the next post that is queued, or at once if something is already queued: the
   * consumer can sleep on an empty queue instead of waking to look. Replaces an earlier waiter; null clears it.
   */
  onNextPost(wake: (() => void) | null): void {
    this.waiter = wake;
    if (wake !== null && this.high.length + this.low.length > 0) this.wakeWaiter();
  }

  private wakeWaiter(): void {
    const w = this.waiter!;
    this.waiter = null;
    w();
  }

  /** The next update into `out`: high first, but low gets every `lowEvery`-th turn when both wait. */
  takeInto(out: RawUpdate): boolean {
    const both = this.high.length > 0 && this.low.length > 0;
    const fromLow = both ? ++this.turn % this.lowEvery === 0 : this.low.length > 0 && this.high.length === 0;
    const ok = fromLow ? this.low.shiftInto(out) : this.high.shiftInto(out);
    if (ok) this.counters.processed += out.count;
    return ok;
  }

  /** The next update as an object (tests, tools); the processor uses takeInto. */
  take(): ClientUpdate | undefined {
    const u = new RawUpdate();
    if (!this.takeInto(u)) return undefined;
    return { ip: u.ip, time: u.time, first: u.first, count: u.count, qname: u.qname(), qtype: u.qtype, rcode: u.rcode, transport: TRANSPORT_LABELS[u.via >> 4]!, transports: transportLabels(u.via) };
  }
}
