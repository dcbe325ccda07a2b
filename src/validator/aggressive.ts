// Aggressive use of DNSSEC-validated NSEC records (RFC 8198 5.1): the NSEC records and the SOA of secure negative
// answers are kept per zone, and a later question for a name they prove absent (a covering NSEC and the wildcard
// at its closest encloser denied, RFC 4035 5.4) is answered NXDOMAIN from them, with the same proof, without
// asking anyone. NSEC3 spans are not used (hashed names say nothing about neighbours a client would ask). Kept for
// the shortest of the records' TTLs, the SOA's minimum and the signatures' expiry; bounded in zones and records.
import { HEADER_LEN, Rcode } from "../wire/constants";
import type { QueryInfo } from "../wire/query";
import { keyOf, rdataOf, Section, type Message } from "../wire/records";
import { lowerWire } from "./canonical";
import { isAtOrBelow, sameName } from "./denial";
import { nsecNxdomainProof, parseNsec, type Nsec } from "./nsec";
import { parseRrsig } from "./verify";

const SOA = 6;
const RRSIG = 46;
const NSEC = 47;

/** One RRset as it is written back: its records and the RRSIGs over it, uncompressed. */
interface Kept {
  owner: Uint8Array;
  type: number;
  rdatas: Uint8Array[];
  sigs: Uint8Array[];
  ttl: number;
  /** Seconds (the validator's clock) after which it is not used. */
  expires: number;
}

interface ZoneProofs {
  zone: Uint8Array;
  soa: Kept;
  /** By owner (lowercased key), in the order they came (the oldest are dropped first). */
  nsecs: Map<string, { kept: Kept; nsec: Nsec }>;
}

export class NsecStore {
  private readonly zones = new Map<string, ZoneProofs>();
  /** NXDOMAIN answers made from kept records. */
  synthesized = 0;

  constructor(
    private readonly maxZones = 1000,
    private readonly perZone = 256,
  ) {}

  clear(): void {
    this.zones.clear();
  }

  get size(): number {
    let n = 0;
    for (const z of this.zones.values()) n += z.nsecs.size;
    return n;
  }

  /**
   * Keeps the SOA and NSEC RRsets `zone` signed in the authority section of `resp`, a negative answer the
   * validator has just found secure (so each of those RRsets verified).
   */
  record(resp: Uint8Array, m: Message, zone: Uint8Array, now: number): void {
    const sets = new Map<string, Kept>();
    let soaMin = Infinity;
    const authority = m.records.filter((r) => r.section === Section.Authority && r.rrclass === m.qclass);
    for (const r of authority) {
      if (r.type !== SOA && r.type !== NSEC) continue;
      const rdata = rdataOf(resp, r);
      if (r.type === SOA) {
        if (!sameName(lowerWire(r.owner.bytes), zone) || rdata.length < 4) continue;
        soaMin = u32(rdata, rdata.length - 4);
      }
      const id = `${r.owner.key}/${r.type}`;
      let k = sets.get(id);
      if (!k) sets.set(id, (k = { owner: r.owner.bytes.slice(), type: r.type, rdatas: [], sigs: [], ttl: Infinity, expires: Infinity }));
      k.rdatas.push(rdata);
      k.ttl = Math.min(k.ttl, u32(r.src ?? resp, r.ttlAt));
    }
    for (const r of authority) {
      if (r.type !== RRSIG) continue;
      const rdata = rdataOf(resp, r);
      const sig = parseRrsig(rdata);
      const k = sig ? sets.get(`${r.owner.key}/${sig.typeCovered}`) : undefined;
      if (!k || !sameName(lowerWire(sig!.signer), zone) || sig!.expiration <= now) continue;
      k.sigs.push(rdata);
      k.expires = Math.min(k.expires, sig!.expiration);
    }
    const soa = [...sets.values()].find((k) => k.type === SOA && k.sigs.length > 0);
    if (!soa) return;
    const life = (k: Kept) => Math.min(k.expires, now + Math.min(k.ttl, soa.ttl, soaMin));
    soa.expires = life(soa);
    const id = keyOf(zone);
    let z = this.zones.get(id);
    if (z) this.zones.delete(id);
    else z = { zone: zone.slice(), soa, nsecs: new Map() };
    z.soa = soa;
    this.zones.set(id, z);
    for (const k of sets.values()) {
      if (k.type !== NSEC || k.sigs.length === 0 || k.rdatas.length !== 1 || !isAtOrBelow(k.owner, zone)) continue;
      const nsec = parseNsec(k.owner, k.rdatas[0]!, zone);
      if (!nsec) continue;
      k.expires = life(k);
      const key = keyOf(lowerWire(k.owner));
      z.nsecs.delete(key);
      z.nsecs.set(key, { kept: k, nsec });
      while (z.nsecs.size > this.perZone) z.nsecs.delete(z.nsecs.keys().next().value!);
    }
    while (this.zones.size > this.maxZones) this.zones.delete(this.zones.keys().next().value!);
  }

  /**
   * NXDOMAIN for the question of `query` (header and question; `q` its parsed form) from kept records, or null:
   * the deepest zone kept at or above the name, its live NSECs proving the name and the wildcard absent.
   */
  synthesize(query: Uint8Array, q: QueryInfo, now: number): Uint8Array | null {
    if (this.zones.size === 0) return null;
    const name = lowerWire(query.subarray(HEADER_LEN, q.qnameEnd));
    let z: ZoneProofs | undefined;
    for (let o = 0; ; o += name[o]! + 1) {
      z = this.zones.get(keyOf(name.subarray(o)));
      if (z || name[o] === 0) break;
    }
    if (!z || z.soa.expires <= now) return null;
    const live: Nsec[] = [];
    const byNsec = new Map<Nsec, Kept>();
    for (const [key, e] of z.nsecs) {
      if (e.kept.expires <= now) {
        z.nsecs.delete(key);
        continue;
      }
      live.push(e.nsec);
      byNsec.set(e.nsec, e.kept);
    }
    if (live.length === 0) return null;
    const proof = nsecNxdomainProof(name, live, z.zone);
    if (!("used" in proof)) return null;
    this.synthesized++;
    return answer(query, q, [z.soa, ...proof.used.map((n) => byNsec.get(n)!)], now);
  }
}

const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** The NXDOMAIN message: the question, and in authority each kept RRset with its signatures, TTLs counted down. */
function answer(query: Uint8Array, q: QueryInfo, sets: Kept[], now: number): Uint8Array {
  const rr = (owner: Uint8Array, type: number, ttl: number, rdata: Uint8Array): Uint8Array => {
    const b = new Uint8Array(owner.length + 10 + rdata.length);
    b.set(owner);
    const v = new DataView(b.buffer);
    v.setUint16(owner.length, type);
    v.setUint16(owner.length + 2, q.qclass);
    v.setUint32(owner.length + 4, ttl);
    v.setUint16(owner.length + 8, rdata.length);
    b.set(rdata, owner.length + 10);
    return b;
  };
  const records: Uint8Array[] = [];
  for (const k of sets) {
    const ttl = Math.max(0, Math.min(k.ttl, Math.floor(k.expires - now)));
    for (const r of k.rdatas) records.push(rr(k.owner, k.type, ttl, r));
    for (const s of k.sigs) records.push(rr(k.owner, RRSIG, ttl, s));
  }
  const out = new Uint8Array(q.questionEnd + records.reduce((n, r) => n + r.length, 0));
  out.set(query.subarray(0, q.questionEnd));
  out[2] = 0x80 | (query[2]! & 0x01); // QR, RD as asked
  out[3] = (query[3]! & 0x10) | Rcode.NXDOMAIN;
  out.fill(0, 4, 12);
  out[5] = 1;
  out[8] = records.length >> 8;
  out[9] = records.length & 0xff;
  let at = q.questionEnd;
  for (const r of records) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}
