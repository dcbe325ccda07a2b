import { describe, expect, test } from "bun:test";
import { LocalData, NO_NAME, NO_TYPE, PACKED_SET_HEADER, PackedNames, type NameNode } from "../../src/zones/local";
import { QType } from "../../src/wire/constants";
import { hashName, toWire } from "../../src/wire/name";

/** The packed RRset for (name, qtype), as LocalData's query path sees it: its header fields and RR bytes. */
function packedSet(data: LocalData, name: string, qtype: number, hash?: number) {
  const w = toWire(name);
  const at = data.packed.find(w, 0, w.length, hash ?? hashName(w, 0, w.length), qtype);
  if (at < 0) return at;
  const b = data.packed.bytes;
  const len = (b[at + 4]! << 8) | b[at + 5]!;
  return { type: (b[at]! << 8) | b[at + 1]!, count: (b[at + 2]! << 8) | b[at + 3]!, rrs: [...b.subarray(at + PACKED_SET_HEADER, at + PACKED_SET_HEADER + len)] };
}

describe("PackedNames: the query path's table of exact local names", () => {
  // 3000 names: long enough probe runs in the table that lookups must walk past other names' slots.
  const lines = Array.from({ length: 3000 }, (_, i) => [`h${i}.bench.test 300 A 10.0.${i >> 8}.${i & 255}`, `h${i}.bench.test 300 TXT "r${i}"`]).flat();
  lines.push("multi.lan 60 A 10.1.1.1", "multi.lan 60 A 10.1.1.2", "alias.lan 60 CNAME multi.lan");
  const data = new LocalData(lines);
  const node = (name: string) => {
    const w = toWire(name);
    return data.findNode(w, 0, w.length, hashName(w, 0, w.length))!;
  };

  test("every name and type holds exactly the bytes and RR count of its RRset", () => {
    for (let i = 0; i < 3000; i++) {
      const name = `h${i}.bench.test`;
      for (const t of [QType.A, QType.TXT]) {
        const got = packedSet(data, name, t);
        const want = node(name).sets.get(t)!;
        expect(got).toEqual({ type: t, count: 1, rrs: [...want.atQuestion] });
      }
    }
    const multi = packedSet(data, "multi.lan", QType.A);
    expect(multi).toEqual({ type: QType.A, count: 2, rrs: [...node("multi.lan").sets.get(QType.A)!.atQuestion] });
  });

  test("names are matched case-insensitively, like the question bytes a client sends", () => {
    const w = new TextEncoder().encode("\x02H7\x05BeNcH\x04TeSt\x00");
    const lowered = toWire("h7.bench.test");
    expect(data.packed.find(w, 0, w.length, hashName(lowered, 0, lowered.length), QType.A)).toBeGreaterThan(0);
  });

  test("a known name without the type is NO_TYPE; an unknown name is NO_NAME", () => {
    expect(packedSet(data, "h5.bench.test", QType.AAAA)).toBe(NO_TYPE);
    expect(packedSet(data, "alias.lan", QType.A)).toBe(NO_TYPE); // a CNAME only: the chase is the object path's
    expect(packedSet(data, "alias.lan", QType.CNAME)).toMatchObject({ type: QType.CNAME, count: 1 });
    expect(packedSet(data, "h3000.bench.test", QType.A)).toBe(NO_NAME);
    expect(packedSet(data, "bench.test", QType.A)).toBe(NO_NAME);
  });

  test("a slot with the same hash but another name is not a match", () => {
    // Looking h2 up with h1's hash lands on h1's slot: the name compare must reject it.
    const h1 = toWire("h1.bench.test");
    expect(packedSet(data, "h2.bench.test", QType.A, hashName(h1, 0, h1.length))).toBe(NO_NAME);
  });

  test("an empty table finds nothing", () => {
    const empty = new PackedNames([]);
    const w = toWire("x.lan");
    expect(empty.find(w, 0, w.length, hashName(w, 0, w.length), QType.A)).toBe(NO_NAME);
  });

  test("a name with more RRsets than the header can count is refused when built", () => {
    const sets = new Map(Array.from({ length: 256 }, (_, t) => [t + 1, { type: t + 1, count: 1, atQuestion: new Uint8Array(12), full: new Uint8Array(12) }]));
    expect(() => new PackedNames([{ name: toWire("x.lan"), sets } as NameNode])).toThrow("255 RRsets");
  });
});
