// The iterator: resolving a question from the root, in the shape of Unbound's iterator module. One client question
// is a small state machine — find the closest known zone cut, ask one of its servers (chosen by the
// infrastructure cache), then follow what the answer is: a referral (a deeper cut, its in-bailiwick glue kept),
// an answer (its CNAME/DNAME chain followed into other zones), or a negative answer — until it has the answer or
// a limit says stop. Every exchange runs inside the client's deadline and is cancelled with it; every answer is
// checked (ID, question, source address, then scrubbed to the bailiwick of the server asked) before anything of
// it is used. QNAME minimisation (RFC 9156) is relaxed like Unbound's default: a shortened name that gets NXDOMAIN
// or no usable answer is asked again in full.
import { Flag, HEADER_LEN, QType, Rcode } from "../wire/constants";
import { isTruncated, rcodeOf } from "../wire/message";
import { appendChain, firstName, keyOf, Section, unansweredTail, type Message } from "../wire/records";
import { scanResponse } from "../wire/scan";
import { scrubResponse } from "../wire/scrub";
import { toText } from "../wire/name";
import type { QueryInfo } from "../wire/query";
import { tcpExchange, udpExchange, type Exchange } from "../upstream/transport";
import { Coalescer } from "../upstream/coalesce";
import type { Forwarded } from "../upstream/forwarder";
import type { RecursionConfig } from "../config/types";
import { systemClock, type Clock } from "../lifecycle/clock";
import type { TaskManager } from "../lifecycle/tasks";
import { log } from "../metrics/log";
import { InfraCache } from "./infra";
import { Cuts, labelCount, Rank, ROOT_KEY, serverKey, serverLabel, suffixOf, type Cut } from "./cuts";
import type { RootHints } from "./hints";
import { addressOf, buildQuery, classifyAnswer, fromKey, glueOf, hasOpt, nameText, ttlOf } from "./message";
import type { Validator } from "../validator/validate";
import { withoutDnssec } from "../wire/records";
import { servfailAnswer } from "../wire/response";

/** Minimisation steps at most before the full name is asked (Unbound's MAX_MINIMISE_COUNT). */
const MAX_MINIMISE_STEPS = 10;
/** How long a name whose servers have no address is remembered as such, seconds. */
const NO_ADDRESS_TTL = 30;

/** Extended DNS Error codes (RFC 8914 4) the iterator gives. */
export const enum Ede {
  Other = 0,
  NoReachableAuthority = 22,
  NetworkError = 23,
}

export type RecursionSettings = RecursionConfig & { max_cname_chain: number };

/** One exchange of a resolution, as the trace shows it. */
export interface TraceEntry {
  server: string;
  zone: string;
  qname: string;
  qtype: number;
  /** What came of it: referral, answer, nodata, nxdomain, lame, or a failure (timeout, network, ...). */
  result: string;
  rcode?: number;
  ms: number;
  tcp?: boolean;
  edns: boolean;
}

/** The iterator's figures (metrics, /api/stats). */
export class RecursionCounters {
  requests = 0;
  queries = 0;
  timeouts = 0;
  failures = 0;
  lame = 0;
  referrals = 0;
  tcpRetries = 0;
  ednsFallbacks = 0;
  minimised = 0;
  subqueries = 0;
  coalesced = 0;
  cnameRestarts = 0;
  limitQueries = 0;
  limitDepth = 0;
  limitReferrals = 0;
  limitNsLookups = 0;
  servfails = 0;
  primes = 0;
}

/** One client question's shared state: its deadline, signal, budget, and the sub-queries it is inside of. */
interface Ctx {
  deadline: number;
  signal: AbortSignal;
  budget: { left: number };
  depth: number;
  /** "name/type" of the lookups this one is inside of: asking one of them again would be a cycle. */
  stack: ReadonlySet<string>;
  dnssecOk: boolean;
  cd: boolean;
  trace: TraceEntry[] | null;
  /** The last limit or failure met, for the EDE of a SERVFAIL; shared with the sub-queries. */
  failure: { why: { code: number; text: string } | null };
}

type Kind = "referral" | "answer" | "nodata" | "nxdomain";
/**
 * What one name's iteration came to. `tail`: where an answer's CNAME/DNAME chain left the bailiwick of the server
 * that gave it (lowercased wire), to be resolved on its own.
 */
type Step = { ok: true; kind: Kind; resp: Uint8Array; msg: Message; cut?: Cut; tail?: Uint8Array | null } | { ok: false; code: number; text: string };

export class Recursor {
  readonly infra: InfraCache;
  readonly cuts: Cuts;
  readonly counters = new RecursionCounters();
  /** Lookups of server addresses shared by every question that needs them at once. */
  private readonly lookups = new Coalescer<void>();
  private hints: RootHints | null = null;
  private stubs: Array<{ zone: string; servers: string[] }> = [];
  /** The root hints' servers ("host#port"). */
  private rootServers: string[] = [];
  /** Validates what is resolved when DNSSEC validation is on; null when off. */
  private validator: Validator | null = null;

  constructor(
    private readonly settings: () => RecursionSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.infra = new InfraCache(settings, () => clock.now());
    this.cuts = new Cuts(() => settings().delegations_max, () => clock.now());
  }

  /**
   * The root hints and stub zones to start from. With other ones than before, what was learnt is forgotten (a stub
   * zone's servers replace what referrals said of it).
   */
  configure(hints: RootHints, stubs: Array<{ zone: Uint8Array; servers: Array<{ host: string; port: number }> }>, port: number, validator: Validator | null = null): void {
    this.validator = validator;
    const next = stubs.map((s) => ({ zone: keyOf(s.zone), servers: s.servers.map((a) => serverKey(a.host, a.port)) }));
    const same = this.hints !== null && JSON.stringify([...hints.addresses]) === JSON.stringify([...this.hints.addresses]) && JSON.stringify(next) === JSON.stringify(this.stubs);
    this.hints = hints;
    this.stubs = next;
    const rootServers = [...hints.addresses.values()].flat().map((a) => serverKey(a, port));
    this.rootServers = rootServers;
    this.cuts.pin([{ zone: ROOT_KEY, ns: hints.ns, fixed: rootServers, expires: Infinity }, ...next.map((s) => ({ zone: s.zone, ns: [], fixed: s.servers, expires: Infinity }))]);
    if (!same) this.cuts.clear();
  }

  private started = false;
  /** False once a reload went back to forwarding: the priming task then does nothing. */
  private active = false;

  /**
   * Primes the root NS set now and every prime_interval_ms (RFC 8109 3). The task is registered once; later
   * calls (a reload back into recursive mode) only make it active again.
   */
  start(tasks: Pick<TaskManager, "every">): void {
    this.active = true;
    if (this.started) return;
    this.started = true;
    this.prime().catch((err) => log.warn("root priming failed", { err }));
    tasks.every("recursion-prime", "upstream", this.settings().prime_interval_ms, async () => {
      if (this.active) await this.prime();
    });
  }

  /** Forwarding again (a reload): no more priming until start() is called again. What was learnt is kept. */
  stop(): void {
    this.active = false;
  }

  /** Asks a root server for the root NS set and keeps it (and the addresses that came with it). */
  async prime(): Promise<boolean> {
    this.counters.primes++;
    const ctx = this.context(this.clock.now() + this.settings().server_timeout_ms * 3, new AbortController().signal, null, false, false);
    const root: Cut = { zone: ROOT_KEY, ns: this.hints?.ns ?? [], fixed: this.rootServers, expires: Infinity };
    const got = await this.ask(ctx, root, ROOT_KEY, QType.NS);
    if (!got.ok || got.kind !== "answer") {
      log.warn("root priming failed; the root hints are used", { why: got.ok ? got.kind : got.text });
      return false;
    }
    const ns = got.msg.records.filter((r) => r.section === Section.Answer && r.type === QType.NS && r.owner.key === ROOT_KEY);
    if (ns.length === 0) return false;
    const ttl = Math.min(...ns.map((r) => ttlOf(got.resp, r)));
    this.learnGlue(got.resp, got.msg, ns.map((r) => firstName(r)!.key), ttl);
    this.cuts.learn(ROOT_KEY, ns.map((r) => firstName(r)!.key), ttl);
    return true;
  }

  private context(deadline: number, signal: AbortSignal, trace: TraceEntry[] | null, dnssecOk: boolean, cd: boolean): Ctx {
    return { deadline, signal, budget: { left: this.settings().max_queries }, depth: 0, stack: new Set(), dnssecOk, cd, trace, failure: { why: null } };
  }

  /**
   * Resolves the question of `query` (header and question; `q` its parsed form) by `deadline`. The answer has the
   * whole CNAME chain, across zones; a failure is a SERVFAIL carrying an EDE that says why. Never rejects.
   */
  async resolve(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal, trace: TraceEntry[] | null = null): Promise<Forwarded | null> {
    this.counters.requests++;
    const cd = (q.flags & Flag.CD) !== 0;
    // Validating needs the signatures and proofs, whatever the client asked for: DO on every query we send.
    const ctx = this.context(deadline, signal, trace, q.dnssecOk || this.validator !== null, cd);
    const name = keyOf(query.subarray(HEADER_LEN, q.qnameEnd));
    const known = this.validator && !cd ? this.validator.synthesize(query, q) : null;
    if (known) return { resp: known, scan: scanResponse(known, known.length), tail: null, secure: true };
    try {
      let step = await this.iterate(ctx, name, q.qtype);
      if (!step.ok) return this.servfail(query, q, step);
      let resp = step.resp;
      const seen = new Set<string>([name]);
      const max = this.settings().max_cname_chain;
      for (let hops = 0; ; hops++) {
        const tail = this.tailOf(step);
        if (!tail) break;
        // A loop or a chain too long is an error (RFC 1034 3.6.2), as Unbound answers it.
        if (seen.has(tail)) return this.servfail(query, q, { code: Ede.Other, text: "a CNAME loop" });
        if (hops >= max) return this.servfail(query, q, { code: Ede.Other, text: `a CNAME chain longer than upstream.max_cname_chain (${max})` });
        seen.add(tail);
        this.counters.cnameRestarts++;
        step = await this.iterate(ctx, tail, q.qtype);
        if (!step.ok) return this.servfail(query, q, step);
        const joined = appendChain(resp, step.resp);
        if (!joined) return this.servfail(query, q, { code: Ede.Other, text: "the answer does not fit a message" });
        resp = joined;
      }
      if (scanResponse(resp, resp.length).cnameChain < 0) return this.servfail(query, q, { code: Ede.Other, text: "a CNAME loop" });
      let secure = false;
      if (this.validator && !cd) {
        const verdict = await this.validator.validate(resp, (name, type) => this.fetchDnssec(ctx, name, type), { zoneOf: (name) => fromKey(this.cuts.closest(keyOf(name)).zone) });
        if (log.enabled("debug")) log.debug("dnssec verdict", { qname: toText(query, HEADER_LEN, q.qnameEnd), qtype: q.qtype, ...verdict });
        if (verdict.state === "bogus") return this.servfail(query, q, { code: verdict.ede, text: verdict.why });
        secure = verdict.state === "secure";
      }
      if (!q.dnssecOk && this.validator) resp = withoutDnssec(resp) ?? resp;
      return { resp, scan: scanResponse(resp, resp.length), tail: null, secure };
    } catch (err) {
      log.warn("recursion failed", { err });
      return this.servfail(query, q, { code: Ede.Other, text: "internal error" });
    }
  }

  /** A DNSKEY or DS RRset (or the proof there is none) for the validator: resolved like any name, in `ctx`. */
  private async fetchDnssec(ctx: Ctx, name: Uint8Array, type: number): Promise<Uint8Array | null> {
    const step = await this.iterate(ctx, keyOf(name), type);
    return step.ok ? step.resp : null;
  }

  /** Where the answer's chain stops without data (a CNAME or DNAME target to resolve on its own), or null. */
  private tailOf(step: Step & { ok: true }): string | null {
    if (rcodeOf(step.resp) !== Rcode.NOERROR) return null;
    const tail = step.tail ?? unansweredTail(step.resp);
    return tail ? keyOf(tail) : null;
  }

  private servfail(query: Uint8Array, q: QueryInfo, why: { code: number; text: string }): Forwarded {
    this.counters.servfails++;
    const resp = servfailAnswer(query, q);
    if (log.enabled("debug")) log.debug("recursion servfail", { qname: toText(query, HEADER_LEN, q.qnameEnd), qtype: q.qtype, why: why.text });
    return { resp, scan: scanResponse(resp, resp.length), tail: null, ede: { code: why.code, text: why.text } };
  }

  /** The state machine for one name: from the closest cut down, until an answer, a negative answer or a failure. */
  private async iterate(ctx: Ctx, name: string, qtype: number): Promise<Step & { ok: boolean }> {
    const s = this.settings();
    // DS records are the parent's (RFC 4035 3.1.4.1): asked starting above the name's own cut.
    let cut = this.cuts.closest(qtype === QType.DS && name !== ROOT_KEY ? name.slice(name.charCodeAt(0) + 1) : name);
    let minimise = s.qname_minimisation && qtype !== QType.DS;
    const total = labelCount(name);
    let labels = labelCount(cut.zone) + 1;
    let steps = 0;
    let referrals = 0;
    for (;;) {
      if (ctx.signal.aborted || this.clock.now() >= ctx.deadline) return { ok: false, code: Ede.Other, text: "the client's deadline passed" };
      const minimised = minimise && labels < total && steps < MAX_MINIMISE_STEPS;
      const sname = minimised ? suffixOf(name, labels) : name;
      const stype = minimised ? QType.A : qtype;
      if (minimised) this.counters.minimised++;
      const got = await this.ask(ctx, cut, sname, stype);
      if (!got.ok) {
        if (minimised) {
          minimise = false;
          continue;
        }
        return got;
      }
      if (got.kind === "referral") {
        this.counters.referrals++;
        if (++referrals > s.max_referrals) {
          this.counters.limitReferrals++;
          return { ok: false, code: Ede.Other, text: `more than recursion.max_referrals (${s.max_referrals}) referrals` };
        }
        cut = got.cut!;
        labels = labelCount(cut.zone) + 1;
        continue;
      }
      if (minimised) {
        // No cut at this name: one label more. An NXDOMAIN for it is asked again in full (relaxed mode).
        if (got.kind === "nxdomain") minimise = false;
        else {
          labels++;
          steps++;
        }
        continue;
      }
      return got;
    }
  }

  /** The servers of `cut` with an address: its fixed ones, else those of its NS names that are known. */
  private serversOf(cut: Cut): string[] {
    if (cut.fixed.length > 0 && cut.zone !== ROOT_KEY) return cut.fixed;
    const port = this.settings().port;
    const out: string[] = [];
    for (const ns of cut.ns) for (const a of this.cuts.addressesOf(ns) ?? []) out.push(serverKey(a, port));
    return out.length > 0 || cut.zone !== ROOT_KEY ? out : this.rootServers; // the root: its hints when nothing better is known
  }

  /**
   * Asks the servers of `cut` for sname/stype, one at a time, until one gives a usable answer: each server once,
   * lame and failing ones recorded; NS names without an address resolved as they are needed (at most
   * max_ns_lookups of them).
   */
  private async ask(ctx: Ctx, cut: Cut, sname: string, stype: number): Promise<Step> {
    const s = this.settings();
    const tried = new Set<string>();
    const looked = new Set<string>();
    let lastFailure: { ok: false; code: number; text: string } = { ok: false, code: Ede.NoReachableAuthority, text: `no server of ${nameText(cut.zone)} answered` };
    for (;;) {
      if (ctx.signal.aborted || this.clock.now() >= ctx.deadline) return { ok: false, code: Ede.Other, text: "the client's deadline passed" };
      const addrs = this.serversOf(cut).filter((a) => !tried.has(a));
      if (addrs.length === 0) {
        const next = cut.ns.find((n) => !looked.has(n) && this.cuts.addressesOf(n) === null && !ctx.stack.has(`${n}/${QType.A}`));
        if (!next) return lastFailure;
        if (looked.size >= s.max_ns_lookups) {
          this.counters.limitNsLookups++;
          return { ok: false, code: Ede.Other, text: `more than recursion.max_ns_lookups (${s.max_ns_lookups}) NS names without glue for ${nameText(cut.zone)}` };
        }
        looked.add(next);
        const sub = await this.lookupAddresses(ctx, next);
        if (sub) lastFailure = { ok: false, ...sub };
        continue;
      }
      const addr = this.infra.choose(addrs, cut.zone)!;
      tried.add(addr);
      if (ctx.budget.left <= 0) {
        this.counters.limitQueries++;
        return { ok: false, code: Ede.Other, text: `more than recursion.max_queries (${s.max_queries}) queries for one question` };
      }
      const got = await this.exchange(ctx, addr, cut, sname, stype, this.infra.usesEdns(addr));
      if (!got.ok) {
        lastFailure = got;
        continue;
      }
      const step = this.classify(got.resp, cut, sname);
      if (step.ok) step.tail = got.tail;
      this.note(ctx, { server: serverLabel(addr), zone: nameText(cut.zone), qname: nameText(sname), qtype: stype, result: step.ok ? step.kind : "lame", rcode: rcodeOf(got.resp), ms: got.ms, tcp: got.tcp || undefined, edns: got.edns });
      if (!step.ok) {
        this.counters.lame++;
        this.infra.lameFor(addr, cut.zone);
        lastFailure = { ok: false, code: Ede.NoReachableAuthority, text: `the servers of ${nameText(cut.zone)} are lame` };
        continue;
      }
      return step;
    }
  }

  /**
   * One query to one server: over UDP, over TCP when the answer is truncated, again without EDNS when the server
   * rejects it (FORMERR/NOTIMP, RFC 6891 7). The answer is scrubbed to the bailiwick of `cut`.
   */
  private async exchange(ctx: Ctx, addr: string, cut: Cut, sname: string, stype: number, edns: boolean): Promise<{ ok: true; resp: Uint8Array; tail: Uint8Array | null; ms: number; tcp: boolean; edns: boolean } | { ok: false; code: number; text: string }> {
    const s = this.settings();
    const i = addr.lastIndexOf("#");
    const host = addr.slice(0, i);
    const up = { host, port: Number(addr.slice(i + 1)), family: (host.includes(":") ? 6 : 4) as 4 | 6, protocol: "udp" as const, label: serverLabel(addr) };
    const ask = buildQuery(sname, stype, { cd: ctx.cd, dnssecOk: ctx.dnssecOk, edns, randomizeCase: s.randomize_case });
    const left = ctx.deadline - this.clock.now();
    if (left <= 0) return { ok: false, code: Ede.Other, text: "the client's deadline passed" };
    ctx.budget.left--;
    this.counters.queries++;
    this.infra.sent(addr);
    const t0 = performance.now();
    let got: Exchange = await udpExchange(up, ask, Math.min(this.infra.timeoutFor(addr), left), ctx.signal, this.clock);
    let tcp = false;
    if (got.ok && isTruncated(got.resp)) {
      this.counters.tcpRetries++;
      tcp = true;
      got = await tcpExchange(up, ask, Math.max(1, Math.min(s.server_timeout_ms, ctx.deadline - this.clock.now())), ctx.signal, this.clock);
    }
    const ms = performance.now() - t0;
    if (!got.ok) {
      if (got.failure === "cancelled") return { ok: false, code: Ede.Other, text: "cancelled" };
      if (got.failure === "timeout") {
        this.counters.timeouts++;
        this.infra.timedOut(addr);
      } else {
        this.counters.failures++;
        this.infra.timedOut(addr);
      }
      this.note(ctx, { server: up.label, zone: nameText(cut.zone), qname: nameText(sname), qtype: stype, result: got.failure, ms, tcp: tcp || undefined, edns });
      return { ok: false, code: got.failure === "timeout" ? Ede.NoReachableAuthority : Ede.NetworkError, text: `${up.label}: ${got.failure}` };
    }
    this.infra.answered(addr, ms);
    const rcode = rcodeOf(got.resp);
    if (edns && (rcode === Rcode.FORMERR || rcode === Rcode.NOTIMP) && !hasOpt(got.resp)) {
      this.counters.ednsFallbacks++;
      this.infra.noEdns(addr);
      this.note(ctx, { server: up.label, zone: nameText(cut.zone), qname: nameText(sname), qtype: stype, result: "edns-fallback", rcode, ms, edns });
      return this.exchange(ctx, addr, cut, sname, stype, false);
    }
    const scrubbed = scrubResponse(got.resp, fromKey(cut.zone));
    if (!scrubbed.ok) return { ok: false, code: Ede.Other, text: `${up.label}: malformed answer` };
    return { ok: true, resp: scrubbed.msg, tail: scrubbed.tail, ms, tcp, edns };
  }

  /** What a (scrubbed) answer from a server of `cut` is (message.ts); a referral's cut and glue are learnt here. */
  private classify(resp: Uint8Array, cut: Cut, sname: string): Step {
    const c = classifyAnswer(resp, cut.zone, sname);
    if (c.kind === "lame") return { ok: false, code: Ede.NoReachableAuthority, text: "lame" };
    if (c.kind !== "referral") return { ok: true, kind: c.kind, resp, msg: c.msg };
    const { zone, names, ttl } = c.referral;
    this.learnGlue(resp, c.msg, names, ttl);
    return { ok: true, kind: "referral", resp, msg: c.msg, cut: this.cuts.learn(zone, names, ttl) };
  }

  /** Keeps the glue of a referral or priming answer: addresses of its NS names (already scrubbed to the bailiwick). */
  private learnGlue(resp: Uint8Array, msg: Message, names: string[], ttl: number): void {
    for (const [name, addrs] of glueOf(resp, msg, names)) this.cuts.learnAddresses(name, addrs, ttl, Rank.Glue);
  }

  /**
   * Resolves the addresses of server name `ns` (A, then AAAA when there is no A) as a dependent sub-query, shared
   * with every other question that needs them now. Returns why it failed, or null.
   */
  private async lookupAddresses(ctx: Ctx, ns: string): Promise<{ code: number; text: string } | null> {
    const s = this.settings();
    if (ctx.depth + 1 > s.max_depth) {
      this.counters.limitDepth++;
      return { code: Ede.Other, text: `sub-queries deeper than recursion.max_depth (${s.max_depth})` };
    }
    this.counters.subqueries++;
    const stack = new Set(ctx.stack);
    stack.add(`${ns}/${QType.A}`);
    const flight = this.lookups.join(ns, (signal) => this.fetchAddresses({ ...ctx, signal, depth: ctx.depth + 1, stack }, ns));
    if (flight.joined) this.counters.coalesced++;
    const leave = () => flight.leave();
    ctx.signal.addEventListener("abort", leave, { once: true });
    try {
      await flight.promise;
    } finally {
      ctx.signal.removeEventListener("abort", leave);
      flight.leave();
    }
    return this.cuts.addressesOf(ns)?.length ? null : ctx.failure.why;
  }

  private async fetchAddresses(ctx: Ctx, ns: string): Promise<void> {
    for (const type of [QType.A, QType.AAAA]) {
      const got = await this.iterate(ctx, ns, type);
      if (!got.ok) {
        ctx.failure.why = { code: got.code, text: got.text };
        continue;
      }
      const addrs: string[] = [];
      let ttl = Infinity;
      for (const r of got.msg.records) {
        if (r.section !== Section.Answer || r.type !== type) continue;
        const a = addressOf(got.resp, r);
        if (a) {
          addrs.push(a);
          ttl = Math.min(ttl, ttlOf(got.resp, r));
        }
      }
      if (addrs.length > 0) {
        this.cuts.learnAddresses(ns, addrs, ttl, Rank.Answer);
        return;
      }
      if (got.kind === "nxdomain") break; // no such name: no AAAA either
    }
    this.cuts.learnAddresses(ns, [], NO_ADDRESS_TTL, Rank.Answer);
  }

  private note(ctx: Ctx, e: TraceEntry): void {
    ctx.trace?.push(e);
    if (log.enabled("debug")) log.debug("recursion exchange", { ...e, ms: Math.round(e.ms * 10) / 10 });
  }

  /** The zone cut that would be asked first for `name` (text), for the API. */
  closestZone(name: Uint8Array): string {
    return nameText(this.cuts.closest(keyOf(name)).zone);
  }
}
