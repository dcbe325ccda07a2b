// Zone records → an immutable, packed snapshot: every RRset pre-encoded (owner as a pointer to the question,
// and written out), indexed by name hash in typed arrays. Built in the heavy lane's worker and transferred to
// the query thread without copying, so a 500,000-record zone costs the query thread nothing but a swap.
import { hashName, toText } from "../wire/name";
import { canonicalCompare, nsecRdata, signRRset, type SignWindow, type ZoneKey } from "./dnssec";
import type { ZoneRecord } from "./master";

export const NODE_WORDS = 6; // hash, nameOff, nameLen, setStart, setCount, flags
export const SET_WORDS = 11; // type, count, atQOff, atQLen, fullOff, fullLen, sigCount, sigAtQOff, sigAtQLen, sigFullOff, sigFullLen
export const enum NodeFlag {
  DELEGATION = 1, // has NS and is not the apex: a zone cut
  GLUE = 2, // below a zone cut: not authoritative
  EMPTY = 4, // empty non-terminal
}

export interface PackedZone {
  name: string;
  origin: Uint8Array;
  serial: number;
  signed: boolean;
  records: number;
  data: Uint8Array;
  nodes: Uint32Array;
  sets: Uint32Array;
  /** Node indices in canonical order (RFC 4034 6.1). */
  canon: Uint32Array;
  apex: number;
  /**
   * The apex SOA as negative answers carry it, TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 3), and its RRSIGs with the
   * same TTL: [offset, length] in `data` of each, owner written out.
   */
  negSoa: [number, number];
  negSoaSig: [number, number];
  /** Earliest RRSIG expiration (s since epoch), 0 when unsigned: re-sign before this. */
  sigExpiration: number;
}

export interface BuildNode {
  name: Uint8Array;
  sets: Map<number, { ttl: number; rdatas: Uint8Array[] }>;
  sigs: Map<number, Uint8Array[]>;
  flags: number;
}

function isBelow(name: Uint8Array, zone: Uint8Array): boolean {
  if (name.length < zone.length) return false;
  const off = name.length - zone.length;
  for (let i = 0; i < zone.length; i++) if (name[off + i] !== zone[i]) return false;
  // the suffix must start at a label boundary
  for (let o = 0; o <= off; o += name[o]! + 1) if (o === off) return true;
  return false;
}

function parent(name: Uint8Array): Uint8Array {
  return name.subarray(name[0]! + 1);
}

const key = (n: Uint8Array) => Buffer.from(n).toString("latin1");
const cmpBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);

/** Groups and checks records: all in zone, one SOA at the apex, CNAME alone, ENTs added, cuts and glue marked. */
export function organize(origin: Uint8Array, records: ZoneRecord[]): Map<string, BuildNode> {
  const nodes = new Map<string, BuildNode>();
  const get = (name: Uint8Array) => {
    const k = key(name);
    let n = nodes.get(k);
    if (!n) nodes.set(k, (n = { name, sets: new Map(), sigs: new Map(), flags: 0 }));
    return n;
  };
  for (const r of records) {
    if (!isBelow(r.owner, origin)) throw new Error(`${r.where}: ${toText(r.owner, 0)} is outside the zone ${toText(origin, 0)}`);
    if (r.type === 6 && key(r.owner) !== key(origin)) throw new Error(`${r.where}: SOA must be at the zone apex`);
    const n = get(r.owner);
    const set = n.sets.get(r.type);
    if (!set) n.sets.set(r.type, { ttl: r.ttl, rdatas: [r.rdata] });
    else {
      set.ttl = Math.min(set.ttl, r.ttl); // RFC 2181 5.2: one TTL per RRset
      if (!set.rdatas.some((d) => cmpBytes(d, r.rdata) === 0)) set.rdatas.push(r.rdata);
    }
    if (n.sets.has(5) && n.sets.size > 1) throw new Error(`${r.where}: ${toText(r.owner, 0)} has a CNAME and other data (RFC 1034 3.6.2)`);
    if ((n.sets.get(5)?.rdatas.length ?? 0) > 1) throw new Error(`${r.where}: ${toText(r.owner, 0)} has more than one CNAME (RFC 2181 10.1)`);
  }
  const apex = nodes.get(key(origin));
  const soa = apex?.sets.get(6);
  if (!soa) throw new Error(`zone ${toText(origin, 0)} has no SOA record at its apex`);
  if (soa.rdatas.length !== 1) throw new Error(`zone ${toText(origin, 0)} has more than one SOA record`);
  for (const n of [...nodes.values()]) {
    for (let p = n.name; p.length > origin.length; ) {
      p = parent(p);
      if (!nodes.has(key(p))) {
        const ent = get(p);
        ent.flags |= NodeFlag.EMPTY;
      }
    }
  }
  for (const n of nodes.values()) {
    if (n.name.length !== origin.length && n.sets.has(2)) n.flags |= NodeFlag.DELEGATION;
  }
  for (const n of nodes.values()) {
    for (let p = n.name; p.length > origin.length; ) {
      p = parent(p);
      if (p.length > origin.length && nodes.get(key(p))!.flags & NodeFlag.DELEGATION) {
        n.flags |= NodeFlag.GLUE;
        break;
      }
    }
  }
  for (const n of nodes.values()) for (const s of n.sets.values()) s.rdatas.sort(cmpBytes); // canonical RR order
  return nodes;
}

/** Adds DNSKEY, the NSEC chain and an RRSIG for every authoritative RRset. */
export async function sign(origin: Uint8Array, nodes: Map<string, BuildNode>, keyPair: ZoneKey, win: SignWindow): Promise<void> {
  const apex = nodes.get(key(origin))!;
  const soaRdata = apex.sets.get(6)!.rdatas[0]!;
  const minimum = new DataView(soaRdata.buffer, soaRdata.byteOffset + soaRdata.length - 4).getUint32(0);
  const soaTtl = apex.sets.get(6)!.ttl;
  apex.sets.set(48, { ttl: soaTtl, rdatas: [keyPair.dnskeyRdata] });
  const chain = [...nodes.values()].filter((n) => !(n.flags & (NodeFlag.GLUE | NodeFlag.EMPTY))).sort((a, b) => canonicalCompare(a.name, b.name));
  const nsecTtl = Math.min(minimum, soaTtl); // RFC 4034 4: the SOA minimum (RFC 9077: min with the SOA TTL)
  chain.forEach((n, i) => {
    const next = chain[(i + 1) % chain.length]!.name;
    const types = [...n.sets.keys(), 46, 47];
    n.sets.set(47, { ttl: nsecTtl, rdatas: [nsecRdata(next, types)] });
  });
  for (const n of chain) {
    for (const [type, s] of n.sets) {
      if (n.flags & NodeFlag.DELEGATION && type !== 43 && type !== 47) continue; // only DS and NSEC are signed at a cut
      n.sigs.set(type, [await signRRset(n.name, type, s.ttl, s.rdatas, keyPair, origin, win)]);
    }
  }
}

function rr(owner: Uint8Array | null, type: number, ttl: number, rdata: Uint8Array): Uint8Array {
  const ownerLen = owner ? owner.length : 2;
  const out = new Uint8Array(ownerLen + 10 + rdata.length);
  if (owner) out.set(owner);
  else {
    out[0] = 0xc0;
    out[1] = 0x0c;
  }
  const v = new DataView(out.buffer);
  v.setUint16(ownerLen, type);
  v.setUint16(ownerLen + 2, 1);
  v.setUint32(ownerLen + 4, ttl);
  v.setUint16(ownerLen + 8, rdata.length);
  out.set(rdata, ownerLen + 10);
  return out;
}

/** Encodes an RRset as wire RRs, owner written out or (owner = null) as a pointer to the question. */
export function encodeSet(owner: Uint8Array | null, type: number, ttl: number, rdatas: Uint8Array[]): Uint8Array {
  return Buffer.concat(rdatas.map((d) => rr(owner, type, ttl, d)));
}

/** Packs organized (and maybe signed) nodes into a PackedZone. */
export function pack(name: string, origin: Uint8Array, nodes: Map<string, BuildNode>, signed: boolean, sigExpiration: number): PackedZone {
  const list = [...nodes.values()].map((n) => ({ n, hash: hashName(n.name, 0, n.name.length) }));
  list.sort((a, b) => a.hash - b.hash);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const put = (b: Uint8Array) => {
    chunks.push(b);
    const off = size;
    size += b.length;
    return off;
  };
  const nodeWords = new Uint32Array(list.length * NODE_WORDS);
  const setCount = list.reduce((k, x) => k + x.n.sets.size, 0);
  const setWords = new Uint32Array(setCount * SET_WORDS);
  let si = 0;
  let records = 0;
  list.forEach(({ n, hash }, i) => {
    const b = i * NODE_WORDS;
    nodeWords[b] = hash;
    nodeWords[b + 1] = put(n.name);
    nodeWords[b + 2] = n.name.length;
    nodeWords[b + 3] = si;
    nodeWords[b + 4] = n.sets.size;
    nodeWords[b + 5] = n.flags;
    for (const [type, s] of n.sets) {
      const w = si++ * SET_WORDS;
      const atQ = encodeSet(null, type, s.ttl, s.rdatas);
      const full = encodeSet(n.name, type, s.ttl, s.rdatas);
      records += s.rdatas.length;
      setWords[w] = type;
      setWords[w + 1] = s.rdatas.length;
      setWords[w + 2] = put(atQ);
      setWords[w + 3] = atQ.length;
      setWords[w + 4] = put(full);
      setWords[w + 5] = full.length;
      const sigs = n.sigs.get(type);
      if (sigs) {
        const sAtQ = encodeSet(null, 46, s.ttl, sigs);
        const sFull = encodeSet(n.name, 46, s.ttl, sigs);
        setWords[w + 6] = sigs.length;
        setWords[w + 7] = put(sAtQ);
        setWords[w + 8] = sAtQ.length;
        setWords[w + 9] = put(sFull);
        setWords[w + 10] = sFull.length;
      }
    }
  });
  const apexNode = nodes.get(key(origin))!;
  const soaSet = apexNode.sets.get(6)!;
  const soaRdata = soaSet.rdatas[0]!;
  const negTtl = Math.min(soaSet.ttl, new DataView(soaRdata.buffer, soaRdata.byteOffset + soaRdata.length - 4).getUint32(0));
  const negSoaBytes = encodeSet(origin, 6, negTtl, soaSet.rdatas);
  const negSoa: [number, number] = [put(negSoaBytes), negSoaBytes.length];
  const soaSigs = apexNode.sigs.get(6);
  const negSigBytes = soaSigs ? encodeSet(origin, 46, negTtl, soaSigs) : new Uint8Array(0);
  const negSoaSig: [number, number] = [put(negSigBytes), negSigBytes.length];
  const data = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  const order = list.map((_, i) => i).sort((a, b) => canonicalCompare(list[a]!.n.name, list[b]!.n.name));
  const apex = list.findIndex((x) => x.n.name.length === origin.length);
  const soa = nodes.get(key(origin))!.sets.get(6)!.rdatas[0]!;
  const serial = new DataView(soa.buffer, soa.byteOffset + soa.length - 20).getUint32(0);
  return { name, origin, serial, signed, records, data, nodes: nodeWords, sets: setWords, canon: new Uint32Array(order), apex, negSoa, negSoaSig, sigExpiration };
}

/** AXFR (RFC 5936): the zone as DNS messages of at most ~16 KiB each, SOA first and last, for `id`/question. */
export function axfrMessages(origin: Uint8Array, nodes: Map<string, BuildNode>, id: number, question: Uint8Array): Uint8Array[] {
  const apex = nodes.get(key(origin))!;
  const soa = apex.sets.get(6)!;
  const soaRR = encodeSet(origin, 6, soa.ttl, soa.rdatas);
  const rrs: Uint8Array[] = [soaRR];
  const sorted = [...nodes.values()].sort((a, b) => canonicalCompare(a.name, b.name));
  for (const n of sorted) {
    for (const [type, s] of n.sets) {
      if (type !== 6 || n !== apex) for (const d of s.rdatas) rrs.push(encodeSet(n.name, type, s.ttl, [d]));
      for (const sig of n.sigs.get(type) ?? []) rrs.push(encodeSet(n.name, 46, s.ttl, [sig]));
    }
  }
  rrs.push(soaRR);
  const messages: Uint8Array[] = [];
  const LIMIT = 16 * 1024;
  let batch: Uint8Array[] = [];
  let size = 12 + question.length;
  const flush = () => {
    const header = new Uint8Array(12);
    const v = new DataView(header.buffer);
    v.setUint16(0, id);
    v.setUint16(2, 0x8400); // QR, AA
    v.setUint16(4, messages.length === 0 ? 1 : 0); // the question only in the first message (RFC 5936 2.2)
    v.setUint16(6, batch.length);
    // A copy with its own ArrayBuffer (Buffer.concat may hand out a slice of a shared pool): it is transferred.
    messages.push(new Uint8Array(Buffer.concat([header, ...(messages.length === 0 ? [question] : []), ...batch])));
    batch = [];
    size = 12;
  };
  for (const r of rrs) {
    if (batch.length > 0 && size + r.length > LIMIT) flush();
    batch.push(r);
    size += r.length;
  }
  flush();
  return messages;
}
