// DNSSEC validation of forwarded answers (dnssec.validate in forwarding mode). Each miss of the default route is
// asked with DO=1 and CD=1 (RFC 6840 5.9: the verdict is ours, not the upstream's policy), and the answer is
// validated with keys fetched through the same upstreams; a bogus answer becomes SERVFAIL with its EDE.
// [[forward]] zones are not validated (they are usually private zones no chain of trust reaches), as in
// recursive mode. With "auto", the upstreams are first asked for the root DNSKEY with DO=1, and answers are
// validated once every one has answered it signed; an upstream that answers it unsigned strips DNSSEC data, and
// while one does (or while one has not answered at all) answers pass unvalidated, logged and shown in a metric:
// "auto" is allow-downgrade, never a reason for SERVFAIL that the upstream would not give. `true` validates
// whatever the upstreams do.
import { Flag, HEADER_LEN, QType, Rcode } from "../wire/constants";
import { rcodeOf } from "../wire/message";
import { QueryInfo, parseQuery } from "../wire/query";
import { rdataOf, readMessage, Section, withoutDnssec } from "../wire/records";
import { servfailAnswer } from "../wire/response";
import { scanResponse } from "../wire/scan";
import { toText } from "../wire/name";
import { log } from "../metrics/log";
import { sleep, Wakeup, type TaskManager } from "../lifecycle/tasks";
import type { Validator, Fetch } from "../validator/validate";
import { parseRrsig } from "../validator/verify";
import type { Forwarded, Forwarder, Resolver } from "./forwarder";
import type { UpstreamState } from "./pool";

const RRSIG = 46;
const ROOT = Uint8Array.of(0);
/** After a check some upstream did not answer: again after this long, doubling up to the most. */
const RETRY_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** A complete check is repeated this often (an upstream may change what it does), or at once on a reload. */
const RECHECK_MS = 3_600_000;

/** A query of our own for name/type: RD, DO and (unless `cd` is false) CD set, parsed into `q`. */
export function dnssecQuery(name: Uint8Array, type: number, cd = true): { msg: Uint8Array; q: QueryInfo } {
  const msg = new Uint8Array(HEADER_LEN + name.length + 4);
  msg[2] = Flag.RD >> 8;
  msg[3] = cd ? Flag.CD : 0;
  msg[5] = 1;
  msg.set(name, HEADER_LEN);
  const at = HEADER_LEN + name.length;
  msg[at] = type >> 8;
  msg[at + 1] = type & 0xff;
  msg[at + 3] = 1; // IN
  const q = new QueryInfo();
  parseQuery(msg, msg.length, q);
  q.dnssecOk = true;
  return { msg, q };
}

/** What a check found of one upstream. */
type Finding = "signed" | "unsigned" | "no-answer";

/**
 * Whether the upstreams return DNSSEC data, for dnssec.validate = "auto": checked at the start, after a reload
 * that changed them, and every hour. Long-lived (kept across reloads); its task is registered by the App.
 */
export class UpstreamDnssec {
  /** True once an upstream answered the root DNSKEY without its RRSIG. */
  downgraded = false;
  /** Some check has finished with every upstream answering. */
  known = false;
  /** Forwarded answers are validated: every upstream was found to return DNSSEC data. */
  get validating(): boolean {
    return this.known && !this.downgraded;
  }
  /** The first check has ended, complete or not. */
  tried = false;
  /** The upstreams that stripped the signatures at the last check ("host:port"). */
  stripping: string[] = [];
  private checked = "";
  private readonly wakeup = new Wakeup();
  private firstDone!: () => void;
  /** A reload woke the loop (check only if the upstreams changed), rather than its timer (check in any case). */
  private woken = false;
  /**
   * Resolves when the first check has ended: misses wait for it (within their deadline) rather than guess. If it
   * was not complete, they pass unvalidated until a later check is.
   */
  readonly first = new Promise<void>((resolve) => (this.firstDone = resolve));
  private started = false;

  constructor(
    private readonly forwarder: () => Forwarder | null,
    private readonly timeoutMs: () => number,
  ) {}

  /** The checking loop, registered once with the task manager. */
  start(tasks: Pick<TaskManager, "register">): void {
    if (this.started) return;
    this.started = true;
    tasks.register("dnssec-upstreams", "upstream", async (signal) => {
      let retry = RETRY_MS;
      for (let force = true; !signal.aborted; force = false) {
        const complete = await this.check(signal, force || this.woken === false);
        if (!complete && !this.tried && !this.known) log.warn('upstreams did not answer the DNSSEC check (the root DNSKEY): forwarded answers pass unvalidated until they do (dnssec.validate = "auto")');
        this.tried = true;
        this.firstDone();
        if (complete) retry = RETRY_MS;
        this.woken = false;
        await this.wakeup.sleep(complete ? RECHECK_MS : retry, signal);
        if (!complete) retry = Math.min(retry * 2, RETRY_MAX_MS);
      }
    });
  }

  /** The upstreams may have changed (a reload): check again now if they did. */
  reconsider(): void {
    this.woken = true;
    this.wakeup.wake();
  }

  /**
   * Asks every upstream of the default route for the root DNSKEY (unless `force` is false and the last complete
   * check was of the same upstreams). True when each one answered.
   */
  async check(signal: AbortSignal, force = true): Promise<boolean> {
    const f = this.forwarder();
    if (!f) return true;
    const { msg, q } = dnssecQuery(ROOT, QType.DNSKEY);
    const states = f.opts.pool.route(msg, HEADER_LEN, q.qnameEnd).states;
    const names = states.map((s) => s.upstream.label).sort();
    const key = names.join(",");
    if (!force && this.known && key === this.checked) return true;
    const timeout = this.timeoutMs();
    const findings = await Promise.all(
      states.map(async (s): Promise<[string, Finding]> => [s.upstream.label, judge(await f.forward(msg, q, Date.now() + timeout, signal, s as UpstreamState))]),
    );
    if (signal.aborted) return true;
    const stripping = findings.filter(([, x]) => x === "unsigned").map(([n]) => n);
    const complete = findings.every(([, x]) => x !== "no-answer");
    if (stripping.length > 0 || complete) {
      const downgraded = stripping.length > 0;
      if (downgraded !== this.downgraded || key !== this.checked || !this.known) {
        if (downgraded) log.warn('upstreams do not return DNSSEC data: forwarded answers are passed on unvalidated (dnssec.validate = "auto"; true would make them SERVFAIL)', { upstreams: stripping });
        else log.info("upstreams return DNSSEC data: forwarded answers are validated", { upstreams: names });
      }
      this.downgraded = downgraded;
      this.stripping = stripping;
      this.known = true;
      this.checked = key;
    }
    return complete;
  }
}

/** A root DNSKEY answer: signed (an RRSIG over the DNSKEY RRset came with it), unsigned, or none. */
function judge(got: Forwarded | null): Finding {
  if (!got) return "no-answer";
  const m = readMessage(got.resp, got.resp.length);
  if (!m || rcodeOf(got.resp) !== Rcode.NOERROR) return "unsigned";
  const answer = m.records.filter((r) => r.section === Section.Answer);
  const signed = answer.some((r) => r.type === RRSIG && parseRrsig(rdataOf(got.resp, r))?.typeCovered === QType.DNSKEY);
  return answer.some((r) => r.type === QType.DNSKEY) && signed ? "signed" : "unsigned";
}

/** The forwarder with its answers validated. */
export class ValidatingForwarder implements Resolver {
  constructor(
    readonly forwarder: Forwarder,
    private readonly validator: Validator,
    /** null: always validate (dnssec.validate = true); else "auto", downgraded when its upstreams strip. */
    private readonly support: UpstreamDnssec | null,
  ) {}

  get usable(): boolean {
    return this.forwarder.usable;
  }

  get maxChain(): number {
    return this.forwarder.maxChain;
  }

  async forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal): Promise<Forwarded | null> {
    const f = this.forwarder;
    if (q.flags & Flag.CD || f.opts.pool.forwardZone(query, HEADER_LEN, q.qnameEnd)) return f.forward(query, q, deadline, signal);
    if (this.support) {
      if (!this.support.known && !this.support.tried) await Promise.race([this.support.first, sleep(Math.max(0, deadline - Date.now()) / 2, signal)]);
      if (!this.support.validating) return f.forward(query, q, deadline, signal);
    }
    const known = this.validator.synthesize(query, q);
    if (known) return { resp: known, scan: scanResponse(known, known.length), tail: null, secure: true };
    const asked = new QueryInfo().copyFrom(q);
    asked.dnssecOk = true;
    asked.flags |= Flag.CD;
    const got = await f.forward(query, asked, deadline, signal);
    if (!got) return null;
    const rcode = rcodeOf(got.resp);
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return got;
    const verdict = await this.validator.validate(got.resp, this.fetcher(deadline, signal), { partial: got.tail !== null });
    if (log.enabled("debug")) log.debug("dnssec verdict", { qname: toText(query, HEADER_LEN, q.qnameEnd), qtype: q.qtype, ...verdict });
    if (verdict.state === "bogus") {
      const resp = servfailAnswer(query, q);
      return { resp, scan: scanResponse(resp, resp.length), tail: null, ede: { code: verdict.ede, text: verdict.why } };
    }
    const resp = q.dnssecOk ? got.resp : (withoutDnssec(got.resp) ?? got.resp);
    return { resp, scan: resp === got.resp ? got.scan : scanResponse(resp, resp.length), tail: got.tail, secure: verdict.state === "secure" && got.tail === null };
  }

  /** DS and DNSKEY lookups for the validator, through the upstreams, inside the client's deadline. */
  private fetcher(deadline: number, signal: AbortSignal): Fetch {
    return async (name, type) => {
      const { msg, q } = dnssecQuery(name, type);
      const got = await this.forwarder.forward(msg, q, deadline, signal);
      const rcode = got ? rcodeOf(got.resp) : -1;
      return rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN ? got!.resp : null;
    };
  }
}
