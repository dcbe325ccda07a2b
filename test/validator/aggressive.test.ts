// The store behind aggressive NSEC (RFC 8198): what it keeps of a (validated) negative answer, what it answers
// from it, and for how long. Signatures are not checked here (the validator did that before recording); the
// answers it makes are checked by delv in test/conformance/validating-recursive.test.ts.
import { describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { NsecStore } from "../../src/validator/aggressive";
import { readMessage } from "../../src/wire/records";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { toWire } from "../../src/wire/name";
import { decode, makeQuery } from "../helpers/dns";

const NOW = 1_800_000_000;
const sig = (name: string, covered: string, ttl = 300): packet.Answer =>
  ({ name, type: "RRSIG", class: "IN", ttl, data: { typeCovered: covered, algorithm: 13, labels: 2, originalTTL: ttl, expiration: NOW + 86400, inception: NOW - 3600, keyTag: 1, signersName: "example.com", signature: Buffer.alloc(64, 3) } }) as never;
const soa = (ttl = 300, minimum = 60): packet.Answer[] => [
  { name: "example.com", type: "SOA", class: "IN", ttl, data: { mname: "ns.example.com", rname: "h.example.com", serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum } },
  sig("example.com", "SOA", ttl),
];
const nsec = (owner: string, next: string, ttl = 60): packet.Answer[] => [
  { name: owner, type: "NSEC", class: "IN", ttl, data: { nextDomain: next, rrtypes: ["A", "RRSIG", "NSEC"] } },
  sig(owner, "NSEC", ttl),
];
/** A negative answer to qname from example.com: the SOA, and these NSECs. */
function negative(qname: string, authorities: packet.Answer[], rcode = 3): Uint8Array {
  return new Uint8Array(packet.encode({ type: "response", id: 1, flags: (1 << 8) | (1 << 7) | rcode, questions: [{ name: qname, type: "A", class: "IN" }], authorities } as packet.Packet));
}
function record(store: NsecStore, resp: Uint8Array, now = NOW): void {
  store.record(resp, readMessage(resp, resp.length)!, toWire("example.com"), now);
}
function ask(store: NsecStore, name: string, now = NOW): ReturnType<typeof decode> | null {
  const query = makeQuery(name, "A", { id: 9 });
  const q = new QueryInfo();
  parseQuery(query, query.length, q);
  const out = store.synthesize(query, q, now);
  return out ? decode(out) : null;
}
// canonical order: example.com < *.example.com < mail < www: mail→www covers "nope", the apex's NSEC the wildcard
const proof = () => negative("nope.example.com", [...soa(), ...nsec("mail.example.com", "www.example.com"), ...nsec("example.com", "mail.example.com")]);

describe("aggressive NSEC: the store", () => {
  test("a name the kept NSECs cover is NXDOMAIN with the SOA, the NSECs and their RRSIGs; others are not answered", () => {
    const s = new NsecStore();
    record(s, proof());
    const a = ask(s, "other.example.com")!;
    expect(a.rcode).toBe("NXDOMAIN");
    expect(a.id).toBe(9);
    expect(a.authorities.map((r) => `${r.name} ${r.type}`)).toEqual(["example.com SOA", "example.com RRSIG", "mail.example.com NSEC", "mail.example.com RRSIG", "example.com NSEC", "example.com RRSIG"]);
    expect(s.synthesized).toBe(1);
    expect(ask(s, "www.example.com")).toBeNull(); // the NSEC's next name exists
    expect(ask(s, "zzz.example.com")).toBeNull(); // after www: no NSEC kept covers it
    expect(ask(s, "mail.example.com")).toBeNull(); // it exists
    expect(ask(s, "x.example.org")).toBeNull(); // another zone
  });

  test("kept for the shortest of the NSEC TTL and the SOA minimum; TTLs count down", () => {
    const s = new NsecStore();
    record(s, negative("nope.example.com", [...soa(300, 30), ...nsec("mail.example.com", "www.example.com", 600), ...nsec("example.com", "mail.example.com", 600)]));
    expect(ask(s, "other.example.com", NOW + 10)!.authorities[0]!.ttl).toBe(20);
    expect(ask(s, "other.example.com", NOW + 31)).toBeNull();
  });

  test("without the wildcard denied, or without a signed SOA, nothing is answered", () => {
    const noWildcard = new NsecStore();
    record(noWildcard, negative("nope.example.com", [...soa(), ...nsec("mail.example.com", "www.example.com")]));
    expect(ask(noWildcard, "other.example.com")).toBeNull();
    const unsignedSoa = new NsecStore();
    record(unsignedSoa, negative("nope.example.com", [soa()[0]!, ...nsec("mail.example.com", "www.example.com"), ...nsec("example.com", "mail.example.com")]));
    expect(ask(unsignedSoa, "other.example.com")).toBeNull();
  });

  test("bounded: NSECs per zone, the oldest going first; clear() forgets all", () => {
    const s = new NsecStore(2, 2);
    record(s, proof());
    record(s, negative("b.example.com", [...soa(), ...nsec("a.example.com", "c.example.com")]));
    expect(s.size).toBe(2); // the apex NSEC went first
    expect(ask(s, "other.example.com")).toBeNull();
    s.clear();
    expect(s.size).toBe(0);
  });
});
