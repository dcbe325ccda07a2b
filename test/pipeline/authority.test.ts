import { describe, expect, test } from "bun:test";
import { Outcome, QueryInfo } from "../../src/pipeline";
import { decode, makeQuery } from "../helpers/dns";
import { makePipeline } from "../helpers/pipeline";
import { fixture, loadZone, tableWith } from "../helpers/zones";

const zone = loadZone("example.lan", fixture("example.lan.zone"));
const { pipeline, counters } = makePipeline([], ["127.0.0.1:9"], { zones: tableWith(zone) });

function ask(name: string, type = "A", o: { udp?: boolean; edns?: number } = {}) {
  const bytes = makeQuery(name, type, { edns: o.edns });
  const slot = new Uint8Array(65535);
  slot.set(bytes);
  const n = pipeline.answerNow(slot, bytes.length, new QueryInfo(), o.udp ?? false);
  return { n, msg: n > 0 ? decode(slot.subarray(0, n)) : null };
}

describe("authoritative answers", () => {
  test("an exact match is answered with AA, the client's spelling kept", () => {
    const r = ask("WWW.example.lan").msg!;
    expect(r.flag_aa).toBe(true);
    expect(r.answers.map((a) => a.data)).toEqual(["10.0.0.10"]);
    expect(r.answers[0]!.name).toBe("WWW.example.lan");
    expect(r.answers[0]!.ttl).toBe(300);
  });
  test("a CNAME is followed inside the zone, through a chain", () => {
    expect(ask("alias.example.lan").msg!.answers.map((a) => `${a.type} ${a.data}`)).toEqual(["CNAME www.example.lan", "A 10.0.0.10"]);
    expect(ask("chain1.example.lan", "AAAA").msg!.answers.map((a) => a.type)).toEqual(["CNAME", "CNAME", "AAAA"]);
    expect(ask("alias.example.lan", "CNAME").msg!.answers.length).toBe(1);
  });
  test("a wildcard answers names below it (RFC 4592) with the asked name as owner", () => {
    const r = ask("anything.wild.example.lan", "TXT").msg!;
    expect(r.answers[0]!.name).toBe("anything.wild.example.lan");
    expect((r.answers[0]!.data as Buffer[]).map(String)).toEqual(["wildcard", "two strings"]);
    expect(ask("deeper.still.wild.example.lan", "TXT").msg!.answers.length).toBe(1);
    expect(ask("x.wild.example.lan", "A").msg!.rcode).toBe("NOERROR"); // wildcard exists, type does not: NODATA
  });
  test("NODATA and NXDOMAIN carry the SOA in authority", () => {
    const nodata = ask("www.example.lan", "MX").msg!;
    expect(nodata.rcode).toBe("NOERROR");
    expect(nodata.answers).toEqual([]);
    expect(nodata.authorities[0]!.type).toBe("SOA");
    const nx = ask("nope.example.lan").msg!;
    expect(nx.rcode).toBe("NXDOMAIN");
    expect(nx.authorities[0]!.type).toBe("SOA");
    expect(nx.flag_aa).toBe(true);
  });
  test("an empty non-terminal is NODATA, not NXDOMAIN", () => {
    expect(ask("b.c.example.lan").msg!.rcode).toBe("NOERROR");
    expect(ask("c.example.lan").msg!.rcode).toBe("NOERROR");
    expect(ask("a.b.c.example.lan").msg!.answers[0]!.data).toBe("10.0.0.30");
  });
  test("names at or below a delegation get a referral with glue, not AA", () => {
    for (const n of ["host.sub.example.lan", "sub.example.lan"]) {
      const r = ask(n).msg!;
      expect(r.flag_aa).toBe(false);
      expect(r.answers).toEqual([]);
      expect(r.authorities.map((a) => `${a.type} ${a.data}`)).toEqual(["NS ns.sub.example.lan"]);
      expect(r.additionals.filter((a) => a.type === "A").map((a) => a.data)).toEqual(["10.0.0.53"]);
    }
  });
  test("ANY gets one RRset (RFC 8482)", () => {
    const r = ask("example.lan", "ANY").msg!;
    expect(new Set(r.answers.map((a) => a.type)).size).toBe(1);
  });
  test("other record types come back as stored", () => {
    expect(ask("example.lan", "MX").msg!.answers[0]!.data).toEqual({ preference: 10, exchange: "mail.example.lan" });
    expect(ask("_sip._tcp.example.lan", "SRV").msg!.answers[0]!.data).toMatchObject({ port: 5060, target: "www.example.lan" });
    expect(ask("caa.example.lan", "CAA").msg!.answers[0]!.data).toMatchObject({ tag: "issue", value: "letsencrypt.org" });
    expect(ask("host.inc.example.lan").msg!.answers[0]!.data).toBe("10.0.0.50");
  });
  test("names outside every zone go on to the cache and upstreams", () => {
    expect(ask("www.example.org").n).toBe(Outcome.PENDING);
  });
  test("AXFR: over TCP it is a transfer; over UDP, or of a zone we do not serve, REFUSED", () => {
    expect(ask("example.lan", "AXFR").n).toBe(Outcome.TRANSFER);
    expect(ask("example.lan", "AXFR", { udp: true }).msg!.rcode).toBe("REFUSED");
    expect(ask("example.org", "AXFR").msg!.rcode).toBe("REFUSED");
    expect(counters.authoritative).toBeGreaterThan(10);
  });
});
