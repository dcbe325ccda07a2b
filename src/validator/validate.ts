// Validating one answer (RFC 4035 5): every RRset of the answer section checked with the keys of the zone that
// signed it, a negative answer's SOA and NSEC/NSEC3 records checked and their proof (nsec.ts, nsec3.ts) weighed,
// and an unsigned RRset accepted only where the zone is proven insecure. A zone's keys come from the chain of
// trust (chain.ts): the trust anchor's DS at the top, then at each zone the DS set its parent signed — or the
// parent's proof that there is no DS, which makes the zone and everything below it insecure. Keys are fetched
// with the caller's `fetch` (the iterator, inside the client's deadline) and kept per zone for their TTL.
import { keyOf, rdataOf, readMessage, Section, withoutDnssec, type Message } from "../wire/records";
import { rcodeOf } from "../wire/message";
import { toText } from "../wire/name";
import { EdeCode, trustKeys, validateSet, type SignedSet, type Verdict } from "./chain";
import { parseDs, type Ds } from "./digests";
import { denialVerdict, isAtOrBelow, isBelow, sameName, suffixWithLabels, countLabels } from "./denial";
import { nsecProvesInsecureDelegation, nsecProvesNodata, nsecProvesNxdomain, nsecProvesWildcardAnswer, nsecProvesWildcardNodata, parseNsec, type Nsec } from "./nsec";
import { nsec3ProvesInsecureDelegation, nsec3ProvesNodata, nsec3ProvesNxdomain, nsec3ProvesWildcardAnswer, nsec3ProvesWildcardNodata, parseNsec3, type Nsec3 } from "./nsec3";
import { lowerWire } from "./canonical";
import { parseRrsig, type Dnskey, type Rrsig } from "./verify";
import type { Anchor } from "./anchors";
import { NsecStore } from "./aggressive";
import type { AnchorStates } from "./rfc5011";
import type { QueryInfo } from "../wire/query";

const CNAME = 5;
const SOA = 6;
const DS = 43;
const RRSIG = 46;
const NSEC = 47;
const DNSKEY = 48;
const NSEC3 = 50;
const OPT = 41;
const DNAME = 39;

/** A full answer (scrubbed, with its RRSIGs and proofs) for name/type, or null when none came. */
export type Fetch = (name: Uint8Array, type: number) => Promise<Uint8Array | null>;

const SECURE: Verdict = { state: "secure" };
/** How long a zone's keys are kept at most (their TTL otherwise), and a zone's failure. */
const KEYS_MAX_S = 3600;
const FAILED_S = 60;

interface ZoneKeys {
  verdict: Verdict;
  keys: Dnskey[];
  expires: number;
  /**
   * False for a name its zone proves is no zone cut (no NS there): the keys are that zone's. Such names are
   * passed on the way down from a trust anchor when the zone of an unsigned answer is not known (forwarding).
   */
  cut?: false;
}

/** Answers by verdict. Indeterminate: the keys or proofs could not be fetched (SERVFAIL, EDE 5), not counted as bogus. */
export class VerdictCounters {
  secure = 0;
  insecure = 0;
  bogus = 0;
  indeterminate = 0;

  count(v: Verdict): void {
    if (v.state === "bogus" && v.ede === EdeCode.DnssecIndeterminate) this.indeterminate++;
    else this[v.state]++;
  }
}

export interface ValidatorOptions {
  /** dnssec.aggressive_nsec: keep validated NSECs and answer NXDOMAIN from them (default on). */
  aggressive?: () => boolean;
  /** Seconds since the epoch. */
  now?: () => number;
  /** Zones whose keys are kept at most. */
  max?: number;
  /** RFC 5011 tracking of the anchored zones' keys. */
  tracker?: AnchorStates | null;
}

/** How validate() is to read the answer. */
export interface ValidateOptions {
  /** The zone cut `name` was answered from (recursion knows it); without it, found from the trust anchor down. */
  zoneOf?: (name: Uint8Array) => Uint8Array;
  /** The CNAME chain is not finished (the rest is answered apart): its RRsets are checked, no denial is due. */
  partial?: boolean;
}

interface Sets {
  answer: SignedSet[];
  authority: SignedSet[];
}

/** The RRsets of a message by section, each with the RRSIGs covering it; OPT and RRSIGs themselves aside. */
function setsOf(resp: Uint8Array, m: Message): Sets {
  const out: Sets = { answer: [], authority: [] };
  for (const section of [Section.Answer, Section.Authority] as const) {
    const byKey = new Map<string, SignedSet>();
    const recs = m.records.filter((r) => r.section === section && r.rrclass === m.qclass);
    for (const r of recs) {
      if (r.type === RRSIG || r.type === OPT) continue;
      const id = `${r.owner.key}/${r.type}`;
      let s = byKey.get(id);
      if (!s) byKey.set(id, (s = { rrset: { owner: r.owner.bytes, type: r.type, class: r.rrclass, rdatas: [] }, sigs: [] }));
      s.rrset.rdatas.push(rdataOf(resp, r));
    }
    for (const r of recs) {
      if (r.type !== RRSIG) continue;
      const sig = parseRrsig(rdataOf(resp, r));
      if (sig) byKey.get(`${r.owner.key}/${sig.typeCovered}`)?.sigs.push(sig);
    }
    (section === Section.Answer ? out.answer : out.authority).push(...byKey.values());
  }
  return out;
}

const worst = (a: Verdict, b: Verdict): Verdict => (a.state === "bogus" ? a : b.state === "bogus" ? b : a.state === "insecure" ? a : b);
const text = (name: Uint8Array) => toText(name);

export class Validator {
  readonly counters = new VerdictCounters();
  private readonly zones = new Map<string, ZoneKeys>();
  private readonly pending = new Map<string, Promise<ZoneKeys>>();

  /** Validated NSEC records of negative answers, for aggressive NXDOMAIN answers (RFC 8198). */
  readonly nsecs = new NsecStore();

  private readonly aggressive: () => boolean;
  private readonly now: () => number;
  private readonly max: number;
  /** RFC 5011 states of the anchored zones' keys, when tracked. */
  readonly tracker: AnchorStates | null;

  constructor(
    private readonly configured: () => Anchor[],
    /** Negative trust anchors (RFC 7646): zones at or below these are not validated. */
    private readonly ntas: () => Uint8Array[],
    opts: ValidatorOptions = {},
  ) {
    this.aggressive = opts.aggressive ?? (() => true);
    this.now = opts.now ?? (() => Date.now() / 1000);
    this.max = opts.max ?? 10_000;
    this.tracker = opts.tracker ?? null;
  }

  /** The anchors trusted now: the configured ones, as RFC 5011 tracking has updated them. */
  private anchors(): Anchor[] {
    return this.tracker ? this.tracker.apply(this.configured()) : this.configured();
  }

  /** Forgets the anchored zones' keys, so that the next question fetches their DNSKEY RRsets again (RFC 5011 refresh). */
  refreshAnchors(): void {
    for (const a of this.configured()) this.zones.delete(keyOf(a.zone));
  }

  /** Forgets every zone's keys and the NSECs kept (new anchors on reload). */
  clear(): void {
    this.zones.clear();
    this.nsecs.clear();
  }

  /**
   * NXDOMAIN for the question of `query` from validated NSECs already kept (secure), or null; without its NSEC
   * and RRSIG records for a client that did not set DO.
   */
  synthesize(query: Uint8Array, q: QueryInfo): Uint8Array | null {
    if (!this.aggressive()) return null;
    const resp = this.nsecs.synthesize(query, q, this.now());
    if (!resp) return null;
    this.counters.count(SECURE);
    return q.dnssecOk ? resp : (withoutDnssec(resp) ?? resp);
  }

  get size(): number {
    return this.zones.size;
  }

  /**
   * The verdict on `resp` (a complete answer to its question, CNAME chain included, unless `opts.partial`), counted.
   * For RRsets that come unsigned the question is whether their zone is insecure: `opts.zoneOf` names it, else it
   * is found by walking down from the trust anchor.
   */
  async validate(resp: Uint8Array, fetch: Fetch, opts: ValidateOptions = {}): Promise<Verdict> {
    const zoneOf = opts.zoneOf;
    const zoneKeys: ZoneOf = zoneOf ? (name) => this.keysFor(lowerWire(zoneOf(name)), fetch) : (name) => this.enclosing(lowerWire(name), fetch);
    const m = readMessage(resp, resp.length);
    const v: Verdict = m ? await this.judge(resp, m, zoneKeys, fetch, opts.partial === true) : { state: "bogus", ede: EdeCode.DnssecBogus, why: "the answer does not parse" };
    this.counters.count(v);
    if (v.state === "secure" && m && this.aggressive()) this.keepNsecs(resp, m);
    return v;
  }

  /** A secure negative answer's NSECs and SOA, kept for aggressive answers. */
  private keepNsecs(resp: Uint8Array, m: Message): void {
    const rcode = rcodeOf(resp);
    if (rcode !== 3 && (rcode !== 0 || m.records.some((r) => r.section === Section.Answer))) return;
    const soa = m.records.find((r) => r.section === Section.Authority && r.type === SOA);
    if (soa && m.records.some((r) => r.section === Section.Authority && r.type === NSEC)) this.nsecs.record(resp, m, lowerWire(soa.owner.bytes), this.now());
  }

  private async judge(resp: Uint8Array, m: Message, zoneOf: ZoneOf, fetch: Fetch, partial: boolean): Promise<Verdict> {
    const sets = setsOf(resp, m);
    let verdict = SECURE;
    const dnames = sets.answer.filter((s) => s.rrset.type === DNAME);
    let last = m.qname.bytes;
    for (const s of sets.answer) {
      if (s.rrset.type === CNAME && s.sigs.length === 0 && dnames.some((d) => isBelow(s.rrset.owner, d.rrset.owner))) continue; // made from a DNAME (RFC 6672 5.3.3)
      verdict = worst(verdict, await this.checkSet(s, zoneOf, fetch, sets.authority));
      if (verdict.state === "bogus") return verdict;
      if (s.rrset.type === CNAME && m.qtype !== CNAME) last = s.rrset.rdatas[0]!;
    }
    const answered = sets.answer.some((s) => sameName(s.rrset.owner, last) && (s.rrset.type === m.qtype || m.qtype === 255));
    const rcode = rcodeOf(resp);
    if (answered || partial || (rcode !== 0 && rcode !== 3)) return verdict;
    return worst(verdict, await this.checkDenial(last, m.qtype, rcode === 3, sets.authority, zoneOf, fetch));
  }

  /** One RRset: signed by a zone whose keys verify it, or unsigned in a zone proven insecure. */
  private async checkSet(s: SignedSet, zoneOf: ZoneOf, fetch: Fetch, authority: SignedSet[]): Promise<Verdict> {
    const what = `${text(s.rrset.owner)} ${s.rrset.type}`;
    const sig = s.sigs.find((g) => isAtOrBelow(s.rrset.owner, g.signer));
    if (!sig) {
      const zk = await zoneOf(s.rrset.owner);
      if (zk.verdict.state !== "secure") return zk.verdict;
      return { state: "bogus", ede: EdeCode.RrsigsMissing, why: `${what}: no RRSIG in a signed zone` };
    }
    const zk = await this.keysFor(lowerWire(sig.signer), fetch);
    if (zk.verdict.state !== "secure") return zk.verdict;
    const v = await validateSet(s, zk.keys, this.now(), {}, what);
    if (v.state !== "secure") return v;
    if (sig.labels < countLabels(s.rrset.owner)) {
      // Expanded from a wildcard: the name itself must be proven absent (RFC 4035 5.3.4).
      const ce = suffixWithLabels(s.rrset.owner, sig.labels);
      const wildcard = new Uint8Array(2 + ce.length);
      wildcard.set([1, 0x2a]);
      wildcard.set(ce, 2);
      return this.proof(authority, sig.signer, fetch, (nsecs) => nsecProvesWildcardAnswer(s.rrset.owner, wildcard, nsecs, sig.signer), (n3) => nsec3ProvesWildcardAnswer(s.rrset.owner, wildcard, n3, sig.signer), what);
    }
    return SECURE;
  }

  /** NXDOMAIN or NODATA for `name`: the SOA and NSEC/NSEC3 records checked, and their proof. */
  private async checkDenial(name: Uint8Array, qtype: number, nx: boolean, authority: SignedSet[], zoneOf: ZoneOf, fetch: Fetch): Promise<Verdict> {
    const soa = authority.find((s) => s.rrset.type === SOA);
    const signer = soa?.sigs[0]?.signer ?? authority.find((s) => s.rrset.type === NSEC || s.rrset.type === NSEC3)?.sigs[0]?.signer;
    const what = `${nx ? "NXDOMAIN" : "NODATA"} for ${text(name)}`;
    if (!signer) {
      const zk = await zoneOf(name);
      if (zk.verdict.state !== "secure") return zk.verdict;
      return { state: "bogus", ede: EdeCode.NsecMissing, why: `${what}: no signed proof in a signed zone` };
    }
    if (soa) {
      const v = await this.checkSet(soa, zoneOf, fetch, []);
      if (v.state !== "secure") return v;
    }
    return this.proof(
      authority,
      signer,
      fetch,
      (n) => (nx ? nsecProvesNxdomain(name, n, signer) : pick(nsecProvesNodata(name, qtype, n, signer), () => nsecProvesWildcardNodata(name, qtype, n, signer))),
      (n3) => (nx ? nsec3ProvesNxdomain(name, n3, signer) : pick(nsec3ProvesNodata(name, qtype, n3, signer), () => nsec3ProvesWildcardNodata(name, qtype, n3, signer))),
      what,
    );
  }

  /** The NSEC (or NSEC3) records of `authority` signed by `zone`, their signatures checked, then `prove` weighed. */
  private async proof(
    authority: SignedSet[],
    zone: Uint8Array,
    fetch: Fetch,
    prove: (n: Nsec[]) => ReturnType<typeof nsecProvesNodata>,
    prove3: (n: Nsec3[]) => ReturnType<typeof nsec3ProvesNodata>,
    what: string,
  ): Promise<Verdict> {
    const zk = await this.keysFor(lowerWire(zone), fetch);
    if (zk.verdict.state !== "secure") return zk.verdict;
    const nsecSets = authority.filter((s) => s.rrset.type === NSEC);
    const nsec3Sets = authority.filter((s) => s.rrset.type === NSEC3);
    if (nsecSets.length === 0 && nsec3Sets.length === 0) return { state: "bogus", ede: EdeCode.NsecMissing, why: `${what}: no NSEC or NSEC3` };
    for (const s of [...nsecSets, ...nsec3Sets]) {
      const v = await validateSet(s, zk.keys, this.now(), {}, `${what}: ${text(s.rrset.owner)} NSEC`);
      if (v.state !== "secure") return v;
    }
    const signerOf = (s: SignedSet) => s.sigs[0]?.signer;
    if (nsecSets.length > 0) {
      const nsecs = nsecSets.flatMap((s) => s.rrset.rdatas.map((r) => parseNsec(s.rrset.owner, r, signerOf(s)))).filter((n): n is Nsec => n !== null);
      return denialVerdict(prove(nsecs), what);
    }
    const n3 = nsec3Sets.flatMap((s) => s.rrset.rdatas.map((r) => parseNsec3(s.rrset.owner, r, signerOf(s)))).filter((n): n is Nsec3 => n !== null);
    return denialVerdict(prove3(n3), what);
  }

  /** The trusted keys of `zone` (lowercased wire), or why it has none: insecure, or bogus. Shared while fetched. */
  async keysFor(zone: Uint8Array, fetch: Fetch): Promise<ZoneKeys> {
    const id = keyOf(zone);
    const now = this.now();
    const known = this.zones.get(id);
    if (known && known.expires > now) return known;
    const inflight = this.pending.get(id);
    if (inflight) return inflight;
    const p = this.findKeys(zone, fetch).finally(() => this.pending.delete(id));
    this.pending.set(id, p);
    const zk = await p;
    this.zones.delete(id);
    this.zones.set(id, zk);
    while (this.zones.size > this.max) this.zones.delete(this.zones.keys().next().value!);
    return zk;
  }

  /**
   * The keys of the zone `name` (lowercased wire) is in, found from the closest trust anchor down: at each name
   * on the way its DS, or its zone's proof that it has none — as an unsigned delegation (insecure from there
   * down) or as no delegation at all (still the same zone). Each step is kept like a zone's keys.
   */
  private async enclosing(name: Uint8Array, fetch: Fetch): Promise<ZoneKeys> {
    const anchor = this.anchors()
      .filter((a) => isAtOrBelow(name, a.zone))
      .sort((a, b) => countLabels(b.zone) - countLabels(a.zone))[0];
    if (!anchor) return { verdict: { state: "insecure", why: `${text(name)}: no trust anchor above it` }, keys: [], expires: this.now() + FAILED_S };
    let zk = await this.keysFor(lowerWire(anchor.zone), fetch);
    for (let n = countLabels(anchor.zone) + 1, total = countLabels(name); n <= total && zk.verdict.state === "secure"; n++) {
      const next = await this.keysFor(suffixWithLabels(name, n), fetch);
      if (next.cut !== false) zk = next;
    }
    return zk;
  }

  private async findKeys(zone: Uint8Array, fetch: Fetch): Promise<ZoneKeys> {
    const now = this.now();
    const fail = (verdict: Verdict): ZoneKeys => ({ verdict, keys: [], expires: now + FAILED_S });
    if (this.ntas().some((n) => isAtOrBelow(zone, n))) return fail({ state: "insecure", why: `${text(zone)}: negative trust anchor` });
    const anchor = this.anchors().find((a) => sameName(a.zone, zone));
    if (anchor) return this.keysWith(zone, anchor.ds, fetch, true);
    if (!this.anchors().some((a) => isAtOrBelow(zone, a.zone))) return fail({ state: "insecure", why: `${text(zone)}: no trust anchor above it` });
    if (zone[0] === 0) return fail({ state: "insecure", why: "no trust anchor for the root" });
    const resp = await fetch(zone, DS);
    // No answer at all (a timeout, the client's deadline): not kept, the next question asks again.
    if (!resp) return { verdict: { state: "bogus", ede: EdeCode.DnssecIndeterminate, why: `${text(zone)}: no answer to DS` }, keys: [], expires: now };
    const m = readMessage(resp, resp.length);
    if (!m) return fail({ state: "bogus", ede: EdeCode.DnssecBogus, why: `${text(zone)}: DS answer does not parse` });
    const sets = setsOf(resp, m);
    const ds = sets.answer.find((s) => s.rrset.type === DS && sameName(s.rrset.owner, zone));
    if (ds) {
      const signer = ds.sigs.find((g) => isBelow(zone, g.signer))?.signer;
      if (!signer) {
        const parent = await this.keysFor(zone.subarray(zone[0]! + 1), fetch);
        return parent.verdict.state === "secure" ? fail({ state: "bogus", ede: EdeCode.RrsigsMissing, why: `${text(zone)}: unsigned DS` }) : fail(parent.verdict);
      }
      const parent = await this.keysFor(lowerWire(signer), fetch);
      if (parent.verdict.state !== "secure") return fail(parent.verdict);
      const v = await validateSet(ds, parent.keys, now, {}, `${text(zone)} DS`);
      if (v.state !== "secure") return fail(v);
      return this.keysWith(zone, ds.rrset.rdatas.map((r) => parseDs(r)).filter((d): d is Ds => d !== null), fetch);
    }
    // No DS: insecure if the parent proves it, which it signs; a parent that signs nothing is insecure itself.
    const soa = sets.authority.find((s) => s.rrset.type === SOA);
    const signer = soa?.sigs[0]?.signer ?? sets.authority.find((s) => s.rrset.type === NSEC || s.rrset.type === NSEC3)?.sigs[0]?.signer;
    if (!signer) {
      const above = soa ? lowerWire(soa.rrset.owner) : zone.subarray(zone[0]! + 1);
      const parent = sameName(above, zone) ? await this.keysFor(zone.subarray(zone[0]! + 1), fetch) : await this.keysFor(above, fetch);
      return parent.verdict.state === "secure" ? fail({ state: "bogus", ede: EdeCode.NsecMissing, why: `${text(zone)}: no DS and no signed proof` }) : fail(parent.verdict);
    }
    // Only the parent can prove there is no DS (RFC 6840 4.4); a proof signed by the zone itself would also make
    // this lookup wait for its own result.
    if (!isBelow(zone, lowerWire(signer))) return fail({ state: "bogus", ede: EdeCode.DnssecBogus, why: `${text(zone)}: no DS, and the proof is not the parent's` });
    const what = `no DS for ${text(zone)}`;
    const delegation = await this.proof(sets.authority, signer, fetch, (n) => nsecProvesInsecureDelegation(zone, n, signer), (n3) => nsec3ProvesInsecureDelegation(zone, n3, signer), what);
    if (delegation.state !== "bogus") return fail({ state: "insecure", why: `${text(zone)}: delegated without DS` });
    // No delegation here either: the name is inside the signer's zone (NODATA: it exists without NS; NXDOMAIN:
    // it does not exist), and what is signed at it is signed with that zone's keys.
    const nx = rcodeOf(resp) === 3;
    const inside = await this.proof(
      sets.authority,
      signer,
      fetch,
      (n) => (nx ? nsecProvesNxdomain(zone, n, signer) : nsecProvesNodata(zone, DS, n, signer)),
      (n3) => (nx ? nsec3ProvesNxdomain(zone, n3, signer) : nsec3ProvesNodata(zone, DS, n3, signer)),
      what,
    );
    if (inside.state === "bogus") return fail(inside);
    const parent = await this.keysFor(lowerWire(signer), fetch);
    if (inside.state === "insecure" || parent.verdict.state !== "secure") return fail(inside.state === "insecure" ? inside : parent.verdict);
    return { verdict: SECURE, keys: parent.keys, expires: Math.min(parent.expires, now + KEYS_MAX_S), cut: false };
  }

  /** The DNSKEY RRset of `zone` made trusted by `ds` (a trust anchor's when `anchored`: RFC 5011 watches it). */
  private async keysWith(zone: Uint8Array, ds: Ds[], fetch: Fetch, anchored = false): Promise<ZoneKeys> {
    const now = this.now();
    const resp = await fetch(zone, DNSKEY);
    const m = resp ? readMessage(resp, resp.length) : null;
    const set = resp && m ? setsOf(resp, m).answer.find((s) => s.rrset.type === DNSKEY && sameName(s.rrset.owner, zone)) : undefined;
    if (!resp) return { verdict: { state: "bogus", ede: EdeCode.DnssecIndeterminate, why: `${text(zone)}: no answer to DNSKEY` }, keys: [], expires: now };
    if (!set) return { verdict: { state: "bogus", ede: EdeCode.DnskeyMissing, why: `${text(zone)}: no DNSKEY` }, keys: [], expires: now + FAILED_S };
    const r = await trustKeys(set, ds, now, {}, `${text(zone)} DNSKEY`);
    if (anchored && r.verdict.state === "secure" && this.tracker) await this.tracker.observe(zone, set, ds, now);
    const ttl = r.verdict.state === "secure" ? Math.min(KEYS_MAX_S, ...set.sigs.map((g) => g.originalTtl)) : FAILED_S;
    return { verdict: r.verdict, keys: r.keys, expires: now + ttl };
  }
}

type ZoneOf = (name: Uint8Array) => Promise<ZoneKeys>;

/** The first proof that is not bogus, trying the second only when the first fails. */
function pick<T extends { state: string }>(first: T, second: () => T): T {
  return first.state === "bogus" ? second() : first;
}

