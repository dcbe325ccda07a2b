// bunbound as a forwarder, compared with Unbound 1.17 forwarding to the same NSD: the zone of zone.ts, signed
// by ldns-signzone, its child sub.conform.example, its parent example and elsewhere.example, all on one NSD. Every question goes to both forwarders
// with RD=1 in every variant (UDP/TCP, EDNS and DO, 0x20 case); the answers are compared like the
// authoritative ones, with the differences a cache in between brings (TTLs counting down).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ALLOW } from "./allowances";
import type { Allowance } from "./compare";
import { dumpAll, report, runMatrix, summary, variantLabel, type Exchange } from "./matrix";
import { ldnsSign, missingTools, startAll, startBunboundWith, startNsd, startUnbound, type Server } from "./servers";
import { CHILD, ELSEWHERE, PARENT, QUESTIONS, writeZones, ZONE } from "./zone";

setDefaultTimeout(60_000);

const missing = missingTools(["nsd", "unbound", "ldns-keygen", "ldns-signzone"], "the forwarding conformance suite");
const SEED = Number(process.env.CONFORMANCE_SEED ?? Math.floor(Math.random() * 2 ** 31));

const ALLOWED: Allowance[] = [ALLOW.rdataNameCase, ALLOW.ttlAging, ALLOW.minimalAny, ALLOW.referralDsScrubbed, ALLOW.udpCap1232, ALLOW.edeFromReference];

/**
 * Questions a forwarder is asked: the authoritative list, plus a name only the child zone has. Not QCLASS ANY:
 * Unbound refuses it outright (its policy), so there is nothing to compare bunbound's relayed answer with.
 */
const FORWARDED = [
  ...QUESTIONS.filter((q) => q.qclass !== "ANY"),
  { name: `host.${CHILD}`, type: "AAAA", why: "NODATA from the child zone (a second zone on the same upstream)" },
];

describe.skipIf(missing.length > 0)("bunbound forwards like Unbound does, in front of the same NSD", () => {
  let results: Exchange[][] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    const files = writeZones("conformance-fwd-");
    const signed = ldnsSign(files.dir, files.zone, ZONE);
    const [nsd] = await startAll<[Server]>(
      servers,
      startNsd([
        { name: ZONE, file: signed },
        { name: CHILD, file: files.child },
        { name: ELSEWHERE, file: files.elsewhere },
        { name: PARENT, file: files.parent },
      ]),
    );
    const [unbound, bunbound] = await startAll<[Server, Server]>(
      servers,
      startUnbound({ mode: "forward", zones: [{ zone: PARENT, port: nsd.port }] }),
      startBunboundWith(`upstreams = ["127.0.0.1:${nsd.port}"]\n`),
    );
    results = await runMatrix({ questions: FORWARDED, ref: unbound, sub: bunbound, allowances: ALLOWED, seed: SEED, rd: true, width: 8 });
  });

  afterAll(async () => {
    await dumpAll("forwarding", FORWARDED, results, "unbound", "bunbound");
    console.log(summary("forwarding, Unbound vs bunbound", results, SEED));
    await Promise.all(servers.map((s) => s.stop()));
  });

  test("every answer bunbound relays says QR RD RA and not AA (RFC 1035 4.1.1: the answer is the forwarder's, not the zone's)", () => {
    const wrong = results.flat().filter((e) => e.sub && !(e.sub.flags.includes("qr") && e.sub.flags.includes("rd") && e.sub.flags.includes("ra") && !e.sub.flags.includes("aa")));
    expect(wrong.map((e) => `${e.qname} ${variantLabel(e.variant)}: ${e.sub!.rcode} ${e.sub!.flags.join(" ")}`)).toEqual([]);
  });

  test("Unbound, the reference, says QR RD RA and not AA as well", () => {
    const wrong = results.flat().filter((e) => e.ref && !(e.ref.flags.includes("qr") && e.ref.flags.includes("rd") && e.ref.flags.includes("ra") && !e.ref.flags.includes("aa")));
    expect(wrong.map((e) => `${e.qname} ${variantLabel(e.variant)}: ${e.ref!.rcode} ${e.ref!.flags.join(" ")}`)).toEqual([]);
  });

  for (const [i, q] of FORWARDED.entries()) {
    test(`${q.name} ${q.qclass ?? "IN"} ${q.type}${q.ednsSize ? ` (EDNS ${q.ednsSize})` : ""}: ${q.why}`, () => {
      expect(report(q, results[i]!, "unbound", "bunbound")).toBe("");
    });
  }
});
