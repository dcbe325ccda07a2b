// Denial of existence with NSEC over zones ldns-signzone signed: each proof an authoritative server would send
// is accepted, and each kind of wrong or incomplete proof ends in its own named verdict.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { toText, toWire } from "../../src/wire/name";
import { parseMasterText, type ZoneRecord } from "../../src/zones/master";
import { denialEde, denialVerdict } from "../../src/validator/denial";
import {
  nsecProvesInsecureDelegation, nsecProvesNodata, nsecProvesNxdomain, nsecProvesWildcardAnswer, nsecProvesWildcardNodata, parseNsec, type Nsec,
} from "../../src/validator/nsec";
import { parseDnskey, verifyRRset, type Dnskey } from "../../src/validator/verify";
import { DENIAL_CHILD as CHILD, DENIAL_ZONE, LDNS_MISSING, rrsetsOf, scratchDir, signDenialZone } from "./ldns";

const ROOT = scratchDir("bunbound-nsec-");
const NOW = Math.floor(Date.now() / 1000);
const [A, MX, TXT, DS] = [1, 15, 16, 43];
const NSEC = 47;

/**
 * DENIAL_ZONE (a wildcard, empty non-terminals ent. and b.ent., a signed and an unsigned delegation) and more: a
 * name below a wildcard (so *.emptywild. is an empty non-terminal), a DNAME, a second type at www.
 */
const ZONE = `${DENIAL_ZONE}www AAAA 2001:db8::10
x.*.emptywild TXT "below a wildcard"
dn DNAME example.net.
`;

interface SignedZone {
  records: ZoneRecord[];
  key: Dnskey;
}

/** `text` signed for `origin` by a fresh ECDSA key (NSEC, or NSEC3 with `args`), read back in RFC 3597 form. */
async function sign(name: string, origin: string, text: string, args: string[] = []): Promise<SignedZone> {
  const records = parseMasterText(await signDenialZone(join(ROOT, name), origin, text, args, NOW), "signed", toWire(origin));
  const dnskey = records.find((r) => r.type === 48)!;
  return { records, key: parseDnskey(dnskey.owner, dnskey.rdata)! };
}

/** The zone's NSEC records, each with the signer of its RRSIG. */
const nsecsOf = (z: SignedZone): Nsec[] =>
  rrsetsOf(z.records).filter((x) => x.rrset.type === NSEC).map((x) => parseNsec(x.rrset.owner, x.rrset.rdatas[0]!, x.rrsig.signer)!);

const w = toWire;
const EXAMPLE = w("example.");

describe.skipIf(LDNS_MISSING.length > 0)("NSEC proofs from a zone ldns-signzone signed", () => {
  let zone: SignedZone;
  let chain: Nsec[];
  let child: Nsec[];
  /** The NSEC at `owner`: the proofs are named by the owners a server picks, in canonical order. */
  const at = (...owners: string[]): Nsec[] =>
    owners.map((o) => {
      const hit = chain.find((n) => toText(n.owner) === o);
      if (!hit) throw new Error(`no NSEC at ${o}`);
      return hit;
    });
  beforeAll(async () => {
    zone = await sign("parent", "example.", ZONE);
    chain = nsecsOf(zone);
    child = nsecsOf(await sign("child", "secure.example.", CHILD));
  }, 30_000);

  test("the chain runs in canonical order through the names with data, skipping glue and empty non-terminals", () => {
    const links = chain.map((n) => `${toText(n.owner)} ${toText(n.next)}`);
    expect(links).toEqual([
      "example. alias.example.", "alias.example. dn.example.", "dn.example. x.*.emptywild.example.",
      "x.*.emptywild.example. a.b.ent.example.", "a.b.ent.example. insecure.example.", "insecure.example. ns1.example.",
      "ns1.example. secure.example.", "secure.example. *.wild.example.", "*.wild.example. www.example.", "www.example. example.",
    ]);
  });

  test("every NSEC RRset verifies, so the proofs below start from checked records", async () => {
    const sigs = rrsetsOf(zone.records).filter((x) => x.rrset.type === NSEC);
    const results = await Promise.all(sigs.map((x) => verifyRRset(x.rrset, x.rrsig, zone.key, NOW)));
    expect(new Set(results)).toEqual(new Set(["valid"]));
  });

  describe("NXDOMAIN", () => {
    test("an NSEC covering the name and one covering the wildcard at the closest encloser prove it", () => {
      expect(nsecProvesNxdomain(w("nope.example."), at("insecure.example.", "example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("the last NSEC wraps around to the apex, covering names after it and the wildcard below www", () => {
      expect(nsecProvesNxdomain(w("zzz.example."), at("www.example.", "example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesNxdomain(w("x.www.example."), at("www.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("names are compared in any case", () => {
      expect(nsecProvesNxdomain(w("NOPE.Example."), at("insecure.example.", "example."), w("EXAMPLE."))).toEqual({ state: "secure" });
    });

    test("the proof for another name proves nothing about this one", () => {
      expect(nsecProvesNxdomain(w("nope.example."), at("www.example.", "example."), EXAMPLE)).toEqual({ state: "bogus", why: "no-proof" });
    });

    test("without the NSEC covering the wildcard the name might have been a wildcard answer", () => {
      const d = nsecProvesNxdomain(w("nope.example."), at("insecure.example."), EXAMPLE);
      expect(d).toEqual({ state: "bogus", why: "wildcard-not-denied" });
      expect(denialEde(d)).toBe(12);
    });

    test("a chain with the covering NSEC removed proves nothing, whatever else it holds", () => {
      const truncated = chain.filter((n) => toText(n.owner) !== "insecure.example.");
      expect(nsecProvesNxdomain(w("nope.example."), truncated, EXAMPLE)).toEqual({ state: "bogus", why: "no-proof" });
    });

    test("an NSEC at the name, or one showing the name has descendants, says it exists", () => {
      const d = nsecProvesNxdomain(w("www.example."), chain, EXAMPLE);
      expect(d).toEqual({ state: "bogus", why: "name-exists" });
      expect(denialEde(d)).toBe(6);
      expect(nsecProvesNxdomain(w("b.ent.example."), chain, EXAMPLE)).toEqual({ state: "bogus", why: "empty-non-terminal" });
    });

    test("a name the wildcard covers is not NXDOMAIN, nor one an empty wildcard covers", () => {
      expect(nsecProvesNxdomain(w("foo.wild.example."), chain, EXAMPLE)).toEqual({ state: "bogus", why: "wildcard-exists" });
      expect(nsecProvesNxdomain(w("foo.emptywild.example."), chain, EXAMPLE)).toEqual({ state: "bogus", why: "wildcard-exists" });
    });

    test("the NSEC at a delegation or a DNAME cannot deny names below it (RFC 6840 4.1)", () => {
      expect(nsecProvesNxdomain(w("www.secure.example."), at("secure.example.", "example."), EXAMPLE)).toEqual({ state: "bogus", why: "delegation" });
      expect(nsecProvesNxdomain(w("foo.dn.example."), at("dn.example.", "example."), EXAMPLE)).toEqual({ state: "bogus", why: "dname" });
    });

    test("below an unsigned delegation the denial is insecure", () => {
      expect(nsecProvesNxdomain(w("foo.insecure.example."), at("insecure.example.", "example."), EXAMPLE)).toEqual({ state: "insecure", why: "insecure-delegation" });
    });
  });

  describe("NODATA", () => {
    test("the NSEC at the name without the type proves it", () => {
      expect(nsecProvesNodata(w("www.example."), MX, at("www.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("an NSEC with the type, or with a CNAME, contradicts it", () => {
      expect(nsecProvesNodata(w("www.example."), A, at("www.example."), EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
      expect(nsecProvesNodata(w("alias.example."), A, at("alias.example."), EXAMPLE)).toEqual({ state: "bogus", why: "cname-present" });
    });

    test("an empty non-terminal is proven by the NSEC whose next name is below it", () => {
      expect(nsecProvesNodata(w("b.ent.example."), A, at("x.*.emptywild.example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesNodata(w("ent.example."), TXT, at("x.*.emptywild.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("an NSEC covering the name says it does not exist, which is no NODATA", () => {
      expect(nsecProvesNodata(w("nope.example."), A, at("insecure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "no-proof" });
    });

    test("no DS at an unsigned delegation is proven by the parent's NSEC, and at a name that is no delegation", () => {
      expect(nsecProvesNodata(w("insecure.example."), DS, at("insecure.example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesNodata(w("www.example."), DS, at("www.example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesNodata(w("secure.example."), DS, at("secure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
    });

    test("the child's apex NSEC cannot prove the absence of DS; signed by the child it is ignored (RFC 6840 4.4)", () => {
      const apex = child.filter((n) => toText(n.owner) === "secure.example.");
      expect(nsecProvesNodata(w("secure.example."), DS, apex.map((n) => ({ ...n, signer: undefined })), EXAMPLE)).toEqual({ state: "bogus", why: "child-side" });
      expect(nsecProvesNodata(w("secure.example."), DS, apex, EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
    });

    test("other types at a delegation point want a referral; below an unsigned one the answer is insecure", () => {
      expect(nsecProvesNodata(w("secure.example."), A, at("secure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "delegation" });
      expect(nsecProvesNodata(w("insecure.example."), A, at("insecure.example."), EXAMPLE)).toEqual({ state: "insecure", why: "insecure-delegation" });
    });
  });

  describe("wildcards", () => {
    test("an answer from *.wild is proven by the NSEC covering the name, whose closest encloser is wild", () => {
      expect(nsecProvesWildcardAnswer(w("foo.wild.example."), w("*.wild.example."), at("*.wild.example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesWildcardAnswer(w("a.b.wild.example."), w("*.wild.example."), at("*.wild.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("an answer claimed from a wildcard further up is refused: a closer name would have answered", () => {
      expect(nsecProvesWildcardAnswer(w("foo.wild.example."), w("*.example."), at("*.wild.example."), EXAMPLE)).toEqual({ state: "bogus", why: "wrong-closest-encloser" });
      expect(nsecProvesWildcardAnswer(w("foo.wild.example."), w("wild.example."), at("*.wild.example."), EXAMPLE)).toEqual({ state: "bogus", why: "wrong-closest-encloser" });
    });

    test("an answer for a name that exists cannot come from a wildcard", () => {
      expect(nsecProvesWildcardAnswer(w("www.example."), w("*.example."), at("www.example."), EXAMPLE)).toEqual({ state: "bogus", why: "name-exists" });
    });

    test("NODATA from a wildcard: the name covered and the wildcard's NSEC without the type", () => {
      expect(nsecProvesWildcardNodata(w("foo.wild.example."), TXT, at("*.wild.example."), EXAMPLE)).toEqual({ state: "secure" });
      expect(nsecProvesWildcardNodata(w("foo.wild.example."), A, at("*.wild.example."), EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
    });

    test("NODATA from a wildcard that is an empty non-terminal", () => {
      expect(nsecProvesWildcardNodata(w("foo.emptywild.example."), A, at("x.*.emptywild.example.", "dn.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("wildcard NODATA without the wildcard's NSEC is unproven", () => {
      expect(nsecProvesWildcardNodata(w("nope.example."), A, at("insecure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "no-wildcard-match" });
    });
  });

  describe("insecure delegations", () => {
    test("the parent's NSEC with NS and without DS and SOA proves it", () => {
      expect(nsecProvesInsecureDelegation(w("insecure.example."), at("insecure.example."), EXAMPLE)).toEqual({ state: "secure" });
    });

    test("DS set, NS clear or SOA set each refute it", () => {
      expect(nsecProvesInsecureDelegation(w("secure.example."), at("secure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "ds-present" });
      expect(nsecProvesInsecureDelegation(w("www.example."), at("www.example."), EXAMPLE)).toEqual({ state: "bogus", why: "not-delegation" });
      expect(nsecProvesInsecureDelegation(w("example."), at("example."), EXAMPLE)).toEqual({ state: "bogus", why: "child-side" });
    });

    test("without an NSEC at the delegation nothing is proven", () => {
      expect(nsecProvesInsecureDelegation(w("insecure.example."), at("ns1.example."), EXAMPLE)).toEqual({ state: "bogus", why: "no-proof" });
    });
  });

  describe("the zone the records speak for", () => {
    test("NSECs of another zone are ignored", () => {
      expect(nsecProvesNxdomain(w("nope.example."), child, EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
      expect(nsecProvesNxdomain(w("nope.secure.example."), chain, w("secure.example."))).toEqual({ state: "bogus", why: "nsec-missing" });
    });

    test("an NSEC whose RRSIG another zone signed is ignored", () => {
      const resigned = at("insecure.example.", "example.").map((n) => ({ ...n, signer: w("net.") }));
      expect(nsecProvesNxdomain(w("nope.example."), resigned, EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
    });

    test("a name outside the zone cannot be denied by it", () => {
      expect(nsecProvesNxdomain(w("nope.example.net."), chain, EXAMPLE)).toEqual({ state: "bogus", why: "outside-zone" });
    });

    test("parseNsec refuses RDATA whose next name runs off its end", () => {
      expect(parseNsec(EXAMPLE, new Uint8Array([3, 0x77, 0x77]))).toBeNull();
      expect(parseNsec(EXAMPLE, new Uint8Array([0, 0, 1, 0x40]))).toEqual({ owner: EXAMPLE, next: new Uint8Array([0]), bitmap: new Uint8Array([0, 1, 0x40]), signer: undefined });
    });
  });
});

test("a denial becomes the chain's verdict, with the EDE its reason maps to", () => {
  expect(denialVerdict({ state: "bogus", why: "wildcard-not-denied" }, "nope.example./A")).toEqual({ state: "bogus", ede: 12, why: "nope.example./A: wildcard-not-denied" });
  expect(denialVerdict({ state: "bogus", why: "type-present" }, "www.example./A")).toEqual({ state: "bogus", ede: 6, why: "www.example./A: type-present" });
  expect(denialVerdict({ state: "insecure", why: "too-many-iterations" }, "q")).toEqual({ state: "insecure", ede: 27, why: "q: too-many-iterations" });
  expect(denialVerdict({ state: "insecure", why: "opt-out" }, "q")).toEqual({ state: "insecure", why: "q: opt-out" });
  expect(denialVerdict({ state: "secure" }, "q")).toEqual({ state: "secure" });
});
