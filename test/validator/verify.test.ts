// RRSIGs made by ldns-signzone, for every DNSKEY algorithm, checked by the validator: each verifies, and each kind
// of damage ends in its own named failure.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SKEW_MAX, verifyRRset, type VerifyOptions } from "../../src/validator/verify";
import { DAY, LDNS_MISSING, find, flip, parseSigned, signZone, upper, type Signed } from "./ldns";

const ROOT = mkdtempSync(join(tmpdir(), "bunbound-validator-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const NOW = Math.floor(Date.now() / 1000);
const A = 1;
const NS = 2;
const CNAME = 5;
const MX = 15;
const TXT = 16;
const SRV = 33;

/** Whether this runtime's WebCrypto has Ed448 (BoringSSL-based Bun does not). */
const HAS_ED448 = await crypto.subtle.importKey("raw", new Uint8Array(57), { name: "Ed448" }, false, ["verify"]).then(
  () => true,
  (e: Error) => e.name !== "NotSupportedError",
);

const ALGORITHMS = [
  { name: "RSASHA256", number: 8, supported: true },
  { name: "RSASHA512", number: 10, supported: true },
  { name: "ECDSAP256SHA256", number: 13, supported: true },
  { name: "ECDSAP384SHA384", number: 14, supported: true },
  { name: "ED25519", number: 15, supported: true },
  { name: "ED448", number: 16, supported: HAS_ED448 },
  { name: "RSASHA1", number: 5, supported: true },
  { name: "RSASHA1-NSEC3-SHA1", number: 7, supported: true },
];

async function sign(name: string, spec: Parameters<typeof signZone>[1]): Promise<Signed> {
  const dir = join(ROOT, name);
  mkdirSync(dir);
  return signZone(dir, spec);
}

async function verifyAll(s: Signed, now = NOW, opts: VerifyOptions = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const x of s.sigs) out[x.where] = await verifyRRset(x.rrset, x.rrsig, s.key, now, opts);
  return out;
}

const every = (r: Record<string, string>, v: string) => Object.fromEntries(Object.keys(r).map((k) => [k, v]));

for (const alg of ALGORITHMS) {
  describe.skipIf(LDNS_MISSING.length > 0)(`${alg.name} (algorithm ${alg.number})`, () => {
    let s: Signed;
    beforeAll(async () => {
      s = await sign(alg.name, { algorithm: alg.name });
      expect(s.key.algorithm).toBe(alg.number);
    }, 60_000);

    if (!alg.supported) {
      test("every RRSIG is unsupported-algorithm on this runtime, which makes the zone insecure, not bogus", async () => {
        const r = await verifyAll(s);
        expect(Object.keys(r).length).toBeGreaterThan(10);
        expect(r).toEqual(every(r, "unsupported-algorithm"));
      });
      return;
    }

    test("every RRSIG ldns-signzone made verifies with the key that made it", async () => {
      const r = await verifyAll(s);
      expect(Object.keys(r).length).toBeGreaterThan(10);
      expect(r).toEqual(every(r, "valid"));
    });

    test("an RRset verifies whatever the order, duplicates and case of its records and owner", async () => {
      const { rrset, rrsig } = find(s, "www.example.", A);
      const shuffled = { ...rrset, owner: upper(rrset.owner), rdatas: [...rrset.rdatas].reverse().concat(rrset.rdatas[1]!) };
      expect(await verifyRRset(shuffled, rrsig, s.key, NOW)).toBe("valid");
    });

    test("names inside NS, MX, CNAME and SRV records are compared in lower case", async () => {
      const cases: [number, number][] = [[NS, 0], [MX, 2], [CNAME, 0], [SRV, 6]];
      for (const [type, skip] of cases) {
        const owner = type === CNAME ? "alias.example." : type === SRV ? "_sip._tcp.example." : "example.";
        const { rrset, rrsig } = find(s, owner, type);
        const rdatas = rrset.rdatas.map((r) => new Uint8Array([...r.subarray(0, skip), ...upper(r.subarray(skip))]));
        expect(rdatas.some((r, i) => r.some((c, k) => c !== rrset.rdatas[i]![k]))).toBe(true);
        expect(await verifyRRset({ ...rrset, rdatas }, rrsig, s.key, NOW)).toBe("valid");
      }
    });

    test("a flipped byte in the signature is bad-signature", async () => {
      const { rrset, rrsig } = find(s, "txt.example.", TXT);
      expect(await verifyRRset(rrset, { ...rrsig, signature: flip(rrsig.signature, 0) }, s.key, NOW)).toBe("bad-signature");
      expect(await verifyRRset(rrset, { ...rrsig, signature: flip(rrsig.signature, -1) }, s.key, NOW)).toBe("bad-signature");
      expect(await verifyRRset(rrset, { ...rrsig, signature: rrsig.signature.subarray(1) }, s.key, NOW)).toBe("bad-signature");
    });

    test("a changed RDATA is bad-signature", async () => {
      const { rrset, rrsig } = find(s, "www.example.", A);
      const rdatas = [flip(rrset.rdatas[0]!, -1), ...rrset.rdatas.slice(1)];
      expect(await verifyRRset({ ...rrset, rdatas }, rrsig, s.key, NOW)).toBe("bad-signature");
      expect(await verifyRRset({ ...rrset, rdatas: rrset.rdatas.slice(1) }, rrsig, s.key, NOW)).toBe("bad-signature");
    });

    test("the RRSIG's original TTL is signed: another value is bad-signature", async () => {
      const { rrset, rrsig } = find(s, "www.example.", A);
      expect(rrsig.originalTtl).toBe(600);
      expect(await verifyRRset(rrset, { ...rrsig, originalTtl: 300 }, s.key, NOW)).toBe("bad-signature");
    });

    test("the records' own TTLs do not matter (a cache counts them down)", async () => {
      const aged = s.text.replace(/^(\S+)\t\d+\t/gm, "$1\t7\t");
      expect(aged).not.toBe(s.text);
      const r: Record<string, string> = {};
      for (const x of parseSigned(aged)) r[x.where] = await verifyRRset(x.rrset, x.rrsig, s.key, NOW);
      expect(r).toEqual(every(r, "valid"));
    });

    test("past the expiration by more than the skew allowance is expired; within it, still valid", async () => {
      const { rrset, rrsig } = find(s, "example.", MX);
      expect(rrsig.expiration).toBe(s.expiration);
      expect(await verifyRRset(rrset, rrsig, s.key, s.expiration + SKEW_MAX + 1)).toBe("expired");
      expect(await verifyRRset(rrset, rrsig, s.key, s.expiration + 60)).toBe("valid");
      expect(await verifyRRset(rrset, rrsig, s.key, s.expiration + 60, { skewMin: 0, skewMax: 0 })).toBe("expired");
    });

    test("before the inception by more than the skew allowance is not-yet-valid", async () => {
      const { rrset, rrsig } = find(s, "example.", MX);
      expect(rrsig.inception).toBe(s.inception);
      expect(await verifyRRset(rrset, rrsig, s.key, s.inception - SKEW_MAX - 1)).toBe("not-yet-valid");
      expect(await verifyRRset(rrset, rrsig, s.key, s.inception - DAY / 2)).toBe("valid");
    });

    test("another key is key-mismatch, and under the signing key's tag it is bad-signature", async () => {
      const { rrset, rrsig } = find(s, "example.", NS);
      expect(s.other.keyTag).not.toBe(s.key.keyTag);
      expect(await verifyRRset(rrset, rrsig, s.other, NOW)).toBe("key-mismatch");
      expect(await verifyRRset(rrset, rrsig, { ...s.other, keyTag: s.key.keyTag }, NOW)).toBe("bad-signature");
    });

    test("a wildcard's RRSIG verifies at a name the wildcard answered for, not at the wildcard's parent", async () => {
      const { rrset, rrsig } = find(s, "*.wild.example.", A);
      expect(rrsig.labels).toBe(2);
      const expanded = { ...rrset, owner: new Uint8Array([1, 0x41, 2, 0x62, 0x43, ...upper(rrset.owner.subarray(2))]) }; // A.bC.WILD.EXAMPLE.
      expect(await verifyRRset(expanded, rrsig, s.key, NOW)).toBe("valid");
      expect(await verifyRRset({ ...rrset, owner: rrset.owner.subarray(2) }, rrsig, s.key, NOW)).toBe("bad-signature");
    });
  });
}
