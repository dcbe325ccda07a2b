// Local data: names answered without asking anyone. Exact names (from --record / records = [...]) and
// local zones per RFC 6761 / RFC 7686 / RFC 8375 (localhost, invalid, test, local, onion, home.arpa, loopback
// reverse). A configured zone or forward zone at or below one of those takes it over for its names (RFC 6761
// 6.2: "unless explicitly configured"): the closest enclosing name decides.
// Built once per config and immutable afterwards: a reload builds a new LocalData and swaps the reference.
import { QType } from "../wire/constants";
import { closestSuffix, hashName, nameEquals, nameEqualsAt, toText, toWire, TopLabels, type SuffixLookup, type WireName } from "../wire/name";
import { encodeRecord, parseRecord, type LocalRecord } from "./records";

/** One RRset, pre-encoded twice: with the owner as a pointer to the question (0xC00C) and uncompressed. */
export interface RRSet {
  type: number;
  count: number;
  /** RRs whose owner is a pointer to offset 12: ready to append after the client's question. */
  atQuestion: Uint8Array;
  /** The same RRs with the owner written out (for records later in a CNAME chain). */
  full: Uint8Array;
  /** For CNAME: the target, to follow inside local data. */
  target?: WireName;
}

export interface NameNode {
  name: WireName;
  sets: Map<number, RRSet>;
}

/**
 * "static": every name below it that has no record is NXDOMAIN. "loopback": every name below answers 127.0.0.1 / ::1.
 * "configured": a served or forwarded zone under a special name; its names are not local data's to answer.
 */
export type ZoneKind = "static" | "loopback" | "configured";

export interface LocalZone {
  name: WireName;
  kind: ZoneKind;
  /** SOA RR (uncompressed owner) for the authority section of negative answers (RFC 2308). */
  soa: Uint8Array;
  /** For loopback zones: the RRsets any name under the zone answers with. */
  synth: Map<number, RRSet>;
}

function buildSet(records: LocalRecord[]): RRSet {
  const parts = records.map(encodeRecord);
  const ownerLen = records[0]!.wire.length;
  const atQ = new Uint8Array(parts.reduce((n, p) => n + p.length - ownerLen + 2, 0));
  let o = 0;
  for (const p of parts) {
    atQ[o] = 0xc0;
    atQ[o + 1] = 0x0c;
    atQ.set(p.subarray(ownerLen), o + 2);
    o += p.length - ownerLen + 2;
  }
  const full = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  o = 0;
  for (const p of parts) {
    full.set(p, o);
    o += p.length;
  }
  const first = records[0]!;
  return {
    type: first.typeCode,
    count: records.length,
    atQuestion: atQ,
    full,
    target: first.typeCode === QType.CNAME ? toWire(first.data as string) : undefined,
  };
}

function soaFor(zone: string): Uint8Array {
  // Like Unbound's synthesised SOA for local zones: negative answers are cacheable for 3 hours.
  const name = zone === "" ? "." : zone;
  return encodeRecord({
    name,
    wire: toWire(name),
    ttl: 10800,
    type: "SOA",
    typeCode: QType.SOA,
    data: { mname: "localhost", rname: "nobody.invalid", serial: 1, refresh: 3600, retry: 1200, expire: 604800, minimum: 10800 },
  });
}

const SPECIAL_STATIC = ["invalid", "test", "local", "onion", "home.arpa", "127.in-addr.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"];

/** The RFC 6761 defaults: what bunbound answers itself even with an empty config. */
export const SPECIAL_RECORDS = [
  "localhost 3600 A 127.0.0.1",
  "localhost 3600 AAAA ::1",
  "1.0.0.127.in-addr.arpa 3600 PTR localhost",
  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa 3600 PTR localhost",
];

const LOCALHOST = toWire("localhost");

/** PackedNames.find: the name is not in the table. */
export const NO_NAME = -1;
/** PackedNames.find: the name is in the table, without an RRset of the asked type. */
export const NO_TYPE = -2;
/** Bytes before a packed RRset's RRs: type, RR count, length (16 bits each). */
export const PACKED_SET_HEADER = 6;

/**
 * The exact names and their RRsets laid out for the query path: an open-addressing table of (hash, block
 * offset) pairs in one Int32Array and the blocks in one byte array. A block is the name's length, its
 * lowercased wire bytes, the number of RRsets, then per RRset its type, RR count and length (16 bits each) and
 * the RRs with the owner as a pointer to the question — so a positive answer reads one table slot and one or
 * two neighbouring cache lines of bytes. The objects (NameNode, Map, RRSet, a Uint8Array each) it replaces on
 * that path cost a dependent cache miss each, and in the server, where the kernel runs between two batches and
 * evicts the caches, those misses were a large part of a local answer.
 */
export class PackedNames {
  private readonly table: Int32Array;
  private readonly mask: number;
  readonly bytes: Uint8Array;

  constructor(nodes: readonly NameNode[]) {
    let size = 8;
    while (size < nodes.length * 2) size <<= 1; // load factor at most 1/2: short probe runs
    this.mask = size - 1;
    this.table = new Int32Array(size * 2);
    let total = 1; // offset 0 is never a block: 0 marks an empty slot
    for (const n of nodes) {
      total += 2 + n.name.length;
      for (const set of n.sets.values()) total += PACKED_SET_HEADER + set.atQuestion.length;
    }
    const b = (this.bytes = new Uint8Array(total));
    let o = 1;
    for (const n of nodes) {
      if (n.sets.size > 255) throw new Error("more than 255 RRsets at one name");
      const block = o;
      b[o++] = n.name.length;
      b.set(n.name, o);
      o += n.name.length;
      b[o++] = n.sets.size;
      for (const set of n.sets.values()) {
        const len = set.atQuestion.length;
        if (len > 0xffff) throw new Error("an RRset longer than 65535 bytes");
        b[o] = set.type >> 8;
        b[o + 1] = set.type & 0xff;
        b[o + 2] = set.count >> 8;
        b[o + 3] = set.count & 0xff;
        b[o + 4] = len >> 8;
        b[o + 5] = len & 0xff;
        b.set(set.atQuestion, o + PACKED_SET_HEADER);
        o += PACKED_SET_HEADER + len;
      }
      const hash = hashName(n.name, 0, n.name.length) | 0;
      let i = hash & this.mask;
      while (this.table[i * 2 + 1] !== 0) i = (i + 1) & this.mask;
      this.table[i * 2] = hash;
      this.table[i * 2 + 1] = block;
    }
  }

  /**
   * The RRset of type `qtype` at the name buf[off, end) (hash: hashName of it): the offset in `bytes` of its
   * header (PACKED_SET_HEADER bytes, then the RRs), or NO_NAME / NO_TYPE.
   */
  find(buf: Uint8Array, off: number, end: number, hash: number, qtype: number): number {
    const t = this.table;
    const b = this.bytes;
    const h = hash | 0;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const block = t[i * 2 + 1]!;
      if (block === 0) return NO_NAME;
      if (t[i * 2] !== h || !nameEqualsAt(buf, off, end, b, block + 1, b[block]!)) continue;
      let o = block + 1 + b[block]!;
      const sets = b[o++]!;
      for (let k = 0; k < sets; k++) {
        if (((b[o]! << 8) | b[o + 1]!) === qtype) return o;
        o += PACKED_SET_HEADER + ((b[o + 4]! << 8) | b[o + 5]!);
      }
      return NO_TYPE;
    }
  }
}

export class LocalData {
  private readonly names = new Map<number, NameNode[]>();
  /** The same names, laid out for the query path's positive answers. */
  readonly packed: PackedNames;
  private readonly zones = new Map<number, LocalZone[]>();
  private readonly zoneTops = new TopLabels();
  readonly recordCount: number;

  /**
   * @param lines user records; the RFC 6761 names are always added after them (a user record of the same name and type wins).
   * @param configured names of the zones served (`[[zone]]`) and forwarded (`[[forward]]`): where one is at or below a
   *   special name, that name's built-in answer stops above it.
   */
  constructor(lines: readonly string[], special = true, configured: readonly string[] = []) {
    const records = lines.map(parseRecord);
    const taken = new Set(configured.map((n) => toText(toWire(n))));
    const isTaken = (name: string) => {
      for (let n = `${name}.`; n !== ""; n = n.slice(n.indexOf(".") + 1)) if (taken.has(n)) return true;
      return false;
    };
    if (special) {
      const have = new Set(records.map((r) => `${r.name}/${r.typeCode}`));
      for (const r of SPECIAL_RECORDS.map(parseRecord)) if (!have.has(`${r.name}/${r.typeCode}`) && !isTaken(r.name)) records.push(r);
    }
    const grouped = new Map<string, Map<number, LocalRecord[]>>();
    for (const r of records) {
      let byType = grouped.get(r.name);
      if (!byType) grouped.set(r.name, (byType = new Map()));
      const list = byType.get(r.typeCode) ?? [];
      list.push(r);
      byType.set(r.typeCode, list);
    }
    for (const [name, byType] of grouped) {
      if (byType.has(QType.CNAME) && (byType.size > 1 || byType.get(QType.CNAME)!.length > 1))
        throw new Error(`${name}: a CNAME cannot coexist with other records at the same name (RFC 1034 3.6.2)`);
      const wire = toWire(name);
      const node: NameNode = { name: wire, sets: new Map() };
      for (const [type, list] of byType) node.sets.set(type, buildSet(list));
      this.insert(this.names, hashName(wire, 0, wire.length), node);
    }
    this.recordCount = records.length;
    this.packed = new PackedNames([...this.names.values()].flat());
    if (special) {
      for (const z of SPECIAL_STATIC) if (!taken.has(`${z}.`)) this.addZone(z, "static");
      const node = this.findNode(LOCALHOST, 0, LOCALHOST.length, hashName(LOCALHOST, 0, LOCALHOST.length));
      if (!taken.has("localhost.") && node) {
        const loop = this.addZone("localhost", "loopback");
        for (const [t, set] of node.sets) loop.synth.set(t, set);
      }
      for (const name of taken) {
        const wire = toWire(name);
        const above = this.findZone(wire, 0, wire.length);
        if (above && above.kind !== "configured") this.addZone(name, "configured");
      }
    }
  }

  /** The exact-name node for the uncompressed name at buf[off..end). */
  findNode(buf: Uint8Array, off: number, end: number, hash: number): NameNode | undefined {
    const bucket = this.names.get(hash);
    if (!bucket) return undefined;
    for (const n of bucket) if (nameEquals(buf, off, end, n.name)) return n;
    return undefined;
  }

  /** The closest enclosing local zone of the name at buf[off..end), walking up one label at a time. */
  findZone(buf: Uint8Array, off: number, end: number): LocalZone | undefined {
    if (this.zones.size === 0) return undefined;
    return closestSuffix(buf, off, end, this.zoneAt, this.zoneTops);
  }

  private readonly zoneAt: SuffixLookup<LocalZone> = (buf, o, end, hash) =>
    this.zones.get(hash)?.find((z) => nameEquals(buf, o, end, z.name));

  private addZone(name: string, kind: ZoneKind): LocalZone {
    const wire = toWire(name);
    const zone: LocalZone = { name: wire, kind, soa: soaFor(name), synth: new Map() };
    this.insert(this.zones, hashName(wire, 0, wire.length), zone);
    this.zoneTops.add(wire);
    return zone;
  }

  private insert<T>(map: Map<number, T[]>, hash: number, value: T): void {
    const bucket = map.get(hash);
    if (bucket) bucket.push(value);
    else map.set(hash, [value]);
  }
}
