// bunbound's online-signed zone through a validating Unbound 1.17 (stub-zone to bunbound, the served DNSKEY as
// trust anchor), once with use-caps-for-id (Unbound asks bunbound in random 0x20 case) and once without: positive
// answers, NXDOMAIN, NODATA, wildcards, wildcard CNAMEs, empty non-terminals and CNAME chains must all come back
// with AD=1 and the right rcode; a name under the unsigned delegation sub (served by NSD) comes back insecure.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { normalise, render, type Normalised } from "./compare";
import { buildQuery, exchange, inBatches } from "./query";
import { missingTools, startAll, startBunboundWith, startNsd, startUnbound, type Server } from "./servers";
import { CHILD, writeZones, ZONE } from "./zone";

setDefaultTimeout(60_000);

const missing = missingTools(["unbound", "nsd"], "the validating conformance suite");

interface Expectation {
  /** Relative to the zone; letters in capitals are asked that way. */
  name: string;
  type: string;
  rcode: "NOERROR" | "NXDOMAIN";
  ad: boolean;
  /** Types of the answer section without RRSIGs (unless RRSIGs are what is asked for), sorted ([] = NODATA or NXDOMAIN). */
  answer: string[];
  why: string;
}

const e = (name: string, type: string, rcode: Expectation["rcode"], answer: string[], why: string, ad = true): Expectation => ({ name, type, rcode, ad, answer: [...answer].sort(), why });

/** Each name is asked once per Unbound: a later question never gets an answer cached by an earlier one. */
const EXPECT: Expectation[] = [
  e("@", "SOA", "NOERROR", ["SOA"], "the apex SOA"),
  e("@", "DNSKEY", "NOERROR", ["DNSKEY"], "the DNSKEY RRset, signed by itself"),
  e("host1", "A", "NOERROR", ["A", "A", "A"], "a positive answer"),
  e("HoSt1", "AAAA", "NOERROR", ["AAAA", "AAAA"], "a positive answer asked in mixed case"),
  e("txt", "TXT", "NOERROR", ["TXT", "TXT", "TXT", "TXT"], "TXT with UTF-8 and escaped bytes (the signature covers the exact bytes)"),
  e("big", "TXT", "NOERROR", Array(8).fill("TXT"), "a 2 KB RRset: TC=1 over UDP, then the whole signed RRset over TCP"),
  e("nope", "A", "NXDOMAIN", [], "NXDOMAIN: NSEC covering the name and the wildcard"),
  e("NoPe-MiXeD", "A", "NXDOMAIN", [], "NXDOMAIN asked in mixed case: the covering NSEC is chosen case-insensitively"),
  e("zzz-after-everything", "A", "NXDOMAIN", [], "NXDOMAIN for a name after the last NSEC owner (the chain wraps to the apex)"),
  e("c.b.ent", "A", "NXDOMAIN", [], "NXDOMAIN below an empty non-terminal"),
  e("host1", "MX", "NOERROR", [], "NODATA: the NSEC at the name without MX"),
  e("Mail", "AAAA", "NOERROR", [], "NODATA asked in mixed case"),
  e("x1.wild", "A", "NOERROR", ["A"], "a wildcard answer: RRSIG labels 3 plus the NSEC proving x1.wild does not exist"),
  e("X2.WiLd", "TXT", "NOERROR", ["TXT"], "a wildcard answer asked in mixed case"),
  e("deep.er.wild", "A", "NOERROR", ["A"], "a wildcard standing for two labels"),
  e("x3.wild", "MX", "NOERROR", [], "wildcard NODATA: the wildcard's NSEC and the qname's covering NSEC"),
  e("x.wcname", "A", "NOERROR", ["A", "A", "A", "CNAME"], "a wildcard CNAME (*.wcname CNAME host1) and host1's A"),
  e("Y.WcNaMe", "AAAA", "NOERROR", ["AAAA", "AAAA", "CNAME"], "a wildcard CNAME asked in mixed case"),
  e("b.ent", "A", "NOERROR", [], "ENT NODATA: the NSEC before the empty non-terminal"),
  e("EnT", "AAAA", "NOERROR", [], "ENT NODATA two levels up, asked in mixed case"),
  e("wild", "A", "NOERROR", [], "the wildcard's parent, an empty non-terminal"),
  e("chain1", "A", "NOERROR", ["A", "A", "A", "CNAME", "CNAME", "CNAME"], "a three-hop CNAME chain"),
  e("ChAiN2", "AAAA", "NOERROR", ["AAAA", "AAAA", "CNAME", "CNAME"], "a CNAME chain asked in mixed case"),
  e("alias-nx", "A", "NXDOMAIN", ["CNAME"], "a CNAME to a missing name: NXDOMAIN proven for the target"),
  e("alias-nodata", "AAAA", "NOERROR", ["CNAME"], "a CNAME to a name without the type: NODATA proven for the target"),
  e("alias-wild", "A", "NOERROR", ["A", "CNAME"], "a CNAME into wildcard data"),
  e("alias-wcname", "A", "NOERROR", ["A", "A", "A", "CNAME", "CNAME"], "a CNAME to a wildcard CNAME"),
  e("sub", "DS", "NOERROR", [], "no DS at the unsigned cut: NODATA proven by the cut's NSEC (NS, no DS)"),
  e(`host.sub`, "A", "NOERROR", ["A"], "a name under the unsigned delegation: insecure (AD=0), not SERVFAIL", false),
  e("mail", "RRSIG", "NOERROR", ["RRSIG", "RRSIG"], "an RRSIG query: the name's RRSIGs, as Unbound gets them from NSD (unsigned themselves, so AD=0), not a NODATA the name's own NSEC contradicts", false),
  e("secure", "DS", "NOERROR", ["DS"], "the DS at the signed cut"),
];

const fqdn = (rel: string) => (rel === "@" ? ZONE : `${rel}.${ZONE}`);

/** One validated question (DO=1, RD=1) over UDP, retried over TCP when truncated. */
async function ask(port: number, x: Expectation): Promise<Normalised | null> {
  const q = buildQuery(fqdn(x.name), x.type, { rd: true, edns: 1232, dnssecOk: true });
  let r = await exchange("udp", port, q, 5000);
  if (r && r[2]! & 0x02) r = await exchange("tcp", port, q, 5000);
  return r ? normalise(r) : null;
}

/** "" when the answer matches; otherwise what differs, the answer, and Unbound's log lines about the name. */
function check(x: Expectation, n: Normalised | null, unbound: Server): string {
  const problems: string[] = [];
  if (!n) problems.push("no answer");
  else {
    if (n.rcode !== x.rcode) problems.push(`rcode ${n.rcode}, expected ${x.rcode}`);
    if (n.flags.includes("ad") !== x.ad) problems.push(`AD=${n.flags.includes("ad") ? 1 : 0}, expected AD=${x.ad ? 1 : 0}`);
    const types = n.answer.filter((rr) => rr.type !== "RRSIG" || x.type === "RRSIG").map((rr) => rr.type).sort();
    if (types.join(" ") !== x.answer.join(" ")) problems.push(`answer types [${types.join(" ")}], expected [${x.answer.join(" ")}]`);
  }
  if (!problems.length) return "";
  const needle = fqdn(x.name).toLowerCase();
  const log = unbound
    .log()
    .split("\n")
    .filter((l) => l.toLowerCase().includes(needle) || /validation failure|bogus/i.test(l))
    .slice(-8);
  return [`${fqdn(x.name)} ${x.type} (${x.why}) via ${unbound.name}: ${problems.join("; ")}`, render(n), ...log.map((l) => `      log: ${l}`)].join("\n");
}

describe.skipIf(missing.length > 0)("a validating Unbound in front of bunbound's signed zone", () => {
  const servers: Server[] = [];
  const results = new Map<string, Array<Normalised | null>>();
  const resolvers: Record<string, Server> = {};
  let bogus: Normalised | null = null;

  beforeAll(async () => {
    const files = writeZones("conformance-validating-");
    const [bunbound, nsd] = await startAll<[Server, Server]>(
      servers,
      startBunboundWith(`upstreams = []\n[[zone]]\nname = "${ZONE}"\nfile = "${files.zone}"\ndnssec = true\nalgorithm = 13\n`, ZONE),
      startNsd([{ name: CHILD, file: files.child }]),
    );
    const keys = normalise((await exchange("tcp", bunbound.port, buildQuery(ZONE, "DNSKEY", { edns: 1232, dnssecOk: true })))!);
    const anchor = keys.answer.filter((rr) => rr.type === "DNSKEY").map((rr) => `${ZONE}. 3600 IN DNSKEY ${rr.fields.join(" ")}`);
    expect(anchor.length).toBeGreaterThan(0);
    // The child zone is reached by a stub-zone of its own (its NS addresses are not on loopback).
    const zones = [
      { zone: ZONE, port: bunbound.port },
      { zone: CHILD, port: nsd.port },
    ];
    // A wrong key as anchor: every answer from the zone must then be bogus (the validator is really on).
    const wrong = anchor[0]!.replace(/\S+$/, (k) => Buffer.from(Buffer.from(k, "base64").map((b, i) => (i === 5 ? b ^ 1 : b))).toString("base64"));
    const [caps, plain, control] = await startAll<[Server, Server, Server]>(
      servers,
      startUnbound({ mode: "validate", zones, trustAnchor: anchor.join("\n"), useCapsForId: true }),
      startUnbound({ mode: "validate", zones, trustAnchor: anchor.join("\n"), useCapsForId: false }),
      startUnbound({ mode: "validate", zones, trustAnchor: wrong, useCapsForId: false }),
    );
    Object.assign(resolvers, { "use-caps-for-id: yes": caps, "use-caps-for-id: no": plain });
    await Promise.all(
      Object.entries(resolvers).map(async ([k, s]) => {
        results.set(k, await inBatches(EXPECT, 8, (x) => ask(s.port, x)));
      }),
    );
    bogus = await ask(control.port, EXPECT[2]!);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  test("with a wrong trust anchor the same zone is bogus: SERVFAIL (so AD=1 below means validated)", () => {
    expect(bogus?.rcode).toBe("SERVFAIL");
  });

  for (const mode of ["use-caps-for-id: yes", "use-caps-for-id: no"]) {
    describe(mode, () => {
      for (const [i, x] of EXPECT.entries()) {
        test(`${fqdn(x.name)} ${x.type}: ${x.why} → ${x.rcode}, AD=${x.ad ? 1 : 0}`, () => {
          expect(check(x, results.get(mode)![i]!, resolvers[mode]!)).toBe("");
        });
      }
    });
  }
});
