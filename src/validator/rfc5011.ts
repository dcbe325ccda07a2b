// Automated updates of trust anchors (RFC 5011): each time the DNSKEY RRset of an anchored zone (the root) is
// validated through the keys trusted for it, its secure entry points (SEP flag) move through the states of RFC
// 5011 4: a new one waits out the 30-day add hold-down (AddPend) before it is trusted (Valid), a trusted one that
// is no longer published is Missing (still trusted), and one published with the REVOKE bit and signed by itself
// is Revoked: never trusted again, even where a configured anchor names it. The states are kept in
// data_dir/dnssec/trust-anchors.json (written whole, then renamed), so a KSK rollover seen by a long-running
// resolver outlives its restarts; the configured or built-in anchors stay trusted besides.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyTag } from "../zones/dnssec";
import { log } from "../metrics/log";
import { toText } from "../wire/name";
import { dsOfKey, type Anchor } from "./anchors";
import type { SignedSet } from "./chain";
import { dsMatches, type Ds } from "./digests";
import { parseDnskey, verifyRRset } from "./verify";

/** RFC 5011 2.4.1: a new key is trusted after it has been seen, validly signed, for 30 days. */
export const ADD_HOLD_DOWN_S = 30 * 86400;
const SEP = 0x0001;
const REVOKE = 0x0080;

export type KeyState = "addpend" | "valid" | "missing" | "revoked";

/** A secure entry point as tracked: its DNSKEY RDATA without the REVOKE bit (a key and its revocation are one). */
export interface TrackedKey {
  keyTag: number;
  algorithm: number;
  /** Base64 of the RDATA, REVOKE bit clear. */
  dnskey: string;
  state: KeyState;
  /** Seconds since the epoch: when it entered its state. */
  since: number;
  firstSeen: number;
}

interface StateFile {
  version: 1;
  /** By zone, as text ("."). */
  zones: Record<string, TrackedKey[]>;
}

const FILE = "trust-anchors.json";

export class AnchorStates {
  private zones = new Map<string, TrackedKey[]>();
  /** Bumped on every change: what apply() made is remade. */
  private version = 0;
  private applied: { from: Anchor[]; version: number; out: Anchor[] } | null = null;

  /** `dir`: where the state file lives (data_dir/dnssec); null keeps the states in memory only. */
  constructor(private readonly dir: string | null) {
    if (!dir) return;
    let text: string;
    try {
      text = readFileSync(join(dir, FILE), "utf8");
    } catch {
      return; // none yet
    }
    try {
      const f = JSON.parse(text) as StateFile;
      for (const [zone, keys] of Object.entries(f.zones ?? {})) this.zones.set(zone, keys.filter((k) => typeof k.dnskey === "string" && typeof k.state === "string"));
    } catch (err) {
      log.warn("trust anchor states unreadable; starting from the configured anchors", { file: join(dir, FILE), err });
    }
  }

  /** The tracked keys of `zone` (text), for the API and tests. */
  keys(zone: string): readonly TrackedKey[] {
    return this.zones.get(zone) ?? [];
  }

  /** The anchors to trust: `configured` with the Valid and Missing tracked keys added and Revoked ones taken out. */
  apply(configured: Anchor[]): Anchor[] {
    const a = this.applied;
    if (a && a.from === configured && a.version === this.version) return a.out;
    const out = configured.map((anchor) => {
      const keys = this.zones.get(toText(anchor.zone));
      if (!keys) return anchor;
      const revoked = keys.filter((k) => k.state === "revoked").map((k) => keyOf(anchor.zone, k));
      const ds = anchor.ds.filter((d) => !revoked.some((key) => key && dsMatches(d, key) === "match"));
      for (const k of keys) {
        if (k.state !== "valid" && k.state !== "missing") continue;
        const d = dsOfKey(anchor.zone, new Uint8Array(Buffer.from(k.dnskey, "base64")));
        if (!d) continue;
        if (!ds.some((x) => x.keyTag === d.keyTag && x.algorithm === d.algorithm && x.digestType === 2 && Buffer.compare(x.digest, d.digest) === 0)) ds.push(d);
      }
      return { zone: anchor.zone, ds };
    });
    this.applied = { from: configured, version: this.version, out };
    return out;
  }

  /**
   * The DNSKEY RRset of anchored `zone`, just validated through `ds` (the anchor as applied), at `now`: each SEP
   * key's state moved on (RFC 5011 4), and the file written when one changed.
   */
  async observe(zone: Uint8Array, set: SignedSet, ds: Ds[], now: number): Promise<void> {
    const name = toText(zone);
    const keys = [...(this.zones.get(name) ?? [])];
    const byId = new Map(keys.map((k) => [k.dnskey, k]));
    const seen = new Set<string>();
    let changed = false;
    const move = (k: TrackedKey, state: KeyState) => {
      log.info("trust anchor key state changed (RFC 5011)", { zone: name, keyTag: k.keyTag, from: k.state, to: state });
      k.state = state;
      k.since = now;
      changed = true;
    };
    for (const rdata of set.rrset.rdatas) {
      const key = parseDnskey(zone, rdata);
      if (!key || (key.flags & SEP) === 0) continue;
      const plain = rdata.slice();
      plain[1]! &= ~REVOKE;
      const id = Buffer.from(plain).toString("base64");
      seen.add(id);
      let k = byId.get(id);
      if (key.flags & REVOKE) {
        // Revoked only by the key itself: a signature over this RRset made with the revoked key (RFC 5011 2.1).
        const self = set.sigs.filter((s) => s.keyTag === key.keyTag && s.algorithm === key.algorithm);
        let signed = false;
        for (const s of self) if ((await verifyRRset(set.rrset, s, key, now)) === "valid") signed = true;
        if (!signed) continue;
        if (!k) {
          k = { keyTag: keyTag(plain), algorithm: key.algorithm, dnskey: id, state: "revoked", since: now, firstSeen: now };
          keys.push(k);
          byId.set(id, k);
          log.info("trust anchor key revoked (RFC 5011)", { zone: name, keyTag: k.keyTag });
          changed = true;
        } else if (k.state !== "revoked") move(k, "revoked");
        continue;
      }
      if (!k) {
        // A key the anchor already names is trusted as it is; any other waits out the hold-down.
        const anchored = ds.some((d) => dsMatches(d, key) === "match");
        k = { keyTag: key.keyTag, algorithm: key.algorithm, dnskey: id, state: anchored ? "valid" : "addpend", since: now, firstSeen: now };
        keys.push(k);
        byId.set(id, k);
        log.info(anchored ? "trust anchor key tracked (RFC 5011)" : "new trust anchor key seen; trusted after the hold-down (RFC 5011)", { zone: name, keyTag: k.keyTag, state: k.state });
        changed = true;
      } else if (k.state === "addpend" && now - k.since >= ADD_HOLD_DOWN_S) move(k, "valid");
      else if (k.state === "missing") move(k, "valid");
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (seen.has(k.dnskey)) continue;
      if (k.state === "addpend") {
        keys.splice(i, 1); // gone before its hold-down ended: forgotten (RFC 5011 4, AddPend → Start)
        changed = true;
      } else if (k.state === "valid") move(k, "missing");
    }
    if (!changed) return;
    this.zones.set(name, keys);
    this.version++;
    this.save();
  }

  private save(): void {
    if (!this.dir) return;
    const file = join(this.dir, FILE);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const body: StateFile = { version: 1, zones: Object.fromEntries(this.zones) };
      writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      log.warn("trust anchor states not saved; kept in memory", { file, err });
    }
  }
}

/** The tracked key as a DNSKEY (REVOKE clear), to match DS records against. */
function keyOf(zone: Uint8Array, k: TrackedKey) {
  return parseDnskey(zone, new Uint8Array(Buffer.from(k.dnskey, "base64")));
}
