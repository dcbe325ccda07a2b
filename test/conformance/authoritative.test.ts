// bunbound as an authoritative server, compared with NSD 4.6 on the same zone file: every question of
// zone.ts over UDP and TCP, without EDNS, with EDNS and DO=0, with DO=1, in plain and 0x20 case. Then the same
// zone signed: by ldns-signzone for NSD, online by bunbound; answers, the NSEC chain and the set of signed
// RRsets must agree, signatures and keys may not. A failing test prints each differing variant with both answers.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { ALLOW } from "./allowances";
import { normalise, rrText, type Allowance, type RR } from "./compare";
import { dumpAll, report, runMatrix, summary, type Exchange } from "./matrix";
import { buildQuery } from "./query";
import { ldnsSign, missingTools, startAll, startBunboundWith, startNsd, type Server } from "./servers";
import { QUESTIONS, writeZones, ZONE } from "./zone";
import { frame, TcpClient } from "../helpers/dns";

setDefaultTimeout(60_000);

const missing = missingTools(["nsd", "ldns-keygen", "ldns-signzone"], "the NSD conformance suite");
const SEED = Number(process.env.CONFORMANCE_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** Allowed differences between NSD and bunbound, whatever the zone. */
const UNSIGNED: Allowance[] = [ALLOW.raOnAuthoritative, ALLOW.minimalAny, ALLOW.optionalAdditional, ALLOW.edeFromReference, ALLOW.rdataNameCase];
/** And when each signs with its own key. */
const SIGNED: Allowance[] = [...UNSIGNED, ALLOW.signatures, ALLOW.keys];

/** Every RR of a zone by AXFR over TCP (until the closing SOA). */
async function axfr(port: number, zone: string): Promise<RR[]> {
  const c = await TcpClient.open(port);
  try {
    c.write(frame(buildQuery(zone, "AXFR")));
    const rrs: RR[] = [];
    let soas = 0;
    for (let i = 0; soas < 2; i++) {
      await c.waitFor(i + 1, 5000);
      const m = c.messages[i];
      if (!m) throw new Error(`AXFR of ${zone} from port ${port} stopped after ${i} messages`);
      const n = normalise(m);
      if (n.rcode !== "NOERROR") throw new Error(`AXFR of ${zone} from port ${port}: ${n.rcode}`);
      rrs.push(...n.answer);
      soas += n.answer.filter((r) => r.type === "SOA").length;
    }
    return rrs.slice(0, -1);
  } finally {
    c.close();
  }
}

/** "" when both lists hold the same lines, as many times each; otherwise the lines one side has more of. */
function listDiff(ref: string[], sub: string[], refName: string): string {
  const count = (l: string[]) => l.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const a = count(ref);
  const b = count(sub);
  const out: string[] = [];
  for (const [l, n] of a) for (let i = b.get(l) ?? 0; i < n; i++) out.push(`- ${l}   (only ${refName})`);
  for (const [l, n] of b) for (let i = a.get(l) ?? 0; i < n; i++) out.push(`+ ${l}   (only bunbound)`);
  return out.sort().join("\n");
}

describe.skipIf(missing.length > 0)("bunbound answers like NSD from the same zone file", () => {
  let results: Exchange[][] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    const files = writeZones("conformance-auth-");
    const [nsd, bunbound] = await startAll<[Server, Server]>(
      servers,
      startNsd([{ name: ZONE, file: files.zone }]),
      startBunboundWith(`upstreams = []\n[[zone]]\nname = "${ZONE}"\nfile = "${files.zone}"\n`, ZONE),
    );
    results = await runMatrix({ questions: QUESTIONS, ref: nsd, sub: bunbound, allowances: UNSIGNED, seed: SEED });
  });

  afterAll(async () => {
    await dumpAll("authoritative-unsigned", QUESTIONS, results, "nsd", "bunbound");
    console.log(summary("unsigned zone, NSD vs bunbound", results, SEED));
    await Promise.all(servers.map((s) => s.stop()));
  });

  for (const [i, q] of QUESTIONS.entries()) {
    test(`${q.name} ${q.qclass ?? "IN"} ${q.type}${q.ednsSize ? ` (EDNS ${q.ednsSize})` : ""}: ${q.why}`, () => {
      expect(report(q, results[i]!, "nsd", "bunbound")).toBe("");
    });
  }
});

describe.skipIf(missing.length > 0)("bunbound's online signing agrees with ldns-signzone served by NSD", () => {
  let results: Exchange[][] = [];
  let nsdZone: RR[] = [];
  let ownZone: RR[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    const files = writeZones("conformance-signed-");
    const signed = ldnsSign(files.dir, files.zone, ZONE);
    const [nsd, bunbound] = await startAll<[Server, Server]>(
      servers,
      startNsd([{ name: ZONE, file: signed }]),
      startBunboundWith(`upstreams = []\n[[zone]]\nname = "${ZONE}"\nfile = "${files.zone}"\ndnssec = true\nalgorithm = 13\n`, ZONE),
    );
    [results, nsdZone, ownZone] = await Promise.all([
      runMatrix({ questions: QUESTIONS, ref: nsd, sub: bunbound, allowances: SIGNED, seed: SEED }),
      axfr(nsd.port, ZONE),
      axfr(bunbound.port, ZONE),
    ]);
  });

  afterAll(async () => {
    await dumpAll("authoritative-signed", QUESTIONS, results, "nsd", "bunbound");
    console.log(summary("signed zone, NSD (ldns-signzone) vs bunbound (online)", results, SEED));
    await Promise.all(servers.map((s) => s.stop()));
  });

  const nsecChain = (rrs: RR[]) => rrs.filter((r) => r.type === "NSEC").map((r) => `${r.owner} ${r.ttl} NSEC ${r.fields[0]!.toLowerCase()} ${r.fields.slice(1).join(" ")}`);
  const signedSets = (rrs: RR[]) => rrs.filter((r) => r.type === "RRSIG").map((r) => `${r.owner} RRSIG ${r.fields.slice(0, 4).join(" ")} ${r.fields[7]!.toLowerCase()}`);
  const data = (rrs: RR[]) => rrs.filter((r) => !["RRSIG", "NSEC", "DNSKEY"].includes(r.type)).map((r) => rrText({ ...r, fields: r.fields.map((f, i) => (r.names.includes(i) ? f.toLowerCase() : f)) }));

  test("the NSEC chain (owner, TTL, next name, type bitmap) is the same", () => {
    expect(nsecChain(nsdZone).length).toBeGreaterThan(10);
    expect(listDiff(nsecChain(nsdZone), nsecChain(ownZone), "ldns-signzone")).toBe("");
  });

  test("the same RRsets carry RRSIGs (type covered, algorithm, labels, original TTL, signer)", () => {
    expect(listDiff(signedSets(nsdZone), signedSets(ownZone), "ldns-signzone")).toBe("");
  });

  test("the zone transferred holds the same data besides DNSSEC records", () => {
    expect(listDiff(data(nsdZone), data(ownZone), "nsd")).toBe("");
  });

  for (const [i, q] of QUESTIONS.entries()) {
    test(`signed: ${q.name} ${q.qclass ?? "IN"} ${q.type}${q.ednsSize ? ` (EDNS ${q.ednsSize})` : ""}: ${q.why}`, () => {
      expect(report(q, results[i]!, "nsd", "bunbound")).toBe("");
    });
  }
});
