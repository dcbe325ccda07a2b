// bunbound as a full resolver (mode = "recursive"), compared with Unbound 1.17 in its default recursive mode
// (module-config iterator, QNAME minimisation, harden-glue, no trust anchor), both resolving from the root of the
// loopback hierarchy of helpers/hierarchy.ts. Unbound asks authoritative servers on port 53 only, so the world
// listens on 53 (needs root; the suite skips when it cannot bind). Every question goes to both resolvers, RD=1,
// over UDP and TCP, without and with EDNS, in the same order and with no flush in between; then the same
// questions again, answered from both caches. Compared: rcode, flags (AA must be 0, TC only where UDP truncates),
// and the answer and authority sections as RRsets; TTLs may differ by the time between the two resolvers' fetches
// (ttl-aging, ttl-fetched-apart). The additional section and the EDNS payload size and options (each server's
// own) are not compared. For the failures (every server lame, a delegation loop, NXNS) only the rcode is.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Hierarchy } from "../helpers/hierarchy";
import { ALLOW } from "./allowances";
import { differences, normalise, type Allowance, type Normalised, type RR } from "./compare";
import { dumpAll, report, summary, variantLabel, type Exchange, type Variant } from "./matrix";
import { buildQuery, exchange } from "./query";
import { missingTools, startAll, startBunboundWith, startUnbound, type Server } from "./servers";
import type { Question } from "./zone";

setDefaultTimeout(60_000);

const ALLOWED: Allowance[] = [ALLOW.ttlAging, ALLOW.ttlFetchedApart];

interface RecursiveQuestion extends Question {
  /** Only the rcode is compared: a failure, where what else each resolver adds (EDE, partial data) is its own. */
  rcodeOnly?: boolean;
}

/**
 * Asked in this order. The out-of-bailiwick and spoofing servers come first, so that a poisoned cache would show
 * in the example.com answers after them.
 */
const QUESTIONS: RecursiveQuestion[] = [
  { name: "www.oob.com", type: "A", why: "the server adds out-of-zone records (www.example.com A, example.com NS, glue): only www.oob.com A is answered, nothing else kept" },
  { name: "www.spoof.com", type: "A", why: "a forged answer from another address arrives first: the real one (192.0.2.7) is used" },
  { name: "www.example.com", type: "A", why: "a name in a zone delegated with glue" },
  { name: "www.example.com", type: "AAAA", why: "AAAA of the same name" },
  { name: "www.example.com", type: "TXT", why: "TXT of the same name" },
  { name: "www.example.com", type: "MX", why: "NODATA: SOA in authority (RFC 2308 2.2)" },
  { name: "example.com", type: "MX", why: "MX at the apex" },
  { name: "example.com", type: "TXT", why: "TXT at the apex" },
  { name: "example.com", type: "NS", why: "the child's NS set (RFC 2181 5.4.1: the zone's own data over the parent's referral)" },
  { name: "example.com", type: "SOA", why: "the apex SOA" },
  { name: "chain.example.com", type: "A", why: "a CNAME chain inside one zone" },
  { name: "web.example.com", type: "A", why: "one CNAME inside the zone" },
  { name: "alias.example.com", type: "A", why: "a CNAME into another zone (example.net, glue-less NS in org.): the whole chain" },
  { name: "dname.example.com", type: "A", why: "the DNAME owner itself: NODATA (RFC 6672 2.3: the DNAME does not apply to its owner)" },
  { name: "x.dname.example.com", type: "A", why: "below a DNAME: DNAME, the synthesised CNAME, and x.example.net's A (RFC 6672)" },
  { name: "b.example.com", type: "A", why: "an empty non-terminal: NODATA, not NXDOMAIN (RFC 8020)" },
  { name: "a.b.example.com", type: "A", why: "the name below the empty non-terminal" },
  { name: "nope.example.com", type: "A", why: "NXDOMAIN with the zone's SOA" },
  { name: "dangling.example.com", type: "A", why: "a CNAME to a name that does not exist: NXDOMAIN, the CNAME in the answer (RFC 6604 2.1)" },
  { name: "loop1.example.com", type: "A", why: "a CNAME loop (loop1 → loop2 → loop1)" },
  { name: "foo.wild.example.com", type: "A", why: "a wildcard match, owned by the question's name (RFC 4592)" },
  { name: "medium.example.com", type: "TXT", why: "about 700 bytes: TC=1 over UDP without EDNS, whole with EDNS 1232 and over TCP" },
  { name: "big.example.com", type: "TXT", why: "about 2.2 KB: TC=1 over UDP with or without EDNS, whole over TCP" },
  { name: "www.example.net", type: "A", why: "a zone whose NS name has no glue and lives in another TLD" },
  { name: "x.example.net", type: "A", why: "the same zone, its servers now known" },
  { name: "www.lame.com", type: "A", why: "one of two servers refuses: the other answers" },
  { name: "www.slow.com", type: "A", why: "one of two servers never answers: the other does (after a timeout)" },
  { name: "www.noedns.com", type: "A", why: "the server answers FORMERR to EDNS: asked again without it" },
  { name: "www.tc.com", type: "A", why: "the server truncates every UDP answer: asked again over TCP" },
  { name: "a.b.c.deep.com", type: "A", why: "three delegations below com. (QNAME minimisation down every cut)" },
  { name: "com", type: "NS", why: "a TLD's NS set, TTL 172800 at the source: both caches clamp TTLs to a day (Unbound cache-max-ttl, bunbound cache.max_ttl)" },
  { name: ".", type: "NS", why: "the root NS set as primed (RFC 8109), TTL 518400 at the source: clamped to a day as well" },
  { name: "foo.nosuchtld", type: "A", why: "a TLD that does not exist: NXDOMAIN with the root's SOA" },
  { name: "www.alllame.com", type: "A", rcodeOnly: true, why: "every server lame (REFUSED, SERVFAIL, upward referral): SERVFAIL" },
  { name: "www.loop.com", type: "A", rcodeOnly: true, why: "loop.com's NS in loop.net and loop.net's in loop.com: SERVFAIL" },
  { name: "www.manyns.com", type: "A", rcodeOnly: true, why: "50 glue-less NS names that do not exist (NXNSAttack): SERVFAIL" },
];

/** UDP and TCP, without EDNS and with EDNS 1232 (DO=0), the zone's case: 0x20 and DNSSEC are other suites' business. */
/** How long a client waits: bunbound answers by its timeouts.query_ms (2500 ms), SERVFAIL at worst. */
const WAIT_MS = 4000;

/** Questions Unbound was asked a second time, having dropped its answer to the first (see pass()). */
const retried: string[] = [];

const VARIANTS: Variant[] = (["udp", "tcp"] as const).flatMap((transport) => (["noedns", "edns"] as const).map((edns) => ({ transport, edns, case: "plain" as const })));

const missing = missingTools(["unbound"], "the recursive conformance suite");

/** The world on port 53, or null (with a warning) when that port cannot be bound here. */
async function startWorld(): Promise<Hierarchy | null> {
  if (missing.length) return null;
  try {
    return await Hierarchy.start({ port: 53 });
  } catch (e) {
    console.warn(`skipping the recursive conformance suite: the loopback hierarchy cannot listen on port 53, which Unbound asks authoritative servers on (${(e as Error).message})`);
    return null;
  }
}
const world = await startWorld();

/** What is compared: rcode and flags, answer and authority; with `rcodeOnly` the rcode alone. */
function project(n: Normalised | null, q: RecursiveQuestion): Normalised | null {
  if (!n) return null;
  const p: Normalised = { ...n, additional: [], edns: n.edns ? { udp: 0, version: n.edns.version, do: n.edns.do, options: [] } : null };
  if (q.rcodeOnly) return { ...p, flags: [], question: "", edns: null, answer: [], authority: [] };
  return p;
}

function parse(bytes: Uint8Array | null, who: string): { n: Normalised | null; error?: string } {
  if (!bytes) return { n: null };
  try {
    return { n: normalise(bytes) };
  } catch (e) {
    return { n: null, error: `malformed answer from ${who}: ${(e as Error).message}` };
  }
}

/** One pass: each question in each variant, to both resolvers at once, one question after the other. */
async function pass(unbound: Server, bunbound: Server): Promise<{ results: Exchange[][]; full: Exchange[][] }> {
  const results: Exchange[][] = [];
  const full: Exchange[][] = [];
  let id = 1;
  for (const q of QUESTIONS) {
    const list: Exchange[] = [];
    const raw: Exchange[] = [];
    for (const v of VARIANTS) {
      const msg = buildQuery(q.name, q.type, { id: id++, edns: v.edns === "noedns" ? undefined : 1232, rd: true });
      const [first, sb] = await Promise.all([exchange(v.transport, unbound.port, msg, WAIT_MS), exchange(v.transport, bunbound.port, msg, WAIT_MS)]);
      let rb = first;
      if (!rb) {
        // Unbound drops the reply to a question that took longer than discard-timeout (1900 ms; Debian's
        // backport of 1.20's DNSBomb fix, CVE-2024-33655): www.slow.com when it tries the silent server twice. A stub
        // retransmits (RFC 1035 4.2.1), and the answer then comes from Unbound's cache. bunbound gets no retry.
        retried.push(`${q.name} ${q.type} ${variantLabel(v)}`);
        rb = await exchange(v.transport, unbound.port, msg, WAIT_MS);
      }
      const ref = parse(rb, "unbound");
      const sub = parse(sb, "bunbound");
      const ctx = { qname: q.name, qtype: q.type, qclass: "IN", dnssecOk: false, transport: v.transport, ednsSize: v.edns === "noedns" ? undefined : 1232 };
      const c = differences(project(ref.n, q), project(sub.n, q), ALLOWED, ctx);
      const errors = [ref.error, sub.error].filter((e): e is string => !!e);
      list.push({ variant: v, qname: q.name, ref: project(ref.n, q), sub: project(sub.n, q), diffs: [...errors, ...c.diffs], used: c.used });
      raw.push({ variant: v, qname: q.name, ref: ref.n, sub: sub.n, diffs: [...errors, ...c.diffs], used: c.used });
    }
    results.push(list);
    full.push(raw);
  }
  return { results, full };
}

describe("the ttl-fetched-apart allowance", () => {
  const a = (ttl: number, addr = "192.0.2.1"): RR => ({ owner: "a.example.", ttl, class: "IN", type: "A", fields: [addr], names: [] });
  const msg = (answer: RR[]): Normalised => ({ rcode: "NOERROR", flags: ["qr", "rd", "ra"], question: "a.example. A IN", edns: null, answer, authority: [], additional: [], size: 0 });
  const ctx = { qname: "a.example.", qtype: "A", qclass: "IN", dnssecOk: false, transport: "udp" };
  const diffs = (ref: RR[], sub: RR[]) => differences(msg(ref), msg(sub), [ALLOW.ttlFetchedApart], ctx).diffs;

  test("removes TTL differences of up to 60 s, and nothing else", () => {
    expect(diffs([a(86340)], [a(86400)])).toEqual([]);
    expect(diffs([a(86400)], [a(172800)])).toEqual(["answer - a.example. 86400 IN A 192.0.2.1", "answer + a.example. 172800 IN A 192.0.2.1"]);
    expect(diffs([a(3600)], [a(3600, "192.0.2.2")]).length).toBe(2);
  });
});

describe.skipIf(!world)("bunbound resolves from the root like Unbound does, on the same loopback hierarchy", () => {
  const servers: Server[] = [];
  let first: Exchange[][] = [];
  let second: Exchange[][] = [];
  let firstFull: Exchange[][] = [];
  let secondFull: Exchange[][] = [];

  beforeAll(async () => {
    const w = world!;
    const [unbound, bunbound] = await startAll<[Server, Server]>(
      servers,
      // Unbound's defaults but for what a loopback world needs: the root servers' names are in test. (a default
      // local zone). harden-glue is the default, said here because the comparison leans on it.
      startUnbound({ mode: "recursive", rootHints: w.hints, extra: ['local-zone: "test." nodefault', "harden-glue: yes"] }),
      startBunboundWith(`mode = "recursive"\nroot_hints = "${w.hints}"\n[dnssec]\nvalidate = false\n[recursion]\nport = ${w.port}\n[clients]\nenabled = false\n[discovery]\nenabled = false\n`),
    );
    ({ results: first, full: firstFull } = await pass(unbound, bunbound));
    ({ results: second, full: secondFull } = await pass(unbound, bunbound));
  });

  afterAll(async () => {
    await dumpAll("recursive-pass1", QUESTIONS, firstFull, "unbound", "bunbound");
    await dumpAll("recursive-pass2", QUESTIONS, secondFull, "unbound", "bunbound");
    if (retried.length) console.log(`unbound dropped its reply (discard-timeout) and was asked again: ${retried.join(", ")}`);
    console.log(summary("recursive, Unbound vs bunbound (two passes)", [...first, ...second], 0).replace(" (seed 0)", ""));
    await Promise.all(servers.map((s) => s.stop()));
    world?.close();
  });

  const label = (e: Exchange, n: Normalised) => `${e.qname} ${variantLabel(e.variant)}: ${n.rcode} ${n.flags.join(" ")}`;
  const all = () => [...firstFull, ...secondFull].flat();

  test("every answer of bunbound says QR RD RA and not AA (RFC 1035 4.1.1: the answer is the resolver's)", () => {
    const wrong = all().filter((e) => e.sub && !(e.sub.flags.includes("qr") && e.sub.flags.includes("rd") && e.sub.flags.includes("ra") && !e.sub.flags.includes("aa")));
    expect(wrong.map((e) => label(e, e.sub!))).toEqual([]);
  });

  test("Unbound, the reference, says QR RD RA and not AA as well", () => {
    const wrong = all().filter((e) => e.ref && !(e.ref.flags.includes("qr") && e.ref.flags.includes("rd") && e.ref.flags.includes("ra") && !e.ref.flags.includes("aa")));
    expect(wrong.map((e) => label(e, e.ref!))).toEqual([]);
  });

  test("both answer every question (no timeouts)", () => {
    const silent = all().filter((e) => !e.ref || !e.sub);
    expect(silent.map((e) => `${e.qname} ${variantLabel(e.variant)}: ${e.ref ? "" : "unbound "}${e.sub ? "" : "bunbound "}silent`)).toEqual([]);
  });

  for (const [i, q] of QUESTIONS.entries()) {
    test(`${q.name} ${q.type}, resolved: ${q.why}`, () => {
      expect(report(q, first[i]!, "unbound", "bunbound")).toBe("");
    });
    test(`${q.name} ${q.type}, again from the caches`, () => {
      expect(report(q, second[i]!, "unbound", "bunbound")).toBe("");
    });
  }
});
