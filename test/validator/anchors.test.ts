import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAnchors } from "../../src/validator/anchors";
import { dsMatches } from "../../src/validator/digests";
import { parseDnskey } from "../../src/validator/verify";
import { parseMasterText } from "../../src/zones/master";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

describe("trust anchors", () => {
  test("built in: the root's KSK-2017 (20326) and KSK-2024 (38696), SHA-256 DS records", () => {
    const [root, ...rest] = loadAnchors();
    expect(rest).toEqual([]);
    expect([...root!.zone]).toEqual([0]);
    expect(root!.ds.map((d) => [d.keyTag, d.algorithm, d.digestType])).toEqual([[20326, 8, 2], [38696, 8, 2]]);
  });

  test.skipIf(!existsSync("/usr/share/dns/root.ds"))("the same as Debian's dns-root-data (/usr/share/dns/root.ds)", () => {
    const debian = parseMasterText(`$TTL 0\n${readFileSync("/usr/share/dns/root.ds", "latin1")}`, "root.ds", new Uint8Array([0])).filter((r) => r.type === 43);
    const ours = loadAnchors()[0]!.ds.map((d) => `${d.keyTag} ${hex(d.digest)}`);
    expect(debian.map((r) => `${(r.rdata[0]! << 8) | r.rdata[1]!} ${hex(r.rdata.subarray(4))}`)).toEqual(ours);
  });

  test("files replace them: DS lines, and DNSKEY lines kept as the DS they make", () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-anchors-"));
    const key = "test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    writeFileSync(join(dir, "a"), `${key}\n`);
    writeFileSync(join(dir, "b"), "example. IN DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000\n");
    const anchors = loadAnchors([join(dir, "a"), join(dir, "b")]);
    expect(anchors.length).toBe(2);
    const rec = parseMasterText(`${key}\n`, "k", new Uint8Array([0]))[0]!;
    const dnskey = parseDnskey(rec.owner, rec.rdata)!;
    expect(dsMatches(anchors[0]!.ds[0]!, dnskey)).toBe("match");
    expect(anchors[1]!.ds[0]!.keyTag).toBe(12345);
  });

  test("a file without DS or DNSKEY records, or one that does not parse, is refused naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-anchors-"));
    writeFileSync(join(dir, "empty"), "example. 60 IN A 192.0.2.1\n");
    writeFileSync(join(dir, "bad"), ". IN DS 1 2 3\n");
    expect(() => loadAnchors([join(dir, "empty")])).toThrow(/no DS or DNSKEY records/);
    expect(() => loadAnchors([join(dir, "bad")])).toThrow(/bad/);
    expect(() => loadAnchors([join(dir, "missing")])).toThrow(/cannot read/);
  });
});
