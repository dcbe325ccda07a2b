import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toText, toWire } from "../../src/wire/name";
import { organize } from "../../src/zones/build";
import { parseMasterFile, ZoneFileError, type ZoneRecord } from "../../src/zones/master";
import { fixture } from "../helpers/zones";

const origin = toWire("example.lan");
const records = parseMasterFile(fixture("example.lan.zone"), origin);
const find = (name: string, type: number) => records.filter((r) => toText(r.owner, 0) === name && r.type === type);

function errorOf(text: string, zone = "bad.lan"): string {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-zone-"));
  const f = join(dir, "z.zone");
  writeFileSync(f, text);
  try {
    organize(toWire(zone), parseMasterFile(f, toWire(zone)));
  } catch (e) {
    return (e as Error).message.replace(dir + "/", "");
  }
  throw new Error("expected an error");
}

describe("master file parser", () => {
  test("parentheses span lines and comments are ignored (SOA)", () => {
    const [soa] = find("example.lan.", 6);
    const v = new DataView(soa!.rdata.buffer, soa!.rdata.byteOffset);
    expect(v.getUint32(soa!.rdata.length - 20)).toBe(2024010101);
    expect(v.getUint32(soa!.rdata.length - 4)).toBe(60);
    expect(soa!.ttl).toBe(3600); // $TTL 1h
  });
  test("an omitted owner repeats the previous one", () => {
    expect(find("example.lan.", 2).length).toBe(2);
    expect(find("example.lan.", 15).length).toBe(1);
    expect(find("www.example.lan.", 28).length).toBe(1);
  });
  test("TTL and class may come in either order or be omitted", () => {
    expect(find("ns2.example.lan.", 1)[0]!.ttl).toBe(300);
    expect(find("www.example.lan.", 1)[0]!.ttl).toBe(300);
    expect(find("ns1.example.lan.", 1)[0]!.ttl).toBe(3600);
  });
  test("relative names get the origin; absolute names stay", () => {
    const ns = find("example.lan.", 2).map((r) => toText(r.rdata, 0)).sort();
    expect(ns).toEqual(["ns1.example.lan.", "ns2.example.lan."]);
  });
  test("quoted strings keep spaces, semicolons and escaped quotes", () => {
    const [t] = find("txt.example.lan.", 16);
    const strings: string[] = [];
    for (let o = 0; o < t!.rdata.length; o += t!.rdata[o]! + 1) strings.push(Buffer.from(t!.rdata.subarray(o + 1, o + 1 + t!.rdata[o]!)).toString());
    expect(strings).toEqual(['semi;colon and "quotes"', "unquoted"]);
  });
  test("$INCLUDE reads a file relative to the includer, with its own $ORIGIN, which ends with it", () => {
    expect(find("host.inc.example.lan.", 1).length).toBe(1);
    expect(find("back.example.lan.", 1).length).toBe(1);
  });
  test("RFC 3597 unknown types and escaped dots in labels", () => {
    expect([...find("unknown.example.lan.", 65000)[0]!.rdata]).toEqual([0xab, 0xcd, 0xef]);
    expect(records.some((r) => r.owner[0] === 8 && Buffer.from(r.owner.subarray(1, 9)).toString() === "esc.aped")).toBe(true);
  });
  test("DS digests split across parentheses are joined", () => {
    expect(find("ds.example.lan.", 43)[0]!.rdata.length).toBe(4 + 32);
  });
  test("every line is reported with file:line", () => {
    expect(records.every((r: ZoneRecord) => /example\.lan\.zone:\d+$|included\.zone:\d+$/.test(r.where))).toBe(true);
  });
});

describe("broken zone files are rejected with file:line: problem", () => {
  test("unknown type", () => {
    expect(() => parseMasterFile(fixture("bad-type.zone"), toWire("bad.lan"))).toThrow(/bad-type\.zone:6: unknown type "BOGUS"/);
  });
  test("bad address", () => {
    expect(() => parseMasterFile(fixture("bad-address.zone"), toWire("bad.lan"))).toThrow(/bad-address\.zone:6: "10\.1\.0" is not an IPv4 address/);
  });
  test("unclosed parenthesis", () => {
    expect(() => parseMasterFile(fixture("bad-paren.zone"), toWire("bad.lan"))).toThrow(/bad-paren\.zone:3: "\(" not closed/);
  });
  test("data outside the zone", () => {
    expect(() => organize(toWire("bad.lan"), parseMasterFile(fixture("bad-outside.zone"), toWire("bad.lan")))).toThrow(/bad-outside\.zone:6: elsewhere\.org\. is outside the zone/);
  });
  test("no SOA", () => {
    expect(() => organize(toWire("bad.lan"), parseMasterFile(fixture("bad-nosoa.zone"), toWire("bad.lan")))).toThrow(/has no SOA/);
  });
  test("more cases", () => {
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx CNAME y\nx A 1.2.3.4\n")).toMatch(/^z\.zone:4: .*CNAME and other data/);
    expect(errorOf("x A 1.2.3.4\n@ 60 SOA ns h 1 2 3 4 5\n")).toMatch(/^z\.zone:1: no TTL/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx DS 1 13 2 abcd\n")).toMatch(/^z\.zone:3: DS digest type 2 needs 32 bytes, got 2/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx MX ten mail\n")).toMatch(/^z\.zone:3: MX preference must be/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx TXT \"open\n")).toMatch(/^z\.zone:3: unterminated quoted string/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\n$INCLUDE nope.zone\n")).toMatch(/nope\.zone: cannot read: ENOENT/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx CH A 1.2.3.4\n")).toMatch(/^z\.zone:3: class CH is not supported/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\nx TYPE99 \\# 2 abcdef\n")).toMatch(/^z\.zone:3: RFC 3597 length 2 does not match 3/);
    expect(errorOf("$TTL 60\n@ SOA ns h 1 2 3 4 5\n" + "x".repeat(64) + " A 1.2.3.4\n")).toMatch(/^z\.zone:3: label longer than 63/);
  });
});
