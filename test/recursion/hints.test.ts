import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRootHints } from "../../src/recursion/hints";
import { keyOf } from "../../src/wire/records";
import { toWire } from "../../src/wire/name";

describe("root hints", () => {
  test("built in: IANA's 13 root servers, each with an IPv4 and an IPv6 address", () => {
    const h = loadRootHints();
    expect(h.ns.length).toBe(13);
    expect(h.source).toBe("built-in");
    expect(h.addresses.get(keyOf(toWire("a.root-servers.net")))).toEqual(["198.41.0.4", "2001:503:ba3e::2:30"]);
    for (const ns of h.ns) expect(h.addresses.get(ns)?.length).toBe(2);
  });

  test("from a file: its NS records of the root and their addresses; other records are ignored", () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-hints-"));
    const file = join(dir, "root.hints");
    writeFileSync(file, ". 3600000 NS A.ROOT.TEST.\nA.ROOT.TEST. 3600000 A 127.53.0.1\nunrelated.test. 60 A 10.0.0.1\n");
    const h = loadRootHints(file);
    expect(h.ns).toEqual([keyOf(toWire("a.root.test"))]);
    expect([...h.addresses]).toEqual([[keyOf(toWire("a.root.test")), ["127.53.0.1"]]]);
  });

  test("a file without root NS records, or without their addresses, is refused, saying so", () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-hints-"));
    writeFileSync(join(dir, "a"), "a.root.test. 60 A 127.0.0.1\n");
    writeFileSync(join(dir, "b"), ". 60 NS a.root.test.\n");
    expect(() => loadRootHints(join(dir, "a"))).toThrow(/no NS records for the root/);
    expect(() => loadRootHints(join(dir, "b"))).toThrow(/no A or AAAA records/);
    expect(() => loadRootHints(join(dir, "missing"))).toThrow(/cannot read/);
  });
});
