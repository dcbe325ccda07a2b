// The question matrix: every question over UDP and TCP, without EDNS, with EDNS (1232) and DO=0, with DO=1,
// in the zone's case and in random 0x20 case; the same bytes go to the reference server and to bunbound, and
// each pair of answers is compared. The report of a question groups the variants that differ the same way and
// shows both normalised answers once per group.
import { differences, normalise, render, type Allowance, type Normalised } from "./compare";
import { buildQuery, exchange, inBatches, randomCase, rng, type Transport } from "./query";
import type { Question } from "./zone";

export interface Variant {
  transport: Transport;
  edns: "noedns" | "edns" | "do";
  case: "plain" | "0x20";
}

export const VARIANTS: Variant[] = (["udp", "tcp"] as const).flatMap((transport) =>
  (["noedns", "edns", "do"] as const).flatMap((edns) => (["plain", "0x20"] as const).map((c) => ({ transport, edns, case: c }))),
);

export const variantLabel = (v: Variant) => `${v.transport}/${v.edns}/${v.case}`;

export interface Exchange {
  variant: Variant;
  qname: string;
  ref: Normalised | null;
  sub: Normalised | null;
  diffs: string[];
  used: string[];
}

export interface Peer {
  name: string;
  port: number;
}

function parse(bytes: Uint8Array | null, who: string): { n: Normalised | null; error?: string } {
  if (!bytes) return { n: null };
  try {
    return { n: normalise(bytes) };
  } catch (e) {
    return { n: null, error: `malformed answer from ${who}: ${(e as Error).message}` };
  }
}

export interface MatrixOptions {
  questions: Question[];
  variants?: Variant[];
  ref: Peer;
  sub: Peer;
  allowances: Allowance[];
  seed: number;
  rd?: boolean;
  /** Exchanges in flight at once (each one asks both servers). */
  width?: number;
  /** Asks the reference first and bunbound after (for forwarders: both see a warm upstream). */
  sequential?: boolean;
}

/** Asks every question in every variant of both servers; results per question, in the order of `questions`. */
export async function runMatrix(o: MatrixOptions): Promise<Exchange[][]> {
  const random = rng(o.seed);
  const variants = o.variants ?? VARIANTS;
  const jobs = o.questions.flatMap((q, qi) =>
    variants.map((v) => {
      const qname = v.case === "0x20" ? randomCase(q.name, random) : q.name;
      const msg = buildQuery(qname, q.type, { id: Math.floor(random() * 65536), qclass: q.qclass, edns: v.edns === "noedns" ? undefined : (q.ednsSize ?? 1232), dnssecOk: v.edns === "do", rd: o.rd });
      return { qi, q, v, qname, msg };
    }),
  );
  const out: Exchange[][] = o.questions.map(() => []);
  await inBatches(jobs, o.width ?? 16, async (j) => {
    const ask = (p: Peer) => exchange(j.v.transport, p.port, j.msg);
    const [rb, sb] = o.sequential ? [await ask(o.ref), await ask(o.sub)] : await Promise.all([ask(o.ref), ask(o.sub)]);
    const ref = parse(rb, o.ref.name);
    const sub = parse(sb, o.sub.name);
    const ctx = { qname: j.qname, qtype: j.q.type, qclass: j.q.qclass ?? "IN", dnssecOk: j.v.edns === "do", transport: j.v.transport, ednsSize: j.v.edns === "noedns" ? undefined : (j.q.ednsSize ?? 1232) };
    const c = differences(ref.n, sub.n, o.allowances, ctx);
    const errors = [ref.error, sub.error].filter((e): e is string => !!e);
    out[j.qi]!.push({ variant: j.v, qname: j.qname, ref: ref.n, sub: sub.n, diffs: [...errors, ...c.diffs], used: c.used });
  });
  for (const list of out) list.sort((a, b) => VARIANTS.indexOf(a.variant) - VARIANTS.indexOf(b.variant));
  return out;
}

/** "" when every variant agrees; otherwise the differences grouped by variant, with both answers. */
export function report(q: Question, results: Exchange[], refName: string, subName: string): string {
  const bad = results.filter((r) => r.diffs.length);
  if (!bad.length) return "";
  const groups = new Map<string, Exchange[]>();
  for (const r of bad) groups.set(r.diffs.join("\n"), [...(groups.get(r.diffs.join("\n")) ?? []), r]);
  const lines = [`${q.name} ${q.qclass ?? "IN"} ${q.type}${q.ednsSize ? ` (EDNS ${q.ednsSize})` : ""} — ${q.why}: ${bad.length} of ${results.length} exchanges differ`];
  for (const [diff, rs] of groups) {
    const first = rs[0]!;
    lines.push(`  [${rs.map((r) => variantLabel(r.variant)).join(" ")}] (first asked as ${first.qname})`);
    for (const d of diff.split("\n")) lines.push(`    ${d}`);
    lines.push(`    ${refName}:`, render(first.ref), `    ${subName}:`, render(first.sub));
  }
  return lines.join("\n");
}

/** The line a suite prints at the end: exchanges, questions that differ, and how often each allowance was needed. */
export function summary(title: string, all: Exchange[][], seed: number): string {
  const m = new Map<string, number>();
  for (const list of all) for (const r of list) for (const u of r.used) m.set(u, (m.get(u) ?? 0) + 1);
  const differing = all.filter((r) => r.some((e) => e.diffs.length)).length;
  const used = [...m].map(([k, v]) => `${k} ×${v}`).join(", ") || "none";
  return `${title}: ${all.flat().length} exchanges (seed ${seed}), ${differing} of ${all.length} questions differ; allowed differences used: ${used}`;
}

/**
 * With CONFORMANCE_REPORT=DIR, writes every exchange of a run (both answers, equal or not) to DIR/<title>.txt,
 * for reading what the servers said beyond the differences.
 */
export async function dumpAll(title: string, questions: Question[], results: Exchange[][], refName: string, subName: string): Promise<void> {
  const dir = process.env.CONFORMANCE_REPORT;
  if (!dir) return;
  const lines: string[] = [];
  for (const [i, q] of questions.entries()) {
    lines.push(`### ${q.name} ${q.qclass ?? "IN"} ${q.type}${q.ednsSize ? ` (EDNS ${q.ednsSize})` : ""} — ${q.why}`);
    for (const e of results[i] ?? []) {
      lines.push(`  ${variantLabel(e.variant)} asked as ${e.qname}${e.diffs.length ? "  DIFFERS" : ""}${e.used.length ? `  allowed: ${e.used.join(", ")}` : ""}`);
      for (const d of e.diffs) lines.push(`    ${d}`);
      lines.push(`    ${refName}:`, render(e.ref), `    ${subName}:`, render(e.sub));
    }
  }
  await Bun.write(`${dir}/${title.replace(/[^a-z0-9]+/gi, "-")}.txt`, `${lines.join("\n")}\n`);
}
