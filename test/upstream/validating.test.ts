import { afterEach, describe, expect, test } from "bun:test";
import type * as packet from "dns-packet";
import { UpstreamDnssec, ValidatingForwarder } from "../../src/upstream/validating";
import { Validator } from "../../src/validator/validate";
import { loadAnchors } from "../../src/validator/anchors";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { rcodeOf } from "../../src/wire/message";
import { StandIn } from "../helpers/upstream";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { makeForwarder, makePool } from "../helpers/pipeline";

const started: StandIn[] = [];
afterEach(() => started.splice(0).forEach((s) => s.close()));
async function standIn(opts: Parameters<typeof StandIn.start>[0] = {}): Promise<StandIn> {
  const s = await StandIn.start(opts);
  started.push(s);
  return s;
}

const KEY: packet.Answer = { name: ".", type: "DNSKEY", class: "IN", ttl: 3600, data: { flags: 257, algorithm: 13, key: Buffer.alloc(64, 7) } } as packet.Answer;
const SIG: packet.Answer = {
  name: ".",
  type: "RRSIG",
  class: "IN",
  ttl: 3600,
  data: { typeCovered: "DNSKEY", algorithm: 13, labels: 0, originalTTL: 3600, expiration: 2_000_000_000, inception: 1_700_000_000, keyTag: 1, signersName: ".", signature: Buffer.alloc(64, 1) },
} as packet.Answer;
/** An upstream that answers the root DNSKEY with its RRSIG, or (stripping) without it. */
const rootKeys = (signed: boolean) => ({ answers: (name: string, type: string) => (type === "DNSKEY" ? (signed ? [KEY, SIG] : [KEY]) : undefined) });

const never = new AbortController().signal;

describe("whether the upstreams return DNSSEC data (dnssec.validate = auto)", () => {
  test("every upstream signs the root DNSKEY: not downgraded; one that strips it downgrades, and is named", async () => {
    const signing = await standIn(rootKeys(true));
    const stripping = await standIn(rootKeys(false));
    const good = new UpstreamDnssec(() => makeForwarder([signing.address]), () => 500);
    expect(await good.check(never)).toBe(true);
    expect([good.known, good.downgraded]).toEqual([true, false]);
    const mixed = new UpstreamDnssec(() => makeForwarder([signing.address, stripping.address]), () => 500);
    expect(await mixed.check(never)).toBe(true);
    expect([mixed.known, mixed.downgraded, mixed.stripping]).toEqual([true, true, [stripping.address]]);
    expect(stripping.probes.length).toBe(1);
  });

  test("an upstream that does not answer leaves it unknown (checked again later); one answering REFUSED strips", async () => {
    const silent = await standIn({ silent: true });
    const u = new UpstreamDnssec(() => makeForwarder([silent.address], { timeouts: { upstream_ms: 100 } }), () => 300);
    expect(await u.check(never)).toBe(false);
    expect([u.known, u.validating]).toEqual([false, false]);
    const refusing = await standIn({ rcode: "REFUSED" });
    const r = new UpstreamDnssec(() => makeForwarder([refusing.address]), () => 500);
    expect(await r.check(never)).toBe(true);
    expect(r.downgraded).toBe(true);
  });

  test("once checked, the same upstreams are not asked again unless forced (a reload that changed nothing)", async () => {
    const signing = await standIn(rootKeys(true));
    const f = makeForwarder([signing.address]);
    const u = new UpstreamDnssec(() => f, () => 500);
    await u.check(never);
    await u.check(never, false);
    expect(signing.probes.length).toBe(1);
    await u.check(never, true);
    expect(signing.probes.length).toBe(2);
  });
});

function ask(name: string, cd = false): { query: Uint8Array; q: QueryInfo } {
  const query = makeQuery(name, "A", { edns: 1232 });
  if (cd) query[3]! |= 0x10;
  const q = new QueryInfo();
  parseQuery(query, query.length, q);
  return { query, q };
}

describe("forwarded answers, validated (dnssec.validate = true)", () => {
  test("through an upstream that strips signatures: SERVFAIL with an EDE; CD=1 gets the data; [[forward]] zones are not validated", async () => {
    const stripping = await standIn(rootKeys(false));
    const corp = await standIn();
    const { pool } = makePool([stripping.address], {}, [{ zone: "corp.example", upstreams: [corp.address] }]);
    const v = new ValidatingForwarder(makeForwarder([], { pool }), new Validator(() => loadAnchors(), () => []), null);
    const deadline = () => Date.now() + 2000;

    const { query, q } = ask("www.example.org");
    const bogus = await v.forward(query, q, deadline(), never);
    expect(rcodeOf(bogus!.resp)).toBe(2);
    expect(bogus!.ede?.code).toBeGreaterThan(0);
    expect(bogus!.secure).toBeUndefined();

    const cd = ask("www.example.org", true);
    const unchecked = await v.forward(cd.query, cd.q, deadline(), never);
    expect(decode(unchecked!.resp).answers[0]!.data).toBe(addrFor("www.example.org"));

    const inCorp = ask("app.corp.example");
    const got = await v.forward(inCorp.query, inCorp.q, deadline(), never);
    expect(decode(got!.resp).answers[0]!.data).toBe(addrFor("app.corp.example"));
    expect(corp.received.map((r) => `${r.name} ${r.type}`)).toEqual(["app.corp.example A"]);
  });
});

describe('forwarded answers with dnssec.validate = "auto"', () => {
  test("an upstream that answers questions but not the check: answers pass unvalidated, never SERVFAIL", async () => {
    // The root DNSKEY is answered late (a forwarder that cannot reach the root): the check gets nothing in time.
    const up = await standIn({ delayMs: (name) => (name === "." || name === "" ? 3000 : 0) });
    const f = makeForwarder([up.address], { timeouts: { upstream_ms: 200 } });
    const support = new UpstreamDnssec(() => f, () => 200);
    expect(await support.check(never)).toBe(false);
    const v = new ValidatingForwarder(f, new Validator(() => loadAnchors(), () => []), support);
    const { query, q } = ask("www.example.org");
    const got = await v.forward(query, q, Date.now() + 1000, never);
    expect(decode(got!.resp).answers[0]!.data).toBe(addrFor("www.example.org"));
    expect(got!.secure).toBeUndefined();
    expect(up.received.map((r) => r.type)).toEqual(["A"]); // no DS or DNSKEY lookups
  });
});
