// Answers NSD gives for the same zone (test/conformance/authoritative.test.ts asks NSD itself): CNAME chains end
// with the rcode and proofs of their last name (RFC 6604), continue into wildcards and delegations, stop at loops.
import { describe, expect, test } from "bun:test";
import { QueryInfo } from "../../src/pipeline";
import { toWire } from "../../src/wire/name";
import { organize, pack, sign } from "../../src/zones/build";
import { loadOrCreateKey } from "../../src/zones/dnssec";
import { parseMasterFile } from "../../src/zones/master";
import { ZoneSnapshot } from "../../src/zones/snapshot";
import { decode, makeQuery } from "../helpers/dns";
import { makePipeline } from "../helpers/pipeline";
import { fixture, loadZone, tableWith } from "../helpers/zones";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const zone = loadZone("chains.lan", fixture("chains.lan.zone"));
const { pipeline } = makePipeline([], [], { zones: tableWith(zone) });

async function signedZone(): Promise<ZoneSnapshot> {
  const origin = toWire("chains.lan");
  const nodes = organize(origin, parseMasterFile(fixture("chains.lan.zone"), origin));
  const key = await loadOrCreateKey(mkdtempSync(join(tmpdir(), "bunbound-keys-")), "chains.lan", 13);
  const now = Math.floor(Date.now() / 1000);
  await sign(origin, nodes, key, { inception: now - 3600, expiration: now + 86400 });
  return new ZoneSnapshot(pack("chains.lan", origin, nodes, true, now + 86400));
}
const signed = makePipeline([], [], { zones: tableWith(await signedZone()) }).pipeline;

function ask(name: string, type = "A", o: { dnssec?: boolean; qclass?: number; signedZone?: boolean } = {}) {
  const bytes = makeQuery(name, type, { edns: 1232, dnssec: o.dnssec });
  if (o.qclass) bytes[bytes.length - 11 - 1] = o.qclass; // the question's class, just before the OPT RR
  const slot = new Uint8Array(65535);
  slot.set(bytes);
  const n = (o.signedZone ? signed : pipeline).answerNow(slot, bytes.length, new QueryInfo(), false);
  return decode(slot.subarray(0, n));
}
const rrs = (list: Array<{ name: string; type: string; data: unknown }>) =>
  list.filter((r) => r.type !== "OPT").map((r) => `${r.name.toLowerCase()} ${r.type}${r.type === "RRSIG" || r.type === "NSEC" ? "" : ` ${JSON.stringify(r.data)}`}`);

describe("CNAME chains inside a served zone", () => {
  test("a chain ending at a name that does not exist is NXDOMAIN with the SOA (RFC 6604)", () => {
    const r = ask("c2nx.chains.lan");
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.flag_aa).toBe(true);
    expect(rrs(r.answers)).toEqual(['c2nx.chains.lan CNAME "nope.chains.lan"']);
    expect(r.authorities.map((a) => a.type)).toEqual(["SOA"]);
  });
  test("a chain ending at a name without the asked type is NODATA with the SOA", () => {
    const r = ask("c2nodata.chains.lan", "MX");
    expect(r.rcode).toBe("NOERROR");
    expect(rrs(r.answers)).toEqual(['c2nodata.chains.lan CNAME "www.chains.lan"']);
    expect(r.authorities.map((a) => a.type)).toEqual(["SOA"]);
  });
  test("a chain of three hops ends at the data, each RR written once", () => {
    expect(rrs(ask("hop1.chains.lan").answers)).toEqual(['hop1.chains.lan CNAME "hop2.chains.lan"', 'hop2.chains.lan CNAME "hop3.chains.lan"', 'hop3.chains.lan A "10.0.0.3"']);
  });
  test("a chain continues into wildcard-synthesised data, owned by the target name", () => {
    expect(rrs(ask("c2wild.chains.lan").answers)).toEqual(['c2wild.chains.lan CNAME "x.wild.chains.lan"', 'x.wild.chains.lan A "10.9.9.9"']);
  });
  test("a chain into a delegation of the zone adds the referral and keeps AA for the CNAME", () => {
    const r = ask("c2del.chains.lan");
    expect(r.flag_aa).toBe(true);
    expect(rrs(r.answers)).toEqual(['c2del.chains.lan CNAME "host.sub.chains.lan"']);
    expect(rrs(r.authorities)).toEqual(['sub.chains.lan NS "ns.sub.chains.lan"']);
    expect(rrs(r.additionals)).toEqual(['ns.sub.chains.lan A "10.0.0.9"']);
  });
  test("a CNAME loop puts each RR in the answer once, then stops", () => {
    const r = ask("loop1.chains.lan");
    expect(r.rcode).toBe("NOERROR");
    expect(rrs(r.answers)).toEqual(['loop1.chains.lan CNAME "loop2.chains.lan"', 'loop2.chains.lan CNAME "loop1.chains.lan"']);
  });
  test("a wildcard CNAME is followed to its target", () => {
    expect(rrs(ask("x.wcname.chains.lan").answers)).toEqual(['x.wcname.chains.lan CNAME "www.chains.lan"', 'www.chains.lan A "10.0.0.2"']);
  });
  test("a CNAME out of the zone ends the answer: the resolver chases it", () => {
    const r = ask("out.chains.lan");
    expect(r.rcode).toBe("NOERROR");
    expect(rrs(r.answers)).toEqual(['out.chains.lan CNAME "www.example.com"']);
    expect(r.authorities).toEqual([]);
  });
});

describe("negative answers and classes", () => {
  test("the SOA of a negative answer has TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 3)", () => {
    for (const r of [ask("nope.chains.lan"), ask("www.chains.lan", "TXT"), ask("b.ent.chains.lan")]) {
      expect(r.authorities[0]!.type).toBe("SOA");
      expect(r.authorities[0]!.ttl).toBe(60);
    }
    expect(ask("chains.lan", "SOA").answers[0]!.ttl).toBe(3600); // asked for itself: its own TTL
  });
  test("a question of class CH for a name in an IN zone is REFUSED, not answered with IN data", () => {
    const r = ask("www.chains.lan", "A", { qclass: 3 });
    expect(r.rcode).toBe("REFUSED");
    expect(r.answers).toEqual([]);
  });
  test("class ANY gets the IN data", () => {
    expect(rrs(ask("www.chains.lan", "A", { qclass: 255 }).answers)).toEqual(['www.chains.lan A "10.0.0.2"']);
  });
});

describe("NSEC proofs of the signed zone", () => {
  const nsecs = (r: ReturnType<typeof ask>) => r.authorities.filter((a) => a.type === "NSEC").map((a) => `${a.name} ${a.data.nextDomain}`);
  test("NXDOMAIN proofs are chosen canonically, whatever the case of the question", () => {
    const lower = nsecs(ask("nope.chains.lan", "A", { dnssec: true, signedZone: true }));
    expect(lower).toEqual(["loop2.chains.lan ns.chains.lan", "chains.lan c2del.chains.lan"]); // nope, then *.chains.lan
    expect(nsecs(ask("NOPE.Chains.LAN", "A", { dnssec: true, signedZone: true }))).toEqual(lower);
  });
  test("an empty non-terminal NODATA carries the NSEC covering it, in any case", () => {
    expect(nsecs(ask("B.ENT.chains.lan", "A", { dnssec: true, signedZone: true }))).toEqual(["c2wild.chains.lan a.b.ent.chains.lan"]);
  });
  test("a wildcard answer and a wildcard CNAME carry the NSEC proving the name itself does not exist", () => {
    expect(nsecs(ask("Z.wild.chains.lan", "A", { dnssec: true, signedZone: true }))).toEqual(["*.wild.chains.lan www.chains.lan"]);
    const r = ask("x.WCNAME.chains.lan", "A", { dnssec: true, signedZone: true });
    expect(rrs(r.answers)).toEqual(['x.wcname.chains.lan CNAME "www.chains.lan"', "x.wcname.chains.lan RRSIG", 'www.chains.lan A "10.0.0.2"', "www.chains.lan RRSIG"]);
    expect(nsecs(r)).toEqual(["*.wcname.chains.lan *.wild.chains.lan"]);
  });
  test("a chain ending in NXDOMAIN carries the proofs of its last name and the negative SOA's RRSIG", () => {
    const r = ask("c2nx.chains.lan", "A", { dnssec: true, signedZone: true });
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.authorities.filter((a) => a.type === "RRSIG").every((a) => a.ttl <= 60)).toBe(true);
    expect(nsecs(r)).toEqual(["loop2.chains.lan ns.chains.lan", "chains.lan c2del.chains.lan"]);
  });
});
