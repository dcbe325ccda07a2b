// The checks around the signature: the RRSIG's fields against the RRset and the key, the validity window in
// serial-number arithmetic, which RSA key sizes and algorithms are validated, and the cache of imported keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toWire } from "../../src/wire/name";
import { loadOrCreateKey, signRRset } from "../../src/zones/dnssec";
import { KeyCache } from "../../src/validator/algorithms";
import { checkWindow, parseDnskey, parseRrsig, verifyRRset, type Dnskey } from "../../src/validator/verify";
import { IN, LDNS_MISSING, ORIGIN, find, signZone, type Signed } from "./ldns";

const ROOT = mkdtempSync(join(tmpdir(), "bunbound-validator-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const NOW = Math.floor(Date.now() / 1000);
const A = 1;
const MX = 15;
const TWO32 = 2 ** 32;

async function sign(name: string, spec: Parameters<typeof signZone>[1]): Promise<Signed> {
  const dir = join(ROOT, name);
  mkdirSync(dir);
  return signZone(dir, spec);
}

describe.skipIf(LDNS_MISSING.length > 0)("the RRSIG's fields against the RRset and the key", () => {
  let s: Signed;
  beforeAll(async () => {
    s = await sign("fields", { algorithm: "ECDSAP256SHA256" });
  }, 30_000);

  test("an RRSIG over another type is type-mismatch", async () => {
    const { rrset } = find(s, "www.example.", A);
    expect(await verifyRRset(rrset, find(s, "example.", MX).rrsig, s.key, NOW)).toBe("type-mismatch");
  });

  test("a labels field above the owner's label count is labels", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    expect(await verifyRRset(rrset, { ...rrsig, labels: 3 }, s.key, NOW)).toBe("labels");
  });

  test("an owner outside the signer's zone is signer", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    expect(await verifyRRset({ ...rrset, owner: toWire("www.example.net") }, rrsig, s.key, NOW)).toBe("signer");
  });

  test("a key of another owner or algorithm than the RRSIG names is key-mismatch", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    expect(await verifyRRset(rrset, rrsig, { ...s.key, owner: toWire("www.example.") }, NOW)).toBe("key-mismatch");
    expect(await verifyRRset(rrset, rrsig, { ...s.key, algorithm: 15 }, NOW)).toBe("key-mismatch");
    expect(await verifyRRset(rrset, rrsig, { ...s.key, owner: toWire("EXAMPLE.") }, NOW)).toBe("valid");
  });

  test("a DNSKEY without the zone flag, or of a protocol other than 3, is not-zone-key", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    expect(await verifyRRset(rrset, rrsig, { ...s.key, flags: 1 }, NOW)).toBe("not-zone-key");
    expect(await verifyRRset(rrset, rrsig, { ...s.key, protocol: 2 }, NOW)).toBe("not-zone-key");
  });

  test("an inception after the expiration is bad-window", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    expect(await verifyRRset(rrset, { ...rrsig, inception: rrsig.expiration + 1 }, s.key, NOW)).toBe("bad-window");
  });

  test("an algorithm without an implementation is unsupported-algorithm whatever its key holds", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    for (const algorithm of [1, 3, 6, 12, 253]) {
      const rdata = new Uint8Array([1, 1, 3, algorithm, 1, 2, 3, 4]);
      const key = parseDnskey(ORIGIN, rdata)!;
      expect(await verifyRRset(rrset, { ...rrsig, algorithm, keyTag: key.keyTag }, key, NOW)).toBe("unsupported-algorithm");
    }
  });

  test("key bytes that are no point on the curve are bad-key", async () => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    const rdata = new Uint8Array([1, 1, 3, 13, ...new Uint8Array(64).fill(7)]);
    const key = parseDnskey(ORIGIN, rdata)!;
    expect(await verifyRRset(rrset, { ...rrsig, keyTag: key.keyTag }, key, NOW)).toBe("bad-key");
  });
});

describe("the validity window in serial-number arithmetic (RFC 4034 3.1.5)", () => {
  const win = { inception: TWO32 - 1000, expiration: 5000 }; // as the RRSIG holds them: modulo 2^32

  test("a window across 2^32 holds the times inside it, before and after the wrap", () => {
    expect(checkWindow(win, TWO32 - 500, 0, 0)).toBeNull();
    expect(checkWindow(win, TWO32 + 4000, 0, 0)).toBeNull();
    expect(checkWindow(win, TWO32 - 1001, 0, 0)).toBe("not-yet-valid");
    expect(checkWindow(win, TWO32 + 5001, 0, 0)).toBe("expired");
  });

  test("the allowance is a tenth of the window, kept between skewMin and skewMax", () => {
    const day = { inception: 1_000_000, expiration: 1_000_000 + 86400 };
    expect(checkWindow(day, day.expiration + 8640, 0, 1e9)).toBeNull();
    expect(checkWindow(day, day.expiration + 8641, 0, 1e9)).toBe("expired");
    expect(checkWindow(day, day.expiration + 100, 0, 99)).toBe("expired");
    const short = { inception: 1_000_000, expiration: 1_000_000 + 1000 };
    expect(checkWindow(short, short.expiration + 3600)).toBeNull(); // the defaults: at least an hour
    expect(checkWindow(short, short.expiration + 3601)).toBe("expired");
    const month = { inception: 1_000_000, expiration: 1_000_000 + 30 * 86400 };
    expect(checkWindow(month, month.expiration + 86400)).toBeNull(); // and at most a day
    expect(checkWindow(month, month.inception - 86401)).toBe("not-yet-valid");
  });

  test("a signature whose window crosses 2^32 verifies inside it and expires after it", async () => {
    const dir = join(ROOT, "wrap");
    const zk = await loadOrCreateKey(dir, "example.", 13);
    const owner = toWire("www.example.");
    const rdatas = [new Uint8Array([192, 0, 2, 1])];
    const sig = parseRrsig(await signRRset(owner, A, 300, rdatas, zk, ORIGIN, win))!;
    expect(sig.expiration).toBe(5000);
    const key = parseDnskey(ORIGIN, zk.dnskeyRdata)!;
    const rrset = { owner, type: A, class: IN, rdatas };
    expect(await verifyRRset(rrset, sig, key, TWO32 + 10)).toBe("valid");
    expect(await verifyRRset(rrset, sig, key, TWO32 + 5000 + 3601)).toBe("expired");
  });
});

describe.skipIf(LDNS_MISSING.length > 0)("RSA key sizes and SHA-1 algorithms", () => {
  let short: Signed;
  let short512: Signed;
  let sha1: Signed;
  beforeAll(async () => {
    [short, short512, sha1] = await Promise.all([
      sign("rsa512", { algorithm: "RSASHA256", bits: 512 }),
      sign("rsasha512-768", { algorithm: "RSASHA512", bits: 768 }),
      sign("sha1", { algorithm: "RSASHA1" }),
    ]);
  }, 60_000);
  const check = (s: Signed, opts = {}) => {
    const { rrset, rrsig } = find(s, "www.example.", A);
    return verifyRRset(rrset, rrsig, s.key, NOW, opts);
  };

  test("a 512-bit RSA/SHA-256 key is validated (RFC 5702's floor), unless minRsaBits is raised", async () => {
    expect(await check(short)).toBe("valid");
    expect(await check(short, { minRsaBits: 1024 })).toBe("unsupported-key");
  });

  test("an RSA/SHA-512 key below 1024 bits is unsupported-key (RFC 5702 2.1)", async () => {
    expect(await check(short512)).toBe("unsupported-key");
  });

  test("an RSA exponent longer than 33 bits, which this runtime's library cannot check, is unsupported-key", async () => {
    const { rrset, rrsig } = find(short, "www.example.", A);
    const pub = short.key.publicKey; // 1-byte exponent length, exponent, modulus (RFC 3110 2)
    for (const [bytes, expected] of [[4, "bad-signature"], [5, "unsupported-key"]] as const) {
      const e = new Uint8Array(bytes).fill(0xff);
      const rdata = new Uint8Array([...short.key.rdata.subarray(0, 4), bytes, ...e, ...pub.subarray(1 + pub[0]!)]);
      const key = parseDnskey(ORIGIN, rdata)!;
      expect(await verifyRRset(rrset, { ...rrsig, keyTag: key.keyTag }, key, NOW)).toBe(expected);
    }
  });

  test("RSASHA1 is validated by default and unsupported-algorithm with sha1 off", async () => {
    expect(await check(sha1)).toBe("valid");
    expect(await check(sha1, { sha1: false })).toBe("unsupported-algorithm");
  });
});

describe.skipIf(LDNS_MISSING.length > 0)("the cache of imported keys", () => {
  let a: Signed;
  let b: Signed;
  beforeAll(async () => {
    [a, b] = await Promise.all([sign("cache-a", { algorithm: "ED25519" }), sign("cache-b", { algorithm: "RSASHA256" })]);
  }, 30_000);
  const all = (s: Signed, keys: KeyCache, key: Dnskey = s.key) => Promise.all(s.sigs.map((x) => verifyRRset(x.rrset, x.rrsig, key, NOW, { keys })));

  test("a DNSKEY is imported once however many RRSIGs it verifies", async () => {
    const keys = new KeyCache(8);
    expect(new Set([...(await all(a, keys)), ...(await all(a, keys))])).toEqual(new Set(["valid"]));
    expect(keys.size).toBe(1);
    await all(b, keys);
    expect(keys.size).toBe(2);
  });

  test("the cache holds at most its bound, the least recently used key leaving first", async () => {
    const keys = new KeyCache(2);
    await all(a, keys);
    await all(b, keys);
    await all(a, keys); // a is now the most recently used
    const forged = { ...a.other, keyTag: a.key.keyTag }; // passes the tag check, so it is imported
    expect(new Set(await all(a, keys, forged))).toEqual(new Set(["bad-signature"]));
    expect(keys.size).toBe(2);
    expect([keys.has(a.key.rdata), keys.has(b.key.rdata), keys.has(a.other.rdata)]).toEqual([true, false, true]);
  });
});
