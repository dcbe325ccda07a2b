// Scrubbing an upstream's answer before anyone sees or keeps it (RFC 2181 5.4.1, RFC 5452 6): only records inside
// the zone the question was sent for (the bailiwick) and relevant to the question stay. The rules follow
// Unbound's scrubber (iterator/iter_scrub.c):
// - answer: the chain from the question name: its RRsets of the asked type, else its CNAME, or a DNAME above it
//   with the CNAME that DNAME makes (kept if sent, not made up); then the same for each target while the target is inside the bailiwick (a
//   target outside ends the chain: what an upstream says about another zone is not its to say);
// - authority: SOA and NS owned by the question name or the chain's last name or one of their ancestors; NSEC
//   (pointing inside), NSEC3 and DS; all inside the bailiwick;
// - additional: A and AAAA of names inside the bailiwick that a kept NS, MX or SRV record points at, and the OPT;
// - everywhere: an RRSIG only beside the RRset it covers; no class other than the question's; no A or AAAA of the
//   wrong length.
// Unlike Unbound we keep the in-bailiwick part of a CNAME chain instead of asking for each target again: a
// forwarder has no iterator to ask with.
import { MAX_NAME, QType } from "./constants";
import { firstName, keyOf, readMessage, Section, writeMessage, type Message, type Rec } from "./records";

/**
 * What scrubbing made of a response: the message to use (the same object when nothing went), and `tail`, the
 * name outside the bailiwick where the answer's chain went (lowercased wire; its data is not this upstream's to
 * give, so it is to be asked for on its own); or malformed.
 */
export type Scrub = { ok: true; msg: Uint8Array; removed: number; tail: Uint8Array | null } | { ok: false; failure: "malformed" };

const DNAME = 39;
const NSEC = 47;
const NSEC3 = 50;

/** True when the name `key` is `zone` or below it, comparing whole labels (keys from records.ts). */
export function within(key: string, zone: string): boolean {
  const at = key.length - zone.length;
  if (at < 0) return false;
  let i = 0;
  while (i < at) i += key.charCodeAt(i) + 1;
  return i === at && key.startsWith(zone, at);
}

/** The name `sname` rewritten by a DNAME from `owner` (an ancestor) to `target` (RFC 6672 2.2), or null if too long. */
function synthesise(sname: string, owner: string, target: string): string | null {
  const alias = sname.slice(0, sname.length - owner.length) + target;
  return alias.length > MAX_NAME ? null : alias;
}

/**
 * Scrubs the response in `resp` for the bailiwick `zone` (lowercased wire name; the root keeps every name, the
 * other rules still apply). The question is the one in `resp`: the caller has checked it is the one asked. Any
 * bytes are safe to pass: what does not parse is malformed.
 */
export function scrubResponse(resp: Uint8Array, zone: Uint8Array): Scrub {
  const m = readMessage(resp, resp.length);
  if (!m) return { ok: false, failure: "malformed" };
  const keep = new Uint8Array(m.records.length);
  const zoneKey = keyOf(zone);
  const last = keepChain(m, keep, zoneKey);
  keepAuthority(m, keep, zoneKey, last);
  keepAdditional(m, keep, zoneKey);
  keepSignatures(resp, m, keep);
  const tail = within(last, zoneKey) ? null : fromKey(last);
  let removed = 0;
  for (const k of keep) if (!k) removed++;
  if (removed === 0) return { ok: true, msg: resp, removed, tail };
  const sections: [Rec[], Rec[], Rec[]] = [[], [], []];
  m.records.forEach((r, i) => keep[i] && r.type !== QType.OPT && sections[r.section].push(r));
  // The OPT goes last: the pipeline cuts it out, and no name after it may be pointed at.
  m.records.forEach((r, i) => keep[i] && r.type === QType.OPT && sections[r.section].push(r));
  const msg = writeMessage(resp, m, sections);
  return msg ? { ok: true, msg, removed, tail } : { ok: false, failure: "malformed" };
}

function fromKey(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** Marks the answer chain from the question name; returns the chain's last name. */
function keepChain(m: Message, keep: Uint8Array, zone: string): string {
  const byOwner = new Map<string, number[]>();
  m.records.forEach((r, i) => {
    if (r.section !== Section.Answer || r.rrclass !== m.qclass) return;
    const list = byOwner.get(r.owner.key);
    if (list) list.push(i);
    else byOwner.set(r.owner.key, [i]);
  });
  const { qtype } = m;
  const seen = new Set<string>();
  let sname = m.qname.key;
  while (within(sname, zone) && !seen.has(sname)) {
    seen.add(sname);
    let data = false;
    let cname = -1;
    for (const i of byOwner.get(sname) ?? []) {
      const t = m.records[i]!.type;
      if (t === QType.CNAME && qtype !== QType.CNAME) {
        if (cname < 0) cname = i; // a CNAME is one record (RFC 2181 10.1): the first one counts
      } else if (t === qtype || (qtype === QType.ANY && t !== QType.RRSIG && t !== QType.OPT)) {
        keep[i] = 1;
        data = true;
      }
    }
    if (data && qtype !== QType.ANY) break; // the answer; a CNAME beside it is not followed
    const dname = data ? -1 : dnameAbove(m, byOwner, sname, zone);
    if (dname >= 0) {
      keep[dname] = 1;
      const alias = synthesise(sname, m.records[dname]!.owner.key, firstName(m.records[dname]!)!.key);
      if (alias === null) break;
      if (cname >= 0 && firstName(m.records[cname]!)!.key === alias) keep[cname] = 1;
      sname = alias;
      continue;
    }
    if (cname < 0) break;
    keep[cname] = 1;
    sname = firstName(m.records[cname]!)!.key;
  }
  return sname;
}

/** The DNAME owned by the closest strict ancestor of `sname` inside the bailiwick, or -1. */
function dnameAbove(m: Message, byOwner: Map<string, number[]>, sname: string, zone: string): number {
  for (let i = sname.charCodeAt(0) + 1; i < sname.length; i += sname.charCodeAt(i) + 1) {
    const ancestor = sname.slice(i);
    if (!within(ancestor, zone)) return -1;
    for (const j of byOwner.get(ancestor) ?? []) if (m.records[j]!.type === DNAME) return j;
  }
  return -1;
}

function keepAuthority(m: Message, keep: Uint8Array, zone: string, last: string): void {
  m.records.forEach((r, i) => {
    if (r.section !== Section.Authority || r.rrclass !== m.qclass || !within(r.owner.key, zone)) return;
    switch (r.type) {
      case QType.SOA:
      case QType.NS:
        // Pertinent to the question: its zone or a zone above it, never a sibling's (RFC 2181 5.4.1).
        if (within(m.qname.key, r.owner.key) || within(last, r.owner.key)) keep[i] = 1;
        break;
      case NSEC:
        if (within(firstName(r)!.key, zone)) keep[i] = 1; // its next name must not reach out of the bailiwick
        break;
      case NSEC3:
      case QType.DS:
        keep[i] = 1;
    }
  });
}

function keepAdditional(m: Message, keep: Uint8Array, zone: string): void {
  const targets = new Set<string>();
  m.records.forEach((r, i) => {
    if (keep[i] && (r.type === QType.NS || r.type === QType.MX || r.type === QType.SRV)) targets.add(firstName(r)!.key);
  });
  let opt = false;
  m.records.forEach((r, i) => {
    if (r.section !== Section.Additional) return;
    if (r.type === QType.OPT) {
      if (!opt) keep[i] = 1; // one OPT at most (RFC 6891 6.1.1)
      opt = true;
    } else if ((r.type === QType.A || r.type === QType.AAAA) && r.rrclass === m.qclass) {
      if (within(r.owner.key, zone) && targets.has(r.owner.key)) keep[i] = 1;
    }
  });
  m.records.forEach((r, i) => {
    if ((r.type === QType.A && r.rdlen !== 4) || (r.type === QType.AAAA && r.rdlen !== 16)) keep[i] = 0;
  });
}

/** Keeps each RRSIG that sits beside a kept RRset of the type it covers (its first two bytes), in the same section. */
function keepSignatures(resp: Uint8Array, m: Message, keep: Uint8Array): void {
  const kept = new Set<string>();
  m.records.forEach((r, i) => {
    if (keep[i] && r.type !== QType.RRSIG) kept.add(`${r.section}/${r.type}/${r.owner.key}`);
  });
  m.records.forEach((r, i) => {
    if (r.type !== QType.RRSIG || r.rrclass !== m.qclass) return;
    const covered = (resp[r.rdata]! << 8) | resp[r.rdata + 1]!; // RRSIG RDATA is at least 18 bytes (records.ts)
    if (kept.has(`${r.section}/${covered}/${r.owner.key}`)) keep[i] = 1;
  });
}
