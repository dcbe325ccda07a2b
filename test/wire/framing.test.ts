import { describe, expect, test } from "bun:test";
import { frame, FrameReader } from "../../src/wire/framing";

const msg = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe("length-prefixed framing (RFC 1035 4.2.2)", () => {
  test("frame puts the length in front, big-endian", () => {
    expect([...frame(msg(3))]).toEqual([0, 3, 7, 7, 7]);
    expect([...frame(msg(300)).subarray(0, 2)]).toEqual([1, 44]);
  });
  test("a message split across pushes, down to single bytes, comes out whole once", () => {
    const r = new FrameReader(4);
    const bytes = frame(msg(40, 9));
    for (let i = 0; i < bytes.length - 1; i++) {
      expect(r.push(bytes.subarray(i, i + 1))).toBe(true);
      expect(r.next()).toBeNull();
    }
    r.push(bytes.subarray(bytes.length - 1));
    expect([...r.next()!]).toEqual([...msg(40, 9)]);
    expect(r.next()).toBeNull();
    expect(r.buffered).toBe(0);
  });
  test("several messages in one push come out one by one; the length is readable before the body", () => {
    const r = new FrameReader();
    r.push(new Uint8Array([...frame(msg(2, 1)), ...frame(msg(3, 2)), 0, 9, 5]));
    expect([...r.next()!]).toEqual([1, 1]);
    expect([...r.next()!]).toEqual([2, 2, 2]);
    expect(r.nextLength()).toBe(9);
    expect(r.hasWhole()).toBe(false);
    expect(r.next()).toBeNull();
    expect(r.buffered).toBe(3);
  });
  test("a zero-length message is reported as length 0", () => {
    const r = new FrameReader();
    r.push(new Uint8Array([0, 0]));
    expect(r.nextLength()).toBe(0);
  });
  test("more than the bound is refused and nothing of it is kept", () => {
    const r = new FrameReader(8, 16);
    expect(r.push(msg(10))).toBe(true);
    expect(r.push(msg(7))).toBe(false);
    expect(r.buffered).toBe(10);
  });
});
