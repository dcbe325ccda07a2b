import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWire } from "../../src/wire/name";
import { parseMasterFile } from "../../src/zones/master";
import { encodeRecord, parseRecord } from "../../src/zones/records";

/** The RDATA bytes of a --record line, as LocalData will serve them. */
function rdataOf(line: string): number[] {
  const r = parseRecord(line);
  return [...encodeRecord(r).subarray(r.wire.length + 10)];
}

function errorOf(line: string): string {
  try {
    rdataOf(line);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

function masterRdata(data: string): number[] {
  const f = join(mkdtempSync(join(tmpdir(), "bunbound-records-")), "z.zone");
  writeFileSync(f, `$TTL 60\n@ SOA ns h 1 2 3 4 5\nx ${data}\n`);
  return [...parseMasterFile(f, toWire("x.lan"))[1]!.rdata];
}

describe("--record TXT data is decoded as in a master file", () => {
  test("a Unicode string becomes its UTF-8 bytes", () => {
    expect(rdataOf('x.lan TXT "café"')).toEqual([0x05, 0x63, 0x61, 0x66, 0xc3, 0xa9]);
  });
  test("\\DDD escapes of those bytes give the same RDATA as the characters", () => {
    expect(rdataOf('x.lan TXT "caf\\195\\169"')).toEqual(rdataOf('x.lan TXT "café"'));
  });
  test("\\255 is the byte ff, not a character to re-encode", () => {
    expect(rdataOf('x.lan TXT "\\255"')).toEqual([0x01, 0xff]);
  });
  test("escapes work in unquoted strings, and \\X is X", () => {
    expect(rdataOf("x.lan TXT plain\\032x")).toEqual([0x07, 0x70, 0x6c, 0x61, 0x69, 0x6e, 0x20, 0x78]);
    expect(rdataOf("x.lan TXT back\\\\slash")).toEqual([0x0a, 0x62, 0x61, 0x63, 0x6b, 0x5c, 0x73, 0x6c, 0x61, 0x73, 0x68]);
    expect(rdataOf('x.lan TXT "quote\\"inside"')).toEqual([0x0c, 0x71, 0x75, 0x6f, 0x74, 0x65, 0x22, 0x69, 0x6e, 0x73, 0x69, 0x64, 0x65]);
  });
  test("an empty quoted string is a zero-length character-string", () => {
    expect(rdataOf('x.lan TXT ""')).toEqual([0x00]);
  });
  test("each string, quoted or not, is its own character-string", () => {
    expect(rdataOf('x.lan TXT "one" two "three four"')).toEqual([0x03, 0x6f, 0x6e, 0x65, 0x03, 0x74, 0x77, 0x6f, 0x0a, 0x74, 0x68, 0x72, 0x65, 0x65, 0x20, 0x66, 0x6f, 0x75, 0x72]);
  });
  test("a record line and a master-file line with the same TXT data give the same RDATA", () => {
    for (const data of ['TXT "café"', 'TXT "a\\065b"', "TXT plain\\032x", 'TXT "quote\\"inside"', 'TXT "semi;colon"', "TXT back\\\\slash", 'TXT "\\255"', 'TXT ""', 'TXT "one" two "three four"']) {
      expect(rdataOf(`x.lan 60 ${data}`)).toEqual(masterRdata(data));
    }
  });
  test("a string of 255 bytes is accepted", () => {
    expect(rdataOf(`x.lan TXT "${"\\255".repeat(255)}"`).length).toBe(256);
  });
  test("the 255-byte limit counts UTF-8 bytes, not characters", () => {
    expect(errorOf(`x.lan TXT "${"é".repeat(128)}"`)).toMatch(/^TXT string ".*" is 256 bytes, longer than 255$/);
  });
});

describe("bad --record strings are refused with the reason", () => {
  test("\\DDD above 255", () => {
    expect(errorOf('x.lan TXT "café\\256"')).toBe('bad escape \\256 in "café\\256": more than 255');
  });
  test("a backslash followed by fewer than three digits", () => {
    expect(errorOf("x.lan TXT a\\12")).toBe('bad escape \\12 in "a\\12": \\DDD takes three digits');
  });
  test("a dangling backslash", () => {
    expect(errorOf("x.lan TXT abc\\")).toBe('dangling backslash in "abc\\"');
  });
  test("an unterminated quoted string", () => {
    expect(errorOf('x.lan TXT "abc')).toBe('unterminated quoted string in "x.lan TXT "abc"');
  });
});

// dns-packet exports its per-RR codec but @types/dns-packet does not declare it.
const rrCodec = (packet as unknown as { answer: { decode(b: Uint8Array): packet.Answer } }).answer;

describe("--record CAA", () => {
  test("the value takes the same escapes and keeps UTF-8 bytes", () => {
    expect(rdataOf('x.lan CAA 0 issue "ca\\059;\\195\\169é"')).toEqual([0x00, 0x05, 0x69, 0x73, 0x73, 0x75, 0x65, 0x63, 0x61, 0x3b, 0x3b, 0xc3, 0xa9, 0xc3, 0xa9]);
    expect(rdataOf("x.lan CAA 128 issue ca\\032b")).toEqual([0x80, 0x05, 0x69, 0x73, 0x73, 0x75, 0x65, 0x63, 0x61, 0x20, 0x62]);
  });
  test("the RR is framed like any other: a DNS decoder reads it back", () => {
    const rr = rrCodec.decode(Buffer.from(encodeRecord(parseRecord('caa.lan 300 CAA 0 issue "letsencrypt.org"'))));
    expect(rr).toMatchObject({ name: "caa.lan", type: "CAA", class: "IN", ttl: 300, data: { flags: 0, tag: "issue", value: "letsencrypt.org" } });
  });
  test("flags above 255 and malformed tags are refused", () => {
    expect(errorOf('x.lan CAA 256 issue "ca"')).toBe('CAA flags must be 0..255, got "256"');
    expect(errorOf('x.lan CAA 0 is-sue "ca"')).toBe('CAA tag "is-sue" must be 1-15 letters or digits');
  });
});
