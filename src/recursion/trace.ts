// One resolution shown step by step (GET /api/resolve): the question is resolved afresh by the iterator — what it
// has learnt of zone cuts and servers is used, the packet cache is not — and every exchange is returned with the
// answer, so a user sees which servers were asked, what each said and how long it took.
import { HEADER_LEN, QType } from "../wire/constants";
import { rcodeOf } from "../wire/message";
import { firstName, readMessage, Section, type Rec } from "../wire/records";
import { toText, toWire } from "../wire/name";
import { parseQuery, QueryInfo, Verdict } from "../wire/query";
import { TYPE_NAMES, typeCode } from "../zones/rdata";
import { ipv6 } from "./hints";
import type { Recursor, TraceEntry } from "./iterator";

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

export interface Traced {
  name: string;
  type: string;
  rcode: string;
  answer: string[];
  authority: string[];
  ede: { code: number; text: string } | null;
  exchanges: Array<Omit<TraceEntry, "qtype"> & { qtype: number | string }>;
  ms: number;
}

/** The question as a query message, or a reason it is not one. */
export function traceQuery(name: string, type: string): { query: Uint8Array; q: QueryInfo } | string {
  const code = /^\d+$/.test(type) ? Number(type) : typeCode(type.toUpperCase());
  if (code === undefined || code < 1 || code > 65535) return `"${type}" is not a record type`;
  let wire: Uint8Array;
  try {
    wire = toWire(name);
  } catch (e) {
    return `"${name}" is not a domain name: ${(e as Error).message}`;
  }
  const query = new Uint8Array(HEADER_LEN + wire.length + 4);
  query[5] = 1;
  query.set(wire, HEADER_LEN);
  query[HEADER_LEN + wire.length] = code >> 8;
  query[HEADER_LEN + wire.length + 1] = code & 0xff;
  query[HEADER_LEN + wire.length + 3] = 1;
  const q = new QueryInfo();
  if (parseQuery(query, query.length, q) !== Verdict.OK) return `"${name}" ${type} is not a question bunbound resolves`;
  return { query, q };
}

export async function traceResolution(recursor: Recursor, name: string, type: string, timeoutMs: number): Promise<Traced | string> {
  const question = traceQuery(name, type);
  if (typeof question === "string") return question;
  const trace: TraceEntry[] = [];
  const t0 = performance.now();
  const got = await recursor.resolve(question.query, question.q, Date.now() + timeoutMs, AbortSignal.timeout(timeoutMs), trace);
  const resp = got?.resp ?? null;
  const m = resp ? readMessage(resp, resp.length) : null;
  const rcode = resp ? rcodeOf(resp) : 2;
  const lines = (s: Section) => (m && resp ? m.records.filter((r) => r.section === s && r.type !== QType.OPT).map((r) => recordText(resp, r)) : []);
  return {
    name: toText(question.query, HEADER_LEN, question.q.qnameEnd),
    type: TYPE_NAMES[question.q.qtype] ?? String(question.q.qtype),
    rcode: RCODES[rcode] ?? String(rcode),
    answer: lines(Section.Answer),
    authority: lines(Section.Authority),
    ede: got?.ede ?? null,
    exchanges: trace.map((e) => ({ ...e, qtype: TYPE_NAMES[e.qtype] ?? e.qtype, ms: Math.round(e.ms * 10) / 10 })),
    ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}

/** "owner TTL TYPE data" for the record types people read; RFC 3597 \# form for the rest. */
function recordText(msg: Uint8Array, r: Rec): string {
  const src = r.src ?? msg;
  const ttl = ((src[r.ttlAt]! << 24) | (src[r.ttlAt + 1]! << 16) | (src[r.ttlAt + 2]! << 8) | src[r.ttlAt + 3]!) >>> 0;
  const rd = src.subarray(r.rdata, r.rdata + r.rdlen);
  let data: string;
  if (r.type === QType.A && r.rdlen === 4) data = [...rd].join(".");
  else if (r.type === QType.AAAA && r.rdlen === 16) data = ipv6(rd);
  else if (r.type === QType.NS || r.type === QType.CNAME || r.type === 12 || r.type === 39) data = toText(firstName(r)!.bytes);
  else if (r.type === QType.SOA && r.parts.length >= 2) {
    const names = r.parts.filter((p) => "key" in p) as Array<{ bytes: Uint8Array }>;
    const f = rd.subarray(rd.length - 20);
    const n = (i: number) => ((f[i]! << 24) | (f[i + 1]! << 16) | (f[i + 2]! << 8) | f[i + 3]!) >>> 0;
    data = `${toText(names[0]!.bytes)} ${toText(names[1]!.bytes)} ${n(0)} ${n(4)} ${n(8)} ${n(12)} ${n(16)}`;
  } else data = `\\# ${r.rdlen} ${Buffer.from(rd).toString("hex")}`;
  return `${toText(r.owner.bytes)} ${ttl} ${TYPE_NAMES[r.type] ?? `TYPE${r.type}`} ${data}`;
}
