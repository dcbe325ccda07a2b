// One link of the chain of trust at a time, on zones signed by ldns-signzone: a DNSKEY RRset made trusted by a DS
// set, an RRset made trusted by the zone's keys, and the verdict (with its RFC 8914 code) for each kind of damage.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdeCode, trustKeys, validateSet, type SignedSet } from "../../src/validator/chain";
import type { Ds } from "../../src/validator/digests";
import { DAY, LDNS_MISSING, dsOf, find, flip, signZone, type Signed } from "./ldns";

const ROOT = mkdtempSync(join(tmpdir(), "bunbound-chain-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const NOW = Math.floor(Date.now() / 1000);
const A = 1;
const DNSKEY = 48;
const skip = LDNS_MISSING.length > 0;
if (skip) console.warn(`skipping the chain tests: ${LDNS_MISSING.join(", ")} missing (apt-get install -y ldnsutils)`);

let z: Signed;
let ds2: Ds;
let ds1: Ds;
beforeAll(async () => {
  if (skip) return;
  const dir = join(ROOT, "p256");
  mkdirSync(dir);
  z = await signZone(dir, { algorithm: "ECDSAP256SHA256" });
  ds2 = await dsOf(z.keyFile, 2);
  ds1 = await dsOf(z.keyFile, 1);
});

const set = (s: Signed, owner: string, type: number): SignedSet => {
  const hit = find(s, owner, type);
  return { rrset: hit.rrset, sigs: s.sigs.filter((x) => x.rrset === hit.rrset).map((x) => x.rrsig) };
};

describe.skipIf(skip)("a zone's keys, trusted through the DS set above it", () => {
  test("a DS that matches the signing key makes the DNSKEY RRset secure, and its zone keys trusted", async () => {
    const r = await trustKeys(set(z, "example.", DNSKEY), [ds2], NOW);
    expect(r.verdict).toEqual({ state: "secure" });
    expect(r.keys.map((k) => k.keyTag)).toContain(z.key.keyTag);
  });

  test("a DS of another key: bogus, DNSKEY Missing (9)", async () => {
    const other: Ds = { ...ds2, keyTag: z.other.keyTag };
    const r = await trustKeys(set(z, "example.", DNSKEY), [other], NOW);
    expect(r.verdict).toMatchObject({ state: "bogus", ede: EdeCode.DnskeyMissing });
    expect(r.keys).toEqual([]);
  });

  test("a DS whose digest does not match: bogus, DNSKEY Missing", async () => {
    const r = await trustKeys(set(z, "example.", DNSKEY), [{ ...ds2, digest: flip(ds2.digest, 0) }], NOW);
    expect(r.verdict).toMatchObject({ state: "bogus", ede: EdeCode.DnskeyMissing });
  });

  test("SHA-1 DS records are ignored when a SHA-256 one is there (RFC 4509 3)", async () => {
    const good1 = await trustKeys(set(z, "example.", DNSKEY), [ds1, { ...ds2, digest: flip(ds2.digest, 3) }], NOW);
    expect(good1.verdict.state).toBe("bogus");
    const good2 = await trustKeys(set(z, "example.", DNSKEY), [{ ...ds1, digest: flip(ds1.digest, 3) }, ds2], NOW);
    expect(good2.verdict).toEqual({ state: "secure" });
    expect((await trustKeys(set(z, "example.", DNSKEY), [ds1], NOW)).verdict).toEqual({ state: "secure" });
  });

  test("only unsupported digests or algorithms in the DS set: insecure, not bogus (RFC 4035 5.2)", async () => {
    const gost = await trustKeys(set(z, "example.", DNSKEY), [{ ...ds2, digestType: 3 }], NOW);
    expect(gost.verdict).toMatchObject({ state: "insecure", ede: EdeCode.UnsupportedDsDigest });
    const privateAlg = await trustKeys(set(z, "example.", DNSKEY), [{ ...ds2, algorithm: 253 }], NOW);
    expect(privateAlg.verdict).toMatchObject({ state: "insecure", ede: EdeCode.UnsupportedDnskeyAlgorithm });
  });

  test("the DNSKEY RRset's own signature expired: bogus, Signature Expired (7)", async () => {
    const r = await trustKeys(set(z, "example.", DNSKEY), [ds2], z.expiration + 40 * DAY);
    expect(r.verdict).toMatchObject({ state: "bogus", ede: EdeCode.SignatureExpired });
  });
});

describe.skipIf(skip)("an RRset, trusted through the zone's keys", () => {
  test("signed by a trusted key: secure", async () => {
    expect(await validateSet(set(z, "www.example.", A), [z.key], NOW)).toEqual({ state: "secure" });
  });

  test("no RRSIG: bogus, RRSIGs Missing (10)", async () => {
    const s = set(z, "www.example.", A);
    expect(await validateSet({ ...s, sigs: [] }, [z.key], NOW)).toMatchObject({ state: "bogus", ede: EdeCode.RrsigsMissing });
  });

  test("signed, but by no key the zone trusts: bogus, DNSKEY Missing (9)", async () => {
    expect(await validateSet(set(z, "www.example.", A), [z.other], NOW)).toMatchObject({ state: "bogus", ede: EdeCode.DnskeyMissing });
  });

  test("a damaged signature: bogus, DNSSEC Bogus (6); an expired one: Signature Expired (7); a future one: 8", async () => {
    const s = set(z, "www.example.", A);
    const damaged = { ...s, sigs: s.sigs.map((g) => ({ ...g, signature: flip(g.signature, 5) })) };
    expect(await validateSet(damaged, [z.key], NOW)).toMatchObject({ state: "bogus", ede: EdeCode.DnssecBogus });
    expect(await validateSet(s, [z.key], z.expiration + 40 * DAY)).toMatchObject({ state: "bogus", ede: EdeCode.SignatureExpired });
    expect(await validateSet(s, [z.key], z.inception - 40 * DAY)).toMatchObject({ state: "bogus", ede: EdeCode.SignatureNotYetValid });
  });

  test("changed data under a good signature: bogus", async () => {
    const s = set(z, "www.example.", A);
    const forged = { ...s, rrset: { ...s.rrset, rdatas: s.rrset.rdatas.map((r) => flip(r, -1)) } };
    expect(await validateSet(forged, [z.key], NOW)).toMatchObject({ state: "bogus", ede: EdeCode.DnssecBogus });
  });
});
