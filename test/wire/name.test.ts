import { describe, expect, test } from "bun:test";
import { closestSuffix, hashName, nameEquals, skipName, toText, toWire, TopLabels } from "../../src/wire/name";

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

describe("top labels (fast miss for suffix lookups)", () => {
  const at = (name: string) => toWire(name);
  const may = (t: TopLabels, name: string) => {
    const w = at(name);
    return t.mayHold(w, 0, w.length);
  };

  test("a name under a top label the table has may match; others, and the root name, cannot", () => {
    const t = new TopLabels();
    t.add(at("10.in-addr.arpa"));
    t.add(at("Home.LAN"));
    expect(may(t, "1.2.10.in-addr.arpa")).toBe(true);
    expect(may(t, "printer.home.lan")).toBe(true);
    expect(may(t, "ARPA")).toBe(true);
    expect(may(t, "www.example.com")).toBe(false);
    expect(may(t, "lan.example.com")).toBe(false);
    expect(may(t, ".")).toBe(false);
  });

  test("a root name holds everything; removal is counted", () => {
    const t = new TopLabels();
    t.add(at("a.lan"));
    t.add(at("b.lan"));
    t.remove(at("a.lan"));
    expect(may(t, "x.lan")).toBe(true);
    t.remove(at("b.lan"));
    expect(may(t, "x.lan")).toBe(false);
    t.add(at("."));
    expect(may(t, "www.example.com")).toBe(true);
    t.remove(at("."));
    expect(may(t, "www.example.com")).toBe(false);
  });

  test("closestSuffix with the table's top labels finds what it found without them", () => {
    const zones = ["lan", "home.lan", "in-addr.arpa", "10.in-addr.arpa"].map(at);
    const t = new TopLabels();
    for (const z of zones) t.add(z);
    const lookup = (buf: Uint8Array, o: number, end: number) => zones.find((z) => nameEquals(buf, o, end, z));
    for (const name of ["x.home.lan", "home.lan", "y.lan", "4.3.10.in-addr.arpa", "4.3.2.1.in-addr.arpa", "www.example.com", "arpa", "."]) {
      const w = at(name);
      expect(closestSuffix(w, 0, w.length, lookup, t)).toBe(closestSuffix(w, 0, w.length, lookup));
    }
  });
});
