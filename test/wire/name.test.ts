import { describe, expect, test } from "bun:test";
import { hashName, nameEquals, skipName, toText, toWire } from "../../src/wire/name";

describe("wire names", () => {
  test("toWire lowercases and validates", () => {
    expect([...toWire("Ab.C")]).toEqual([2, 97, 98, 1, 99, 0]);
    expect([...toWire(".")]).toEqual([0]);
    expect(() => toWire("a..b")).toThrow("empty label");
    expect(() => toWire("x".repeat(64))).toThrow("label longer");
    expect(() => toWire(Array(130).fill("ab").join("."))).toThrow("name longer");
  });
  test("toText is the inverse for display", () => {
    expect(toText(toWire("a.example"), 0)).toBe("a.example.");
  });
  test("equality and hashing ignore ASCII case", () => {
    const a = new Uint8Array([3, 65, 66, 67, 0]);
    const w = toWire("abc");
    expect(nameEquals(a, 0, a.length, w)).toBe(true);
    expect(hashName(a, 0, a.length)).toBe(hashName(w, 0, w.length));
  });
  test("skipName follows backward pointers and rejects loops and forward jumps", () => {
    // offset 0: "abc" 0 ; offset 5: "x" + pointer to 0
    const m = new Uint8Array([3, 97, 98, 99, 0, 1, 120, 0xc0, 0]);
    expect(skipName(m, 5, m.length)).toBe(9);
    const loop = new Uint8Array([1, 120, 0xc0, 0]);
    expect(skipName(loop, 0, loop.length)).toBe(-1);
    const fwd = new Uint8Array([0xc0, 4, 0, 0, 0]);
    expect(skipName(fwd, 0, fwd.length)).toBe(-1);
    const cut = new Uint8Array([5, 97]);
    expect(skipName(cut, 0, cut.length)).toBe(-1);
  });
});
