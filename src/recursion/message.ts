// The messages of the iterator: the query it sends one server, and what that server's (scrubbed) answer is — the
// classification of Unbound's iter_classify_response, as a pure function of the bytes, the zone asked and the
// name asked for.
import { HEADER_LEN, QType, Rcode } from "../wire/constants";
import { rcodeOf } from "../wire/message";
import { firstName, readMessage, Section, type Message, type Rec } from "../wire/records";
import { within } from "../wire/scrub";
import { toText } from "../wire/name";
import { writeOpt, OPT_LEN } from "../wire/response";
import type { Ask } from "../upstream/transport";
import { ipv6 } from "./hints";
import { randomId, randomizeCase } from "../wire/random";

/** A records.ts key back to the wire name it is. */
export const fromKey = (key: string): Uint8Array => Uint8Array.from(key, (c) => c.charCodeAt(0));
/** A key in presentation form, for logs and traces. */
export const nameText = (key: string): string => toText(fromKey(key));

/** The query for sname/stype to an authoritative server: RD=0 (we iterate), a random ID, our OPT unless told not. */
export function buildQuery(sname: string, stype: number, o: { cd: boolean; dnssecOk: boolean; edns: boolean; randomizeCase: boolean }): Ask {
  const name = fromKey(sname);
  const qlen = name.length;
  const msg = new Uint8Array(HEADER_LEN + qlen + 4 + (o.edns ? OPT_LEN : 0));
  const id = randomId();
  msg[0] = id >> 8;
  msg[1] = id & 0xff;
  msg[3] = o.cd ? 0x10 : 0;
  msg[5] = 1;
  msg.set(name, HEADER_LEN);
  if (o.randomizeCase) randomizeCase(msg, HEADER_LEN, HEADER_LEN + qlen);
  msg[HEADER_LEN + qlen] = stype >> 8;
  msg[HEADER_LEN + qlen + 1] = stype & 0xff;
  msg[HEADER_LEN + qlen + 3] = 1; // IN
  if (o.edns) {
    msg[11] = 1;
    writeOpt(msg, HEADER_LEN + qlen + 4, 0, o.dnssecOk);
  }
  return { msg, id, question: msg.subarray(HEADER_LEN, HEADER_LEN + qlen + 4), exactCase: o.randomizeCase };
}

export function ttlOf(m: Uint8Array, r: Rec): number {
  const src = r.src ?? m;
  return ((src[r.ttlAt]! << 24) | (src[r.ttlAt + 1]! << 16) | (src[r.ttlAt + 2]! << 8) | src[r.ttlAt + 3]!) >>> 0;
}

/** The address an A or AAAA record holds, as text; null for other records. */
export function addressOf(m: Uint8Array, r: Rec): string | null {
  const src = r.src ?? m;
  if (r.type === QType.A && r.rdlen === 4) return [...src.subarray(r.rdata, r.rdata + 4)].join(".");
  if (r.type === QType.AAAA && r.rdlen === 16) return ipv6(src.subarray(r.rdata, r.rdata + 16));
  return null;
}

/** Whether the message has an OPT record (a server that answers FORMERR with one understood EDNS). */
export function hasOpt(resp: Uint8Array): boolean {
  const m = readMessage(resp, resp.length);
  return m !== null && m.records.some((r) => r.type === QType.OPT);
}

export type Classified =
  | { kind: "lame" }
  | { kind: "answer" | "nodata" | "nxdomain"; msg: Message }
  | { kind: "referral"; msg: Message; referral: { zone: string; names: string[]; ttl: number } };

/**
 * What an answer from a server of `zone` to a question for `sname` is: a referral to a cut below the zone and at
 * or above sname, an answer, NODATA or NXDOMAIN; anything else (refused, server failure, an upward or sideways
 * referral, a non-authoritative non-answer) is lame.
 */
export function classifyAnswer(resp: Uint8Array, zone: string, sname: string): Classified {
  const rcode = rcodeOf(resp);
  if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return { kind: "lame" }; // SERVFAIL, REFUSED, NOTAUTH, ...
  const msg = readMessage(resp, resp.length);
  if (!msg) return { kind: "lame" };
  if (rcode === Rcode.NXDOMAIN) return { kind: "nxdomain", msg };
  if (msg.records.some((r) => r.section === Section.Answer)) return { kind: "answer", msg };
  const aa = (resp[2]! & 0x04) !== 0;
  const soa = msg.records.some((r) => r.section === Section.Authority && r.type === QType.SOA);
  const ns = msg.records.filter((r) => r.section === Section.Authority && r.type === QType.NS);
  if (!soa && ns.length > 0) {
    const cut = ns[0]!.owner.key;
    const set = ns.filter((r) => r.owner.key === cut);
    if (cut !== zone && within(cut, zone) && within(sname, cut)) {
      return { kind: "referral", msg, referral: { zone: cut, names: set.map((r) => firstName(r)!.key), ttl: Math.min(...set.map((r) => ttlOf(resp, r))) } };
    }
    if (!aa) return { kind: "lame" }; // upward or sideways: the server does not serve this zone
  }
  return soa || aa ? { kind: "nodata", msg } : { kind: "lame" };
}

/** The addresses the additional section gives for `names` (a referral's glue, already scrubbed to the bailiwick). */
export function glueOf(resp: Uint8Array, msg: Message, names: string[]): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const r of msg.records) {
    if (r.section !== Section.Additional || !names.includes(r.owner.key)) continue;
    const a = addressOf(resp, r);
    if (!a) continue;
    const list = byName.get(r.owner.key) ?? [];
    list.push(a);
    byName.set(r.owner.key, list);
  }
  return byName;
}
