// What the iterator knows of the tree: zone cuts (a zone's NS names, from referrals, priming and stub zones) and
// the addresses of server names (from glue and from answers). Both are bounded (least recently used go first)
// and expire with their TTLs. Addresses are ranked like Unbound's RRset trust levels: glue from a parent never
// replaces an address the name's own zone gave, until that one expires.
import { within } from "../wire/scrub";

export interface Cut {
  /** Lowercased wire name of the zone, as a records.ts key. */
  zone: string;
  /** NS names (keys). */
  ns: string[];
  /** Servers asked regardless of the NS names ("host#port"): a stub zone's, or the root hints' until primed. */
  fixed: string[];
  /** ms since epoch; Infinity for stub zones and hints. */
  expires: number;
}

export const enum Rank {
  Glue = 1,
  Answer = 2,
}

interface Addresses {
  /** "host#port" */
  addrs: string[];
  rank: Rank;
  expires: number;
}

/** "host#port": one server's key (the infra cache's too). */
export const serverKey = (host: string, port: number): string => `${host}#${port}`;

/** "192.0.2.1:53", "[2001:db8::1]:53" for a server key. */
export function serverLabel(key: string): string {
  const i = key.lastIndexOf("#");
  const host = key.slice(0, i);
  return host.includes(":") ? `[${host}]:${key.slice(i + 1)}` : `${host}:${key.slice(i + 1)}`;
}

/** The root's key (records.ts keys are whole wire names, the root label included). */
export const ROOT_KEY = "\0";

/** The name `key` and the names above it, the root last (keys of records.ts). */
export function* ancestors(key: string): Generator<string> {
  let i = 0;
  while (i < key.length - 1) {
    yield key.slice(i);
    i += key.charCodeAt(i) + 1;
  }
  yield ROOT_KEY;
}

/** How many labels the name `key` has (the root: 0). */
export function labelCount(key: string): number {
  let n = 0;
  for (let i = 0; i < key.length && key.charCodeAt(i) !== 0; i += key.charCodeAt(i) + 1) n++;
  return n;
}

/** The suffix of `key` with `labels` labels. */
export function suffixOf(key: string, labels: number): string {
  let skip = labelCount(key) - labels;
  let i = 0;
  while (skip-- > 0) i += key.charCodeAt(i) + 1;
  return key.slice(i);
}

export class Cuts {
  private readonly cuts = new Map<string, Cut>();
  private readonly addresses = new Map<string, Addresses>();
  /** Configured cuts (stub zones, the root): never evicted, replaced only by configuration. */
  private readonly pinned = new Map<string, Cut>();

  constructor(
    private readonly max: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): { cuts: number; addresses: number } {
    return { cuts: this.cuts.size, addresses: this.addresses.size };
  }

  /** Sets the configured cuts: the root (hints) and the stub zones. */
  pin(cuts: Cut[]): void {
    this.pinned.clear();
    for (const c of cuts) this.pinned.set(c.zone, c);
  }

  /** The deepest cut known at or above `key`: a learnt one below a pinned one wins, an expired one is dropped. */
  closest(key: string): Cut {
    const now = this.now();
    for (const name of ancestors(key)) {
      const c = this.cuts.get(name);
      if (c) {
        if (c.expires > now) {
          this.touch(this.cuts, name, c);
          return c;
        }
        this.cuts.delete(name);
      }
      const p = this.pinned.get(name);
      if (p) return p;
    }
    throw new Error("no root cut: root hints not loaded");
  }

  /** A cut learnt from a referral or priming, kept for `ttl` seconds. A pinned zone's learnt cut refines it (priming). */
  learn(zone: string, ns: string[], ttl: number): Cut {
    const cut: Cut = { zone, ns, fixed: [], expires: this.now() + ttl * 1000 };
    this.cuts.delete(zone);
    this.cuts.set(zone, cut);
    this.trim(this.cuts);
    return cut;
  }

  /** The known addresses of server name `key`, or null (none known, or expired). */
  addressesOf(key: string): string[] | null {
    const a = this.addresses.get(key);
    if (!a) return null;
    if (a.expires <= this.now()) {
      this.addresses.delete(key);
      return null;
    }
    this.touch(this.addresses, key, a);
    return a.addrs;
  }

  /** Addresses of server name `key` for `ttl` seconds; glue does not replace an answer's that is still fresh. */
  learnAddresses(key: string, addrs: string[], ttl: number, rank: Rank): void {
    const old = this.addresses.get(key);
    if (old && old.expires > this.now() && old.rank > rank) return;
    this.addresses.delete(key);
    this.addresses.set(key, { addrs, rank, expires: this.now() + ttl * 1000 });
    this.trim(this.addresses);
  }

  /** Forgets everything learnt (not the pinned cuts): a reload with other hints or stub zones. */
  clear(): void {
    this.cuts.clear();
    this.addresses.clear();
  }

  /** Whether `key` is at or below a pinned cut other than the root (a stub zone). */
  stubFor(key: string): Cut | null {
    for (const name of ancestors(key)) {
      if (name === ROOT_KEY) return null;
      const p = this.pinned.get(name);
      if (p && within(key, p.zone)) return p;
    }
    return null;
  }

  private touch<V>(map: Map<string, V>, key: string, v: V): void {
    map.delete(key);
    map.set(key, v);
  }

  private trim<V>(map: Map<string, V>): void {
    const max = this.max();
    while (map.size > max) map.delete(map.keys().next().value!);
  }
}
