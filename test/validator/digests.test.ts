// DS records from ldns-key2ds matched against their keys, and NSEC3 owner hashes against the chain
// ldns-signzone -n made and against ldns-nsec3-hash.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toText, toWire } from "../../src/wire/name";
import { base32hex, dsMatches, nsec3Hash, NSEC3_MAX_ITERATIONS } from "../../src/validator/digests";
import { verifyRRset, type Dnskey } from "../../src/validator/verify";
import { LDNS_MISSING, NAMES, dsOf, flip, makeKey, run, signZone, upper, type Signed } from "./ldns";

const ROOT = mkdtempSync(join(tmpdir(), "bunbound-validator-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const NOW = Math.floor(Date.now() / 1000);
const NSEC3 = 50;
const ALGORITHMS = ["RSASHA256", "RSASHA512", "ECDSAP256SHA256", "ECDSAP384SHA384", "ED25519", "ED448", "RSASHA1"];

describe.skipIf(LDNS_MISSING.length > 0)("DS records from ldns-key2ds", () => {
  const keys = new Map<string, { key: Dnskey; keyFile: string }>();
  beforeAll(async () => {
    for (const alg of ALGORITHMS) {
      const dir = join(ROOT, `ds-${alg}`);
      mkdirSync(dir);
      keys.set(alg, await makeKey(dir, alg));
    }
  }, 60_000);

  for (const alg of ALGORITHMS) {
    test(`${alg}: SHA-1, SHA-256 and SHA-384 digests match the key, whatever the case of its owner`, async () => {
      const { key, keyFile } = keys.get(alg)!;
      for (const digest of [1, 2, 4] as const) {
        const ds = await dsOf(keyFile, digest);
        expect(ds.digestType).toBe(digest);
        expect(dsMatches(ds, key)).toBe("match");
        expect(dsMatches(ds, { ...key, owner: upper(key.owner) })).toBe("match");
      }
    });
  }

  test("a SHA-1 digest is unsupported-digest when SHA-1 is off", async () => {
    const { key, keyFile } = keys.get("ECDSAP256SHA256")!;
    expect(dsMatches(await dsOf(keyFile, 1), key, false)).toBe("unsupported-digest");
    expect(dsMatches(await dsOf(keyFile, 2), key, false)).toBe("match");
  });

  test("another key's DS is key-mismatch, a changed digest or owner is digest-mismatch", async () => {
    const { key, keyFile } = keys.get("ED25519")!;
    const ds = await dsOf(keyFile, 2);
    expect(dsMatches(ds, keys.get("ECDSAP256SHA256")!.key)).toBe("key-mismatch");
    expect(dsMatches({ ...ds, digest: flip(ds.digest, 5) }, key)).toBe("digest-mismatch");
    expect(dsMatches({ ...ds, digest: ds.digest.subarray(1) }, key)).toBe("digest-mismatch");
    expect(dsMatches(ds, { ...key, owner: toWire("example.net") })).toBe("digest-mismatch");
  });

  test("digest types without an implementation (GOST, unassigned) are unsupported-digest", async () => {
    const { key, keyFile } = keys.get("ED25519")!;
    const ds = await dsOf(keyFile, 2);
    for (const digestType of [0, 3, 5, 255]) expect(dsMatches({ ...ds, digestType }, key)).toBe("unsupported-digest");
  });
});

describe.skipIf(LDNS_MISSING.length > 0)("NSEC3 hashes", () => {
  const salt = new Uint8Array([0xc0, 0xff, 0xee]);
  const iterations = 5;
  let s: Signed;
  let chain: { owner: string; next: string }[];
  beforeAll(async () => {
    const dir = join(ROOT, "nsec3");
    mkdirSync(dir);
    s = await signZone(dir, { algorithm: "ECDSAP256SHA256", nsec3: { iterations, salt: "c0ffee" } });
    chain = s.sigs
      .filter((x) => x.rrset.type === NSEC3)
      .map((x) => {
        const r = x.rrset.rdatas[0]!;
        const saltEnd = 5 + r[4]!;
        const next = r.subarray(saltEnd + 1, saltEnd + 1 + r[saltEnd]!);
        return { owner: toText(x.rrset.owner).split(".")[0]!, next: base32hex(next) };
      });
  }, 30_000);
  const hashOf = (name: string) => base32hex(nsec3Hash(toWire(name), salt, iterations) as Uint8Array);

  test("every NSEC3 owner ldns-signzone made is the hash of a name of the zone, and every name has one", () => {
    expect(chain.map((c) => c.owner).sort()).toEqual(NAMES.map(hashOf).sort());
  });

  test("each NSEC3 record's next hashed owner is the next hash in order, the last pointing at the first", () => {
    const sorted = NAMES.map(hashOf).sort();
    const next = new Map(chain.map((c) => [c.owner, c.next]));
    sorted.forEach((h, i) => expect(next.get(h)).toBe(sorted[(i + 1) % sorted.length]));
  });

  test("names are hashed in lower case", () => {
    expect(base32hex(nsec3Hash(upper(toWire("www.example.")), salt, iterations) as Uint8Array)).toBe(hashOf("www.example."));
  });

  test("every RRSIG of the NSEC3-signed zone verifies, over NSEC3 and NSEC3PARAM records too", async () => {
    const r = await Promise.all(s.sigs.map((x) => verifyRRset(x.rrset, x.rrsig, s.key, NOW)));
    expect(new Set(r)).toEqual(new Set(["valid"]));
    expect(new Set(s.sigs.map((x) => x.rrsig.typeCovered))).toContain(51);
    expect(new Set(s.sigs.map((x) => x.rrsig.typeCovered))).toContain(NSEC3);
  });

  test("ldns-nsec3-hash gives the same hashes, with no salt and no iterations too", async () => {
    for (const [name, t, sl] of [["example.", 0, ""], ["www.example.", 5, "c0ffee"], ["A.B.example.", 1, "ab"]] as const) {
      const out = (await run(["ldns-nsec3-hash", "-t", String(t), ...(sl ? ["-s", sl] : []), name], ROOT)).trim();
      expect(`${base32hex(nsec3Hash(toWire(name), Buffer.from(sl, "hex"), t) as Uint8Array)}.`).toBe(out);
    }
  });

  test("more iterations than the limit are refused before any is done; a higher limit allows them", () => {
    const name = toWire("www.example.");
    expect(nsec3Hash(name, salt, NSEC3_MAX_ITERATIONS + 1)).toBe("too-many-iterations");
    expect(nsec3Hash(name, salt, NSEC3_MAX_ITERATIONS)).toBeInstanceOf(Uint8Array);
    expect(nsec3Hash(name, salt, 500, 1, 500)).toBeInstanceOf(Uint8Array);
    expect(nsec3Hash(name, salt, 0, 2)).toBe("unsupported-algorithm");
  });

  test("an NSEC3 owner label is the base32hex of the hash (RFC 4648 7, no padding)", () => {
    expect(base32hex(new Uint8Array([]))).toBe("");
    expect(base32hex(new TextEncoder().encode("f"))).toBe("co");
    expect(base32hex(new TextEncoder().encode("foobar"))).toBe("cpnmuoj1e8");
    expect(hashOf("example.")).toHaveLength(32); // 20 bytes in 5-bit digits
  });
});
