import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWire } from "../../src/wire/name";
import { axfrMessages, organize } from "../../src/zones/build";
import { parseMasterFile } from "../../src/zones/master";
import { nameToWire } from "../../src/zones/rdata";
import { fixture } from "../helpers/zones";

const FILE = fixture("strings.zone");
const origin = toWire("strings.lan");
const records = parseMasterFile(FILE, origin);
const ownerOf = (label: number[]) => [label.length, ...label, ...origin];
const rdataOf = (label: string, type: number) => {
  const owner = ownerOf([...Buffer.from(label)]);
  const r = records.find((x) => x.type === type && Buffer.compare(x.owner, new Uint8Array(owner)) === 0);
  if (!r) throw new Error(`no ${type} record at ${label}`);
  return [...r.rdata];
};

// The RDATA of each record in test/fixtures/zones/strings.zone, checked against ldns-read-zone 1.8.3 (-u TXT -u CAA)
// and NSD 4.6.1 (AXFR with dig +unknownformat).
const CHECKED: Record<string, number[]> = {
  cafe: [0x05, 0x63, 0x61, 0x66, 0xc3, 0xa9],
  bare: [0x05, 0x63, 0x61, 0x66, 0xc3, 0xa9],
  dec: [0x03, 0x61, 0x41, 0x62],
  plain: [0x07, 0x70, 0x6c, 0x61, 0x69, 0x6e, 0x20, 0x78],
  quote: [0x0c, 0x71, 0x75, 0x6f, 0x74, 0x65, 0x22, 0x69, 0x6e, 0x73, 0x69, 0x64, 0x65],
  semi: [0x0a, 0x73, 0x65, 0x6d, 0x69, 0x3b, 0x63, 0x6f, 0x6c, 0x6f, 0x6e],
  back: [0x0a, 0x62, 0x61, 0x63, 0x6b, 0x5c, 0x73, 0x6c, 0x61, 0x73, 0x68],
  ff: [0x01, 0xff],
  empty: [0x00],
  multi: [0x03, 0x6f, 0x6e, 0x65, 0x03, 0x74, 0x77, 0x6f, 0x0a, 0x74, 0x68, 0x72, 0x65, 0x65, 0x20, 0x66, 0x6f, 0x75, 0x72],
  mixed: [0x0a, 0x63, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0xc3, 0xa9, 0x22, 0x5c, 0x03, 0x78, 0x3b, 0x79],
  raw: [0x01, 0xe9],
};
const CHECKED_CAA = [0x00, 0x05, 0x69, 0x73, 0x73, 0x75, 0x65, 0x63, 0x61, 0x3b, 0x3b, 0xc3, 0xa9, 0xc3, 0xa9];

function parseText(text: string, zone = "bad.lan") {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-strings-"));
  const f = join(dir, "z.zone");
  writeFileSync(f, text);
  return { run: () => parseMasterFile(f, toWire(zone)), dir };
}

function errorOf(line: string): string {
  const { run, dir } = parseText(`$TTL 60\n@ SOA ns h 1 2 3 4 5\n${line}\n`);
  try {
    run();
  } catch (e) {
    return (e as Error).message.replace(dir + "/", "");
  }
  throw new Error("expected an error");
}

function rdataOfLine(line: string): number[] {
  return [...parseText(`$TTL 60\n@ SOA ns h 1 2 3 4 5\n${line}\n`).run()[1]!.rdata];
}

describe("character-strings in master files are the bytes written (RFC 1035 5.1)", () => {
  test("UTF-8 text in a quoted string is kept as its bytes, not re-encoded", () => {
    expect(rdataOf("cafe", 16)).toEqual(CHECKED.cafe!);
  });
  test("an unquoted token is one character-string of its bytes", () => {
    expect(rdataOf("bare", 16)).toEqual(CHECKED.bare!);
  });
  test("a byte that is not UTF-8 is kept as it is", () => {
    expect(rdataOf("raw", 16)).toEqual(CHECKED.raw!);
  });
  test("\\DDD is the byte DDD, in quoted and unquoted strings", () => {
    expect(rdataOf("dec", 16)).toEqual(CHECKED.dec!);
    expect(rdataOf("plain", 16)).toEqual(CHECKED.plain!);
    expect(rdataOf("ff", 16)).toEqual(CHECKED.ff!);
  });
  test("\\X is X: an escaped quote does not end a string, an escaped backslash is one backslash", () => {
    expect(rdataOf("quote", 16)).toEqual(CHECKED.quote!);
    expect(rdataOf("back", 16)).toEqual(CHECKED.back!);
  });
  test("a semicolon inside quotes is data; one outside starts a comment", () => {
    expect(rdataOf("semi", 16)).toEqual(CHECKED.semi!);
  });
  test("an empty quoted string is a zero-length character-string", () => {
    expect(rdataOf("empty", 16)).toEqual(CHECKED.empty!);
  });
  test("each string on a line, quoted or not, is its own character-string", () => {
    expect(rdataOf("multi", 16)).toEqual(CHECKED.multi!);
    expect(rdataOf("mixed", 16)).toEqual(CHECKED.mixed!);
  });
  test("a CAA value takes the same escapes and keeps non-ASCII bytes", () => {
    expect(rdataOf("caa", 257)).toEqual(CHECKED_CAA);
  });
  test("an unquoted CAA value takes escapes too", () => {
    // NSD 4.6.1 reads this as 00 05 "issue" "ca b"; ldns-read-zone 1.8.3 refuses unquoted CAA escapes.
    expect(rdataOfLine("x CAA 0 issue ca\\032b")).toEqual([0x00, 0x05, 0x69, 0x73, 0x73, 0x75, 0x65, 0x63, 0x61, 0x20, 0x62]);
  });
  test("a CAA value is not limited to 255 bytes, having no length byte", () => {
    expect(rdataOfLine(`x CAA 0 issue "${"a".repeat(300)}"`).length).toBe(2 + 5 + 300);
  });
  test("a string of 255 bytes is accepted", () => {
    expect(rdataOfLine(`x TXT "${"\\255".repeat(255)}"`)).toEqual([255, ...Array(255).fill(0xff)]);
  });
});

describe("names in master files", () => {
  test("a byte outside ASCII is a label byte, kept as written; only A-Z are lowercased", () => {
    const owners = records.filter((r) => r.type === 1).map((r) => [...r.owner]);
    expect(owners).toContainEqual(ownerOf([0x63, 0x61, 0x66, 0xc3, 0xa9])); // café
    expect(owners).toContainEqual(ownerOf([0x63, 0x61, 0x66, 0xc3, 0x89])); // CaFÉ: É is not A-Z
  });
  test("\\DDD in a name is a byte, lowercased like any other letter", () => {
    expect(records.filter((r) => r.type === 1).map((r) => [...r.owner])).toContainEqual(ownerOf([0x61, 0x62, 0x63])); // A\066c
  });
  test("\\. is a dot inside a label", () => {
    expect(records.filter((r) => r.type === 1).map((r) => [...r.owner])).toContainEqual(ownerOf([...Buffer.from("esc.dot")]));
  });
});

describe("bad escapes and long strings are file:line errors", () => {
  test("\\DDD above 255 in a quoted string", () => {
    expect(errorOf('x TXT "a\\256"')).toMatch(/^z\.zone:3: bad escape \\256 in "a\\256": more than 255$/);
  });
  test("\\DDD above 255 in an unquoted string and in a name", () => {
    expect(errorOf("x TXT a\\999")).toMatch(/^z\.zone:3: bad escape \\999/);
    expect(errorOf("x\\300 A 10.0.0.1")).toMatch(/^z\.zone:3: bad escape \\300/);
  });
  test("a backslash followed by fewer than three digits", () => {
    expect(errorOf('x TXT "a\\1b"')).toMatch(/^z\.zone:3: bad escape \\1 in "a\\1b": \\DDD takes three digits$/);
  });
  test("a dangling backslash at the end of a string or a name", () => {
    expect(errorOf("x TXT abc\\")).toMatch(/^z\.zone:3: dangling backslash in "abc\\"$/);
    expect(errorOf("x CNAME y\\")).toMatch(/^z\.zone:3: dangling backslash in "y\\"$/);
  });
  test("a backslash before the closing quote escapes it, leaving the string open", () => {
    expect(errorOf('x TXT "abc\\"')).toMatch(/^z\.zone:3: unterminated quoted string$/);
  });
  test("a quoted string longer than 255 bytes", () => {
    expect(errorOf(`x TXT "${"a".repeat(256)}"`)).toMatch(/^z\.zone:3: character-string of 256 bytes is longer than 255/);
  });
  test("an unquoted token longer than 255 bytes, being one character-string", () => {
    expect(errorOf(`x TXT ${"a".repeat(256)}`)).toMatch(/^z\.zone:3: character-string of 256 bytes is longer than 255/);
  });
  test("the length is counted in bytes, not characters", () => {
    expect(errorOf(`x TXT "${"é".repeat(128)}"`)).toMatch(/^z\.zone:3: character-string of 256 bytes is longer than 255/);
  });
  test("a message quotes non-ASCII text as it was written", () => {
    expect(errorOf('x TXT "café\\256"')).toContain('in "café\\256"');
  });
});

describe("AXFR", () => {
  test("a TXT with UTF-8 and escaped bytes goes through parse, pack and AXFR unchanged", () => {
    const question = new Uint8Array([...origin, 0x00, 0xfc, 0x00, 0x01]);
    const wire = Buffer.concat(axfrMessages(origin, organize(origin, records), 7, question));
    for (const [label, rdata] of Object.entries(CHECKED)) {
      const rr = [...ownerOf([...Buffer.from(label)]), 0x00, 0x10, 0x00, 0x01, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 255, ...rdata];
      expect(wire.indexOf(Buffer.from(rr))).toBeGreaterThan(0);
    }
  });
});

describe("ldns-read-zone as a reference", () => {
  test("reads test/fixtures/zones/strings.zone to the same owners, types and RDATA", () => {
    const ldns = Bun.which("ldns-read-zone");
    if (!ldns) {
      console.warn("ldns-read-zone is not installed (ldnsutils): skipping the comparison with it");
      return;
    }
    // -c: owners lowercased as ours are; -u: RDATA as RFC 3597 hex.
    const out = Bun.spawnSync([ldns, "-c", ...["SOA", "A", "TXT", "CAA"].flatMap((t) => ["-u", t]), FILE]);
    expect(out.exitCode).toBe(0);
    const theirs = out.stdout
      .toString()
      .trim()
      .split("\n")
      .map((line) => {
        const [owner, , , type, , , hex = ""] = line.split(/\s+/);
        return { owner: Buffer.from(nameToWire(owner!, new Uint8Array([0]))).toString("hex"), type: Number(type!.slice(4)), rdata: hex };
      });
    const ours = records.map((r) => ({ owner: Buffer.from(r.owner).toString("hex"), type: r.type, rdata: Buffer.from(r.rdata).toString("hex") }));
    expect(ours).toEqual(theirs);
  });
});
