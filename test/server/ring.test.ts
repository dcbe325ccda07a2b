import { describe, expect, test } from "bun:test";
import { Ring, RingViolation } from "../../src/server/ring";

describe("buffer ring ownership", () => {
  test("every acquire gets a distinct slot until the ring is exhausted, then -1 is counted", () => {
    const r = new Ring(4, 64);
    const hs = [r.acquire(), r.acquire(), r.acquire(), r.acquire()];
    const slots = new Set(hs.map((h) => r.payload(h).byteOffset));
    expect(slots.size).toBe(4);
    expect(r.acquire()).toBe(-1);
    expect(r.exhausted).toBe(1);
    expect(r.inUse).toBe(4);
  });

  test("released slots are reused, with a new generation", () => {
    const r = new Ring(1, 64);
    const a = r.acquire();
    r.release(a);
    const b = r.acquire();
    expect(b).not.toBe(a);
    expect(r.payload(b).byteOffset).toBe(0);
  });

  test("a double release throws in strict mode and is counted", () => {
    const r = new Ring(2, 64, 0, true);
    const h = r.acquire();
    r.release(h);
    expect(() => r.release(h)).toThrow(RingViolation);
    expect(r.violations).toBe(1);
    expect(r.inUse).toBe(0);
  });

  test("using a released handle throws in strict mode, even after the slot was handed out again", () => {
    const r = new Ring(1, 64, 0, true);
    const h = r.acquire();
    r.release(h);
    const h2 = r.acquire();
    expect(() => r.payload(h)).toThrow(RingViolation);
    expect(() => r.release(h)).toThrow(RingViolation);
    expect(r.isLive(h2)).toBe(true); // the new owner is unaffected
  });

  test("in production a violation is counted, never thrown, and changes nothing", () => {
    const r = new Ring(2, 64);
    const h = r.acquire();
    expect(r.release(h)).toBe(true);
    expect(r.release(h)).toBe(false);
    expect(r.violations).toBe(1);
    expect(r.inUse).toBe(0);
    // The free list was not corrupted: exactly two distinct slots are still available.
    const a = r.acquire();
    const b = r.acquire();
    expect(r.payload(a).byteOffset).not.toBe(r.payload(b).byteOffset);
    expect(r.acquire()).toBe(-1);
  });

  test("headroom puts the payload after the slot's first bytes, in the same memory", () => {
    const r = new Ring(2, 64, 2);
    const h = r.acquire();
    r.payload(h)[0] = 7;
    expect(r.slot(h)[2]).toBe(7);
    expect(r.payload(h).length).toBe(62);
  });

  test("invalid sizes are refused", () => {
    expect(() => new Ring(0, 64)).toThrow();
    expect(() => new Ring(4, 8)).toThrow();
  });

  test("random acquire/release sequences keep the books balanced", () => {
    const r = new Ring(64, 32, 0, true);
    const live: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      if (live.length && (Math.random() < 0.5 || live.length === 64)) {
        r.release(live.splice(Math.floor(Math.random() * live.length), 1)[0]!);
      } else {
        const h = r.acquire();
        expect(h).toBeGreaterThanOrEqual(0);
        live.push(h);
      }
      if (i % 997 === 0) expect(new Set(live.map((h) => r.payload(h).byteOffset)).size).toBe(live.length);
    }
    expect(r.inUse).toBe(live.length);
    for (const h of live) r.release(h);
    expect(r.inUse).toBe(0);
    expect(r.violations).toBe(0);
  });
});
