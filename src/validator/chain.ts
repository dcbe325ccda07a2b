// One link of the chain of trust at a time (RFC 4035 5.2, 5.3): a zone's DNSKEY RRset made trusted by the DS set
// above it (or a trust anchor), and an RRset made trusted by a zone's trusted keys. Each step ends in a verdict:
// secure, insecure (nothing here can be checked: only unsupported algorithms, digests or key sizes — RFC 4035
// 5.2, RFC 6840 5.2) or bogus, with the Extended DNS Error (RFC 8914 4) that says why.
import { dsMatches, type Ds } from "./digests";
import { parseDnskey, verifyRRset, type Dnskey, type RRset, type Rrsig, type VerifyFailure, type VerifyOptions } from "./verify";

/** RFC 8914 INFO-CODEs the validator gives. */
export const enum EdeCode {
  UnsupportedDnskeyAlgorithm = 1,
  UnsupportedDsDigest = 2,
  DnssecIndeterminate = 5,
  DnssecBogus = 6,
  SignatureExpired = 7,
  SignatureNotYetValid = 8,
  DnskeyMissing = 9,
  RrsigsMissing = 10,
  NoZoneKeyBitSet = 11,
  NsecMissing = 12,
}

export type Verdict = { state: "secure" } | { state: "insecure"; ede?: number; why: string } | { state: "bogus"; ede: number; why: string };

/** An RRset with the RRSIGs that came with it. */
export interface SignedSet {
  rrset: RRset;
  sigs: Rrsig[];
}

const REVOKE = 0x0080;
const ZONE_KEY = 0x0100;
const UNSUPPORTED = new Set<VerifyFailure>(["unsupported-algorithm", "unsupported-key"]);
/** DNSKEY algorithms algorithms.ts can check (16 only where the runtime has Ed448: verifyRRset finds out). */
const KNOWN_ALGORITHMS = new Set([5, 7, 8, 10, 13, 14, 15, 16]);

/** The EDE and text for the most telling of a set's failures: expiry and key trouble before a plain bad signature. */
function bogus(failures: VerifyFailure[], what: string): Verdict {
  const has = (f: VerifyFailure) => failures.includes(f);
  if (has("expired")) return { state: "bogus", ede: EdeCode.SignatureExpired, why: `${what}: signature expired` };
  if (has("not-yet-valid")) return { state: "bogus", ede: EdeCode.SignatureNotYetValid, why: `${what}: signature not yet valid` };
  if (has("not-zone-key")) return { state: "bogus", ede: EdeCode.NoZoneKeyBitSet, why: `${what}: signed by a key without the zone flag` };
  return { state: "bogus", ede: EdeCode.DnssecBogus, why: `${what}: ${failures[0] ?? "no valid signature"}` };
}

/**
 * `set` checked against the zone's trusted `keys`: secure when one of its RRSIGs made by one of them verifies;
 * insecure when the only signatures that name a key use what cannot be checked here; bogus otherwise (no RRSIG:
 * RRSIGs Missing; none by a trusted key: DNSKEY Missing).
 */
export async function validateSet(set: SignedSet, keys: Dnskey[], now: number, opts: VerifyOptions = {}, what = "RRset"): Promise<Verdict> {
  const sigs = set.sigs.filter((s) => s.typeCovered === set.rrset.type);
  if (sigs.length === 0) return { state: "bogus", ede: EdeCode.RrsigsMissing, why: `${what}: no RRSIG` };
  const failures: VerifyFailure[] = [];
  let named = false;
  for (const sig of sigs) {
    for (const key of keys) {
      if (key.keyTag !== sig.keyTag || key.algorithm !== sig.algorithm) continue;
      named = true;
      const r = await verifyRRset(set.rrset, sig, key, now, opts);
      if (r === "valid") return { state: "secure" };
      failures.push(r);
    }
  }
  if (!named) return { state: "bogus", ede: EdeCode.DnskeyMissing, why: `${what}: no RRSIG by a trusted key` };
  if (failures.every((f) => UNSUPPORTED.has(f))) return { state: "insecure", ede: EdeCode.UnsupportedDnskeyAlgorithm, why: `${what}: only unsupported algorithms or key sizes` };
  return bogus(failures.filter((f) => !UNSUPPORTED.has(f)), what);
}

/**
 * The keys of a zone made trusted by `ds` (its parent's DS set, or a trust anchor's): a DNSKEY that matches one of
 * the DS records and signs the DNSKEY RRset makes every zone key of that RRset trusted (revoked ones aside, RFC
 * 5011 2.1). A DS set of only unsupported digests or algorithms leaves the zone insecure; SHA-1 DS records are
 * ignored when SHA-256 ones are there (RFC 4509 3).
 */
export async function trustKeys(dnskeys: SignedSet, ds: Ds[], now: number, opts: VerifyOptions = {}, what = "DNSKEY"): Promise<{ verdict: Verdict; keys: Dnskey[] }> {
  const sha1 = opts.sha1 ?? true;
  const usable = ds.some((d) => d.digestType === 2) ? ds.filter((d) => d.digestType !== 1) : ds;
  if (usable.length > 0 && usable.every((d) => !digestSupported(d.digestType, sha1))) {
    return { verdict: { state: "insecure", ede: EdeCode.UnsupportedDsDigest, why: `${what}: only unsupported DS digests` }, keys: [] };
  }
  if (usable.length > 0 && usable.every((d) => !KNOWN_ALGORITHMS.has(d.algorithm))) {
    return { verdict: { state: "insecure", ede: EdeCode.UnsupportedDnskeyAlgorithm, why: `${what}: only unsupported DS algorithms` }, keys: [] };
  }
  const keys = parsedKeys(dnskeys);
  const anchored = keys.filter((k) => (k.flags & REVOKE) === 0 && usable.some((d) => dsMatches(d, k, sha1) === "match"));
  if (anchored.length === 0) return { verdict: { state: "bogus", ede: EdeCode.DnskeyMissing, why: `${what}: no DNSKEY matches the DS set` }, keys: [] };
  const verdict = await validateSet(dnskeys, anchored, now, opts, what);
  if (verdict.state !== "secure") return { verdict, keys: [] };
  return { verdict, keys: keys.filter((k) => (k.flags & ZONE_KEY) !== 0 && (k.flags & REVOKE) === 0) };
}

const digestSupported = (t: number, sha1: boolean) => t === 2 || t === 4 || (t === 1 && sha1);

/** The DNSKEYs of a DNSKEY RRset (its owner is the zone); RDATA too short to be one is left out. */
export function parsedKeys(set: SignedSet): Dnskey[] {
  const out: Dnskey[] = [];
  for (const rdata of set.rrset.rdatas) {
    const k = parseDnskey(set.rrset.owner, rdata);
    if (k) out.push(k);
  }
  return out;
}
