// Denial of existence with NSEC3 over zones ldns-signzone -n signed (salted, iterated, with and without opt-out):
// the records RFC 5155 7.2 has a server send are picked here by hashing, and every proof is accepted; each wrong
// or incomplete one ends in its own named verdict.
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { toText, toWire } from "../../src/wire/name";
import { parseMasterText, type ZoneRecord } from "../../src/zones/master";
import { denialEde } from "../../src/validator/denial";
import { base32hex, nsec3Hash } from "../../src/validator/digests";
import {
  fromBase32hex, nsec3ProvesInsecureDelegation, nsec3ProvesNodata, nsec3ProvesNxdomain, nsec3ProvesWildcardAnswer, nsec3ProvesWildcardNodata,
  parseNsec3, type Nsec3,
} from "../../src/validator/nsec3";
import { parseDnskey, verifyRRset } from "../../src/validator/verify";
import { DENIAL_CHILD as CHILD, DENIAL_ZONE as ZONE, LDNS_MISSING, rrsetsOf, scratchDir, signDenialZone } from "./ldns";

const ROOT = scratchDir("bunbound-nsec3-");
const NOW = Math.floor(Date.now() / 1000);
const [A, MX, TXT, DS] = [1, 15, 16, 43];
const NSEC3 = 50;

/** The names the NSEC3 chain hashes: every owner but glue, and the empty non-terminals. */
const NAMES = ["example.", "ns1.example.", "www.example.", "alias.example.", "a.b.ent.example.", "b.ent.example.", "ent.example.",
  "*.wild.example.", "wild.example.", "secure.example.", "insecure.example."];

/** A signed zone as a server holds it: its NSEC3 records by hash, and the hash parameters. */
class Zone {
  readonly byHash = new Map<string, Nsec3>();
  constructor(readonly records: Nsec3[], readonly salt: Uint8Array, readonly iterations: number, readonly signed: ZoneRecord[]) {
    for (const r of records) this.byHash.set(toText(r.owner).split(".")[0]!, r);
  }
  hash = (name: string): string => base32hex(nsec3Hash(toWire(name), this.salt, this.iterations, 1, 65535) as Uint8Array);
  matching = (name: string): Nsec3 | undefined => this.byHash.get(this.hash(name));
  /** The record whose span holds the name's hash: the last owner hash before it, else the last of all. */
  covering(name: string): Nsec3 {
    const h = this.hash(name);
    if (this.byHash.has(h)) throw new Error(`${name} exists`);
    const owners = [...this.byHash.keys()].sort();
    return this.byHash.get(owners.filter((o) => o < h).at(-1) ?? owners.at(-1)!)!;
  }
  /** RFC 5155 7.2.1: the closest encloser (the longest ancestor that exists) matched, the next closer name covered. */
  closestEncloserProof(qname: string): { ce: string; records: Nsec3[] } {
    const labels = qname.split(".").filter(Boolean);
    for (let i = 1; i < labels.length; i++) {
      const ce = `${labels.slice(i).join(".")}.`;
      const match = this.matching(ce);
      if (match) return { ce, records: [match, this.covering(`${labels.slice(i - 1).join(".")}.`)] };
    }
    throw new Error(`no closest encloser for ${qname}`);
  }
  /** RFC 5155 7.2.2. */
  nxdomain(qname: string): Nsec3[] {
    const p = this.closestEncloserProof(qname);
    return [...new Set([...p.records, this.covering(`*.${p.ce}`)])];
  }
}

/**
 * ldns-signzone -p sets the opt-out flag but still hashes unsigned delegations; a signer that leaves them out of
 * the chain signs the zone as if they were not there, so that is how the opt-out zone is signed, and its unsigned
 * delegation is added to the signed zone afterwards.
 */
const UNSIGNED = ZONE.split("\n").filter((l) => l.includes("insecure")).join("\n");
const OPT_OUT_ZONE = ZONE.split("\n").filter((l) => !l.includes("insecure")).join("\n");

/** `text` signed for `origin` by a fresh ECDSA key with ldns-signzone `args`, read back in RFC 3597 form. */
async function sign(name: string, origin: string, text: string, args: string[], unsigned = ""): Promise<Zone> {
  const signed = parseMasterText(`${await signDenialZone(join(ROOT, name), origin, text, ["-n", ...args], NOW)}\n$ORIGIN ${origin}\n${unsigned}\n`, "signed", toWire(origin));
  const records = rrsetsOf(signed).filter((x) => x.rrset.type === NSEC3).map((x) => parseNsec3(x.rrset.owner, x.rrset.rdatas[0]!, x.rrsig.signer)!);
  return new Zone(records, records[0]!.salt, records[0]!.iterations, signed);
}

const w = toWire;
const EXAMPLE = w("example.");
const SECURE = { state: "secure" } as const;

describe.skipIf(LDNS_MISSING.length > 0)("NSEC3 proofs from zones ldns-signzone -n signed", () => {
  let plain: Zone;
  let optOut: Zone;
  let flagged: Zone;
  let heavy: Zone;
  let child: Zone;
  /** A name whose next closer span differs from the span over *.example, and a name with a third span. */
  let q: string;
  let other: string;
  /** A name below wild. whose next closer span is not the one starting at *.wild. */
  let wq: string;
  /** A name in the last span, which wraps around from the highest hash to the lowest. */
  let wrapped: string;
  beforeAll(async () => {
    plain = await sign("plain", "example.", ZONE, ["-t", "5", "-s", "c0ffee"]);
    optOut = await sign("opt-out", "example.", OPT_OUT_ZONE, ["-t", "5", "-s", "beef", "-p"], UNSIGNED);
    flagged = await sign("flagged", "example.", ZONE, ["-t", "5", "-s", "beef", "-p"]);
    heavy = await sign("heavy", "example.", ZONE, ["-t", "151", "-s", "c0ffee"]);
    child = await sign("child", "secure.example.", CHILD, ["-t", "5", "-s", "c0ffee"]);
    const names = Array.from({ length: 64 }, (_, i) => `n${i}.example.`);
    const wild = plain.covering("*.example.");
    q = names.find((n) => plain.covering(n) !== wild)!;
    other = names.find((n) => ![wild, plain.covering(q)].includes(plain.covering(n)))!;
    const star = plain.matching("*.wild.example.");
    const last = plain.byHash.get([...plain.byHash.keys()].sort().at(-1)!);
    wrapped = Array.from({ length: 256 }, (_, i) => `w${i}.example.`).find((n) => plain.covering(n) === last)!;
    wq = Array.from({ length: 64 }, (_, i) => `n${i}.wild.example.`).find((n) => plain.covering(n) !== star)!;
  }, 60_000);

  test("every name of the zone has an NSEC3, empty non-terminals included and glue left out; opt-out leaves out the unsigned delegation", () => {
    expect([...plain.byHash.keys()].sort()).toEqual(NAMES.map(plain.hash).sort());
    expect([...optOut.byHash.keys()].sort()).toEqual(NAMES.filter((n) => n !== "insecure.example.").map(optOut.hash).sort());
    expect(optOut.signed.filter((r) => r.type === 2).map((r) => toText(r.owner))).toContain("insecure.example.");
    expect(new Set(optOut.records.map((r) => r.flags))).toEqual(new Set([1]));
    expect(new Set(plain.records.map((r) => r.flags))).toEqual(new Set([0]));
  });

  test("every NSEC3 RRset verifies, so the proofs below start from checked records", async () => {
    const sigs = rrsetsOf(plain.signed).filter((x) => x.rrset.type === NSEC3);
    const key = plain.signed.find((r) => r.type === 48)!;
    const results = await Promise.all(sigs.map((x) => verifyRRset(x.rrset, x.rrsig, parseDnskey(key.owner, key.rdata)!, NOW)));
    expect(new Set(results)).toEqual(new Set(["valid"]));
  });

  describe("NXDOMAIN", () => {
    test("the closest encloser proof and the wildcard's span prove it, at any depth", () => {
      expect(nsec3ProvesNxdomain(w(q), plain.nxdomain(q), EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesNxdomain(w("x.y.www.example."), plain.nxdomain("x.y.www.example."), EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesNxdomain(w(q.toUpperCase()), plain.nxdomain(q), w("EXAMPLE."))).toEqual(SECURE);
    });

    test("the last NSEC3 wraps around to the first: its span holds hashes above the highest and below the lowest", () => {
      expect(wrapped).toBeDefined();
      expect(nsec3ProvesNxdomain(w(wrapped), plain.nxdomain(wrapped), EXAMPLE)).toEqual(SECURE);
    });

    test("the proof for another name leaves the next closer name uncovered", () => {
      expect(nsec3ProvesNxdomain(w(q), plain.nxdomain(other), EXAMPLE)).toEqual({ state: "bogus", why: "next-closer-not-covered" });
    });

    test("without the span over the wildcard the name might have been a wildcard answer", () => {
      const d = nsec3ProvesNxdomain(w(q), plain.nxdomain(q).filter((r) => r !== plain.covering("*.example.")), EXAMPLE);
      expect(d).toEqual({ state: "bogus", why: "wildcard-not-denied" });
      expect(denialEde(d)).toBe(12);
    });

    test("a chain with the span over the name removed proves nothing, whatever else it holds", () => {
      const truncated = plain.records.filter((r) => r !== plain.covering(q));
      expect(nsec3ProvesNxdomain(w(q), truncated, EXAMPLE)).toEqual({ state: "bogus", why: "next-closer-not-covered" });
    });

    test("a matched name exists, and so does the wildcard under wild.", () => {
      expect(nsec3ProvesNxdomain(w("www.example."), plain.records, EXAMPLE)).toEqual({ state: "bogus", why: "name-exists" });
      const wildcard = [...plain.closestEncloserProof("foo.wild.example.").records, plain.matching("*.wild.example.")!];
      expect(nsec3ProvesNxdomain(w("foo.wild.example."), wildcard, EXAMPLE)).toEqual({ state: "bogus", why: "wildcard-exists" });
    });

    test("a closest encloser at a signed delegation cannot deny names below it; at an unsigned one it is insecure", () => {
      expect(nsec3ProvesNxdomain(w("www.secure.example."), plain.nxdomain("www.secure.example."), EXAMPLE)).toEqual({ state: "bogus", why: "delegation" });
      expect(nsec3ProvesNxdomain(w("www.insecure.example."), plain.nxdomain("www.insecure.example."), EXAMPLE)).toEqual({ state: "insecure", why: "insecure-delegation" });
    });

    test("in an opt-out span the NXDOMAIN stands but is insecure: an unsigned delegation may hide there", () => {
      expect(nsec3ProvesNxdomain(w(q), optOut.nxdomain(q), EXAMPLE)).toEqual({ state: "insecure", why: "opt-out" });
    });
  });

  describe("NODATA", () => {
    test("the NSEC3 matching the name without the type proves it, for an empty non-terminal too", () => {
      expect(nsec3ProvesNodata(w("www.example."), MX, [plain.matching("www.example.")!], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesNodata(w("b.ent.example."), A, [plain.matching("b.ent.example.")!], EXAMPLE)).toEqual(SECURE);
    });

    test("an NSEC3 with the type, or with a CNAME, contradicts it", () => {
      expect(nsec3ProvesNodata(w("www.example."), A, [plain.matching("www.example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
      expect(nsec3ProvesNodata(w("alias.example."), A, [plain.matching("alias.example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "cname-present" });
    });

    test("no DS at an unsigned delegation is proven by the parent's NSEC3; the child's apex NSEC3 proves nothing", () => {
      expect(nsec3ProvesNodata(w("insecure.example."), DS, [plain.matching("insecure.example.")!], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesNodata(w("secure.example."), DS, [plain.matching("secure.example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
      const apex = child.matching("secure.example.")!;
      expect(nsec3ProvesNodata(w("secure.example."), DS, [apex], EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
      expect(nsec3ProvesNodata(w("secure.example."), DS, [apex], w("secure.example."))).toEqual({ state: "bogus", why: "child-side" });
    });

    test("no DS at an unsigned delegation left out of an opt-out chain is insecure; without opt-out it is bogus", () => {
      const proof = optOut.closestEncloserProof("insecure.example.").records;
      expect(nsec3ProvesNodata(w("insecure.example."), DS, proof, EXAMPLE)).toEqual({ state: "insecure", why: "opt-out" });
      expect(nsec3ProvesNodata(w(q), DS, plain.closestEncloserProof(q).records, EXAMPLE)).toEqual({ state: "bogus", why: "not-opt-out" });
      expect(nsec3ProvesNodata(w(q), A, plain.closestEncloserProof(q).records, EXAMPLE)).toEqual({ state: "bogus", why: "no-proof" });
    });
  });

  describe("wildcards", () => {
    test("an answer from *.wild is proven by the span over the next closer name", () => {
      expect(nsec3ProvesWildcardAnswer(w("foo.wild.example."), w("*.wild.example."), [plain.covering("foo.wild.example.")], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesWildcardAnswer(w("a.b.wild.example."), w("*.wild.example."), [plain.covering("b.wild.example.")], EXAMPLE)).toEqual(SECURE);
    });

    test("an answer claimed from a wildcard further up is refused: the next closer name exists", () => {
      expect(nsec3ProvesWildcardAnswer(w("foo.wild.example."), w("*.example."), plain.records, EXAMPLE)).toEqual({ state: "bogus", why: "wrong-closest-encloser" });
    });

    test("a span that does not hold the next closer name proves nothing", () => {
      const wrong = plain.records.filter((r) => r !== plain.covering("foo.wild.example."));
      expect(nsec3ProvesWildcardAnswer(w("foo.wild.example."), w("*.wild.example."), wrong, EXAMPLE)).toEqual({ state: "bogus", why: "next-closer-not-covered" });
    });

    test("in an opt-out span a wildcard answer is insecure", () => {
      expect(nsec3ProvesWildcardAnswer(w("foo.wild.example."), w("*.wild.example."), [optOut.covering("foo.wild.example.")], EXAMPLE)).toEqual({ state: "insecure", why: "opt-out" });
    });

    test("NODATA from a wildcard: the closest encloser proof and the wildcard's NSEC3 without the type", () => {
      const proof = plain.closestEncloserProof(wq).records;
      const star = plain.matching("*.wild.example.")!;
      expect(nsec3ProvesWildcardNodata(w(wq), TXT, [...proof, star], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesWildcardNodata(w(wq), A, [...proof, star], EXAMPLE)).toEqual({ state: "bogus", why: "type-present" });
      expect(nsec3ProvesWildcardNodata(w(wq), TXT, proof, EXAMPLE)).toEqual({ state: "bogus", why: "no-wildcard-match" });
    });
  });

  describe("insecure delegations", () => {
    test("the NSEC3 at the delegation with NS and without DS and SOA proves it; DS set, NS clear or SOA set refute it", () => {
      expect(nsec3ProvesInsecureDelegation(w("insecure.example."), [plain.matching("insecure.example.")!], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesInsecureDelegation(w("secure.example."), [plain.matching("secure.example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "ds-present" });
      expect(nsec3ProvesInsecureDelegation(w("www.example."), [plain.matching("www.example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "not-delegation" });
      expect(nsec3ProvesInsecureDelegation(w("example."), [plain.matching("example.")!], EXAMPLE)).toEqual({ state: "bogus", why: "child-side" });
    });

    test("an opt-out span over the delegation proves it; a span without opt-out does not (RFC 5155 8.9)", () => {
      expect(nsec3ProvesInsecureDelegation(w("insecure.example."), optOut.closestEncloserProof("insecure.example.").records, EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesInsecureDelegation(w("insecure.example."), [flagged.matching("insecure.example.")!], EXAMPLE)).toEqual(SECURE);
      expect(nsec3ProvesInsecureDelegation(w(q), plain.closestEncloserProof(q).records, EXAMPLE)).toEqual({ state: "bogus", why: "not-opt-out" });
    });
  });

  describe("parameters and zones", () => {
    test("more iterations than the limit make the answer insecure, with EDE 27; a higher limit checks them", () => {
      const d = nsec3ProvesNxdomain(w(q), heavy.nxdomain(q), EXAMPLE);
      expect(d).toEqual({ state: "insecure", why: "too-many-iterations" });
      expect(denialEde(d)).toBe(27);
      expect(nsec3ProvesNxdomain(w(q), plain.nxdomain(q), EXAMPLE, { maxIterations: 4 })).toEqual(d);
      expect(nsec3ProvesNxdomain(w(q), heavy.nxdomain(q), EXAMPLE, { maxIterations: 200 })).toEqual(SECURE);
    });

    test("unknown hash algorithms alone make the answer insecure; unknown flags are ignored", () => {
      const proof = plain.nxdomain(q);
      expect(nsec3ProvesNxdomain(w(q), proof.map((r) => ({ ...r, hashAlgorithm: 2 })), EXAMPLE)).toEqual({ state: "insecure", why: "unsupported-algorithm" });
      expect(nsec3ProvesNxdomain(w(q), proof.map((r) => ({ ...r, flags: 2 })), EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
    });

    test("records of two chains with different salts are refused", () => {
      expect(nsec3ProvesNxdomain(w(q), [...plain.nxdomain(q), optOut.records[0]!], EXAMPLE)).toEqual({ state: "bogus", why: "mixed-parameters" });
    });

    test("NSEC3 records of another zone, or signed by another zone, are ignored", () => {
      expect(nsec3ProvesNxdomain(w("nope.secure.example."), plain.records, w("secure.example."))).toEqual({ state: "bogus", why: "nsec-missing" });
      expect(nsec3ProvesNxdomain(w(q), child.records, EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
      const resigned = plain.nxdomain(q).map((r) => ({ ...r, signer: w("net.") }));
      expect(nsec3ProvesNxdomain(w(q), resigned, EXAMPLE)).toEqual({ state: "bogus", why: "nsec-missing" });
      expect(nsec3ProvesNxdomain(w("nope.example.net."), plain.records, EXAMPLE)).toEqual({ state: "bogus", why: "outside-zone" });
    });

    test("owner labels decode from base32hex in either case; other characters and short RDATA are refused", () => {
      const bytes = new Uint8Array(Array.from({ length: 20 }, (_, i) => i * 13));
      const text = new TextEncoder().encode(base32hex(bytes));
      expect(fromBase32hex(text)).toEqual(bytes);
      expect(fromBase32hex(text.map((c) => (c >= 0x61 ? c - 0x20 : c)))).toEqual(bytes);
      expect(fromBase32hex(new TextEncoder().encode("w0"))).toBeNull();
      expect(parseNsec3(EXAMPLE, new Uint8Array([1, 0, 0, 5, 3, 1]))).toBeNull();
    });
  });
});

describe("the cost of a proof is bounded (CVE-2023-50868)", () => {
  /** NSEC3 records of zone "example." matching every ancestor of `name` (a zone made to match each level). */
  function matchingEveryLevel(name: string): Nsec3[] {
    const labels = name.split(".").filter(Boolean);
    const salt = new Uint8Array(0);
    const hashes = labels.map((_, i) => nsec3Hash(toWire(`${labels.slice(i).join(".")}.`), salt, 0, 1, 0) as Uint8Array);
    const sorted = [...hashes].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return sorted.map((h, i) => ({
      owner: toWire(`${base32hex(h)}.example.`),
      hashAlgorithm: 1,
      flags: 0,
      iterations: 0,
      salt,
      next: sorted[(i + 1) % sorted.length]!,
      bitmap: new Uint8Array([0, 1, 0x40]), // A
      hash: h,
    }));
  }

  test(`a name whose every level matches is refused after NSEC3_MAX_HASHES hashes, not walked to its end`, () => {
    const deep = `${Array.from({ length: 60 }, (_, i) => `l${i}`).join(".")}.example.`;
    const records = matchingEveryLevel(deep).filter((r) => r.hash && base32hex(r.hash) !== base32hex(nsec3Hash(toWire(deep), new Uint8Array(0), 0, 1, 0) as Uint8Array));
    expect(nsec3ProvesNxdomain(toWire(deep), records, toWire("example."))).toEqual({ state: "bogus", why: "too-many-hashes" });
    // A name ten levels deep in the same kind of zone is still decided by its proof (here: it exists).
    const shallow = `${Array.from({ length: 10 }, (_, i) => `l${i}`).join(".")}.example.`;
    expect(nsec3ProvesNxdomain(toWire(shallow), matchingEveryLevel(shallow), toWire("example."))).toEqual({ state: "bogus", why: "name-exists" });
  });
});
