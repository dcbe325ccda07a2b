// The buffer ring: one preallocated ArrayBuffer cut into fixed slots. A request owns exactly one slot from
// acquire() to its single release(); the handle carries a generation so a stale or doubled use is caught
// (seed 000 "shared buffer data race"). Nothing is allocated per request: the views are made once, here.

export interface RingStats {
  slots: number;
  slotSize: number;
  inUse: number;
  acquired: number;
  exhausted: number;
  violations: number;
}

/** Thrown in strict mode (tests) when a handle is used after release or released twice. */
export class RingViolation extends Error {}

const INDEX_BITS = 2 ** 20;

export class Ring {
  readonly slots: number;
  readonly slotSize: number;
  private readonly views: Uint8Array[] = [];
  private readonly payloads: Uint8Array[] = [];
  private readonly generation: Uint32Array;
  private readonly owned: Uint8Array;
  private readonly free: Int32Array;
  private top: number;
  acquired = 0;
  exhausted = 0;
  violations = 0;

  /**
   * @param headroom bytes reserved at the front of every slot (TCP puts its 2-byte length prefix there,
   *   so a framed answer leaves in one write); payload(h) starts after it.
   * @param strict throw on ownership violations instead of only counting them.
   */
  constructor(slots: number, slotSize: number, readonly headroom = 0, readonly strict = false) {
    if (!Number.isInteger(slots) || slots < 1 || slots >= INDEX_BITS) throw new RangeError(`ring slots must be 1..${INDEX_BITS - 1}`);
    if (!Number.isInteger(slotSize) || slotSize <= headroom + 12) throw new RangeError("ring slot size too small");
    this.slots = slots;
    this.slotSize = slotSize;
    const memory = new ArrayBuffer(slots * slotSize);
    for (let i = 0; i < slots; i++) {
      this.views.push(new Uint8Array(memory, i * slotSize, slotSize));
      this.payloads.push(new Uint8Array(memory, i * slotSize + headroom, slotSize - headroom));
    }
    this.generation = new Uint32Array(slots);
    this.owned = new Uint8Array(slots);
    this.free = new Int32Array(slots);
    for (let i = 0; i < slots; i++) this.free[i] = slots - 1 - i;
    this.top = slots;
  }

  /** A handle (index + generation) to a free slot, or -1 when the ring is exhausted (counted). */
  acquire(): number {
    if (this.top === 0) {
      this.exhausted++;
      return -1;
    }
    const i = this.free[--this.top]!;
    this.owned[i] = 1;
    this.acquired++;
    return this.generation[i]! * INDEX_BITS + i;
  }

  /** Gives the slot back. A second release, or a release with a stale handle, is a violation. */
  release(handle: number): boolean {
    const i = this.check(handle);
    if (i < 0) return false;
    this.owned[i] = 0;
    this.generation[i] = (this.generation[i]! + 1) >>> 0;
    this.free[this.top++] = i;
    return true;
  }

  /** The whole slot (headroom included) for a live handle. */
  slot(handle: number): Uint8Array {
    const i = this.check(handle);
    if (i < 0) throw new RingViolation("slot access with a released handle");
    return this.views[i]!;
  }

  /** The slot after its headroom: where the DNS message lives. */
  payload(handle: number): Uint8Array {
    const i = this.check(handle);
    if (i < 0) throw new RingViolation("payload access with a released handle");
    return this.payloads[i]!;
  }

  isLive(handle: number): boolean {
    const i = handle % INDEX_BITS;
    return i >= 0 && i < this.slots && this.owned[i] === 1 && this.generation[i] === Math.floor(handle / INDEX_BITS);
  }

  get inUse(): number {
    return this.slots - this.top;
  }

  stats(): RingStats {
    return {
      slots: this.slots,
      slotSize: this.slotSize,
      inUse: this.inUse,
      acquired: this.acquired,
      exhausted: this.exhausted,
      violations: this.violations,
    };
  }

  private check(handle: number): number {
    if (this.isLive(handle)) return handle % INDEX_BITS;
    this.violations++;
    if (this.strict) throw new RingViolation(`stale or released ring handle ${handle}`);
    return -1;
  }
}
