// The query thread's view of a packed zone: lookups by name hash with binary search over typed arrays, and
// views of pre-encoded RRsets. Immutable: a reload builds a new one in the heavy lane and swaps the reference.
import { closestSuffix, hashName, nameEquals, TopLabels, type SuffixLookup } from "../wire/name";
import { canonicalCompare } from "./dnssec";
import { NODE_WORDS, SET_WORDS, type PackedZone } from "./build";

export class ZoneSnapshot {
  readonly loading = false;
  readonly nodeCount: number;
  constructor(readonly p: PackedZone) {
    this.nodeCount = p.nodes.length / NODE_WORDS;
  }

  get origin(): Uint8Array {
    return this.p.origin;
  }

  /** Index of the node named buf[off..end) (uncompressed wire), or -1. */
  findNode(buf: Uint8Array, off: number, end: number, hash = hashName(buf, off, end)): number {
    const nodes = this.p.nodes;
    let lo = 0;
    let hi = this.nodeCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nodes[mid * NODE_WORDS]! < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.nodeCount && nodes[i * NODE_WORDS] === hash; i++) {
      const b = i * NODE_WORDS;
      const name = this.p.data.subarray(nodes[b + 1]!, nodes[b + 1]! + nodes[b + 2]!);
      if (nameEquals(buf, off, end, name)) return i;
    }
    return -1;
  }

  flags(node: number): number {
    return this.p.nodes[node * NODE_WORDS + 5]!;
  }

  name(node: number): Uint8Array {
    const b = node * NODE_WORDS;
    return this.p.data.subarray(this.p.nodes[b + 1]!, this.p.nodes[b + 1]! + this.p.nodes[b + 2]!);
  }

  /** The set index of `type` at `node`, or -1. */
  set(node: number, type: number): number {
    const b = node * NODE_WORDS;
    const start = this.p.nodes[b + 3]!;
    const end = start + this.p.nodes[b + 4]!;
    for (let s = start; s < end; s++) if (this.p.sets[s * SET_WORDS] === type) return s;
    return -1;
  }

  /** All set indices at a node. */
  setsOf(node: number): number[] {
    const b = node * NODE_WORDS;
    const start = this.p.nodes[b + 3]!;
    return Array.from({ length: this.p.nodes[b + 4]! }, (_, i) => start + i);
  }

  typeOf(set: number): number {
    return this.p.sets[set * SET_WORDS]!;
  }

  count(set: number): number {
    return this.p.sets[set * SET_WORDS + 1]!;
  }

  sigCount(set: number): number {
    return this.p.sets[set * SET_WORDS + 6]!;
  }

  private view(set: number, word: number): Uint8Array {
    const w = set * SET_WORDS + word;
    return this.p.data.subarray(this.p.sets[w]!, this.p.sets[w]! + this.p.sets[w + 1]!);
  }

  /** RRs with the owner as a pointer to the question (offset 12). */
  atQuestion(set: number): Uint8Array {
    return this.view(set, 2);
  }

  full(set: number): Uint8Array {
    return this.view(set, 4);
  }

  sigAtQuestion(set: number): Uint8Array {
    return this.view(set, 7);
  }

  sigFull(set: number): Uint8Array {
    return this.view(set, 9);
  }

  /** The apex SOA with the negative-answer TTL (RFC 2308 3), and its RRSIGs (empty when unsigned). */
  negativeSoa(): Uint8Array {
    return this.p.data.subarray(this.p.negSoa[0], this.p.negSoa[0] + this.p.negSoa[1]);
  }

  negativeSoaSig(): Uint8Array {
    return this.p.data.subarray(this.p.negSoaSig[0], this.p.negSoaSig[0] + this.p.negSoaSig[1]);
  }

  soaSigCount(): number {
    return this.sigCount(this.set(this.p.apex, 6));
  }

  /** The node whose NSEC covers `name` (its canonical predecessor among signed names; any letter case). */
  covering(name: Uint8Array): number {
    const canon = this.p.canon;
    let lo = 0;
    let hi = canon.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (canonicalCompare(this.name(canon[mid]!), name) <= 0) lo = mid + 1;
      else hi = mid;
    }
    // Step back over names without an NSEC (empty non-terminals, glue).
    for (let i = lo - 1; i >= 0; i--) if (this.set(canon[i]!, 47) >= 0) return canon[i]!;
    for (let i = canon.length - 1; i >= 0; i--) if (this.set(canon[i]!, 47) >= 0) return canon[i]!; // wraps to the last
    return -1;
  }
}

/** A configured zone whose first load has not succeeded (yet): its names get SERVFAIL, never upstream answers. */
export class LoadingZone {
  readonly loading = true;
  constructor(
    readonly origin: Uint8Array,
    readonly name: string,
  ) {}
}

/** The zones served, by origin; each entry is swapped whole on reload. */
export class ZoneTable {
  private readonly byHash = new Map<number, ZoneSnapshot | LoadingZone>();
  private readonly tops = new TopLabels();

  get size(): number {
    return this.byHash.size;
  }

  put(z: ZoneSnapshot | LoadingZone): void {
    const h = hashName(z.origin, 0, z.origin.length);
    if (!this.byHash.has(h)) this.tops.add(z.origin);
    this.byHash.set(h, z);
  }

  delete(origin: Uint8Array): void {
    if (this.byHash.delete(hashName(origin, 0, origin.length))) this.tops.remove(origin);
  }

  /** The closest enclosing zone of the name at buf[off..end). */
  find(buf: Uint8Array, off: number, end: number): ZoneSnapshot | LoadingZone | undefined {
    if (this.byHash.size === 0) return undefined;
    return closestSuffix(buf, off, end, this.zoneAt, this.tops);
  }

  private readonly zoneAt: SuffixLookup<ZoneSnapshot | LoadingZone> = (buf, o, end, hash) => {
    const z = this.byHash.get(hash);
    return z && nameEquals(buf, o, end, z.origin) ? z : undefined;
  };

  all(): Array<ZoneSnapshot | LoadingZone> {
    return [...this.byHash.values()];
  }
}
