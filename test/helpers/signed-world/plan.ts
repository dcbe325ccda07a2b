// What the signed world holds: each zone, how it is signed and broken, its server's address, and the
// questions (cases) with the verdict a validator should reach for each. Nothing here runs a tool.

/** RFC 4035 4.3's states, as a validator reports them: AD=1, AD=0, or SERVFAIL. */
export type Verdict = "secure" | "insecure" | "bogus";

export interface Signing {
  /** DNSKEY algorithm: 8 RSASHA256 (2048-bit keys), 13 ECDSAP256SHA256, 15 ED25519, 16 ED448. */
  algorithm: 8 | 13 | 15 | 16;
  /** A KSK (signs the DNSKEY RRset) and a ZSK (signs the rest); otherwise one key with the SEP flag signs all. */
  split?: boolean;
  /** NSEC3 (RFC 5155) instead of NSEC: SHA-1, no salt, this many extra iterations, opt-out on every NSEC3. */
  nsec3?: { iterations: number; optOut?: boolean };
  /** Validity window "YYYYMMDDhhmmss"; by default from an hour ago for 30 days. */
  inception?: string;
  expiration?: string;
  /** What is done to the signed text before NSD serves it. */
  tamper?: "flip-www-a-signature" | "drop-www-a-signature" | "drop-dnskey";
}

export interface ZonePlan {
  /** Lower case, with the final dot; "." for the root. */
  origin: string;
  /** The one server's name (the zone's NS) and its address on 127.55/16, port 53. */
  ns: string;
  address: string;
  /** Without it the zone is served unsigned. */
  signing?: Signing;
  /**
   * The DS the parent publishes: the KSK's ("key"), none (an insecure delegation), the DS of a key the zone does
   * not have ("other-key"), or that of a DNSKEY of algorithm 253 PRIVATEDNS put into the zone ("private-algorithm").
   */
  ds: "key" | "none" | "other-key" | "private-algorithm";
  /** Records beyond SOA, NS and the server's address, relative to the origin. */
  records: string;
  /** What a validator makes of data in this zone, and why. */
  verdict: Verdict;
  why: string;
}

export interface Case {
  name: string;
  type: string;
  /** The zone the answer comes from. */
  zone: string;
  verdict: Verdict;
  /** The rcode when not bogus (bogus answers are SERVFAIL). */
  rcode: "NOERROR" | "NXDOMAIN";
  /** NOERROR with an empty answer section (NODATA). */
  nodata?: boolean;
  /** RFC 8914 Extended DNS Error a validator should attach to the SERVFAIL of a bogus case. */
  ede?: number;
  /** Where Unbound 1.17 (the reference) or delv 9.18 differs from the intended verdict, what it says. */
  unbound?: Verdict;
  delv?: Verdict;
  why: string;
}

/** RFC 8914 4 codes the validator cases use. */
export const EDE = { dnssecBogus: 6, signatureExpired: 7, dnskeyMissing: 9, rrsigsMissing: 10, unsupportedNsec3Iterations: 27 } as const;

const leaf = (i: number) => `127.55.10.${i}`;
const www = (i: number) => `www A 192.0.2.${i}\n`;
/** Wildcard, MX and an empty non-terminal (a.b, and b above it), for the proofs of denial beyond NXDOMAIN. */
const RICH = "@ MX 10 mail\nmail A 192.0.2.25\n*.wild A 192.0.2.80\n*.wild TXT \"wild\"\nhost.a.b A 192.0.2.81\n";

const zone = (origin: string, i: number, signing: Signing | undefined, ds: ZonePlan["ds"], records: string, verdict: Verdict, why: string): ZonePlan => ({
  origin,
  ns: `ns1.${origin}`,
  address: leaf(i),
  signing,
  ds,
  records,
  verdict,
  why,
});

const P256: Signing = { algorithm: 13 };

export const ZONES: ZonePlan[] = [
  // a.root-servers.net's address is authoritative data of net., glue in the root.
  { origin: ".", ns: "a.root-servers.net.", address: "127.55.0.1", signing: { algorithm: 13, split: true }, ds: "key", records: "", verdict: "secure", why: "the trust anchor's zone (KSK + ZSK)" },
  { origin: "com.", ns: "ns1.com.", address: "127.55.1.1", signing: { algorithm: 13, split: true }, ds: "key", records: "", verdict: "secure", why: "a TLD signed with NSEC" },
  { origin: "net.", ns: "ns1.net.", address: "127.55.2.1", signing: { algorithm: 13, nsec3: { iterations: 0 } }, ds: "key", records: "a.root-servers A 127.55.0.1\n", verdict: "secure", why: "a TLD signed with NSEC3, holding the root server's name" },
  { origin: "org.", ns: "ns1.org.", address: "127.55.3.1", signing: P256, ds: "key", records: "", verdict: "secure", why: "a TLD signed with NSEC" },
  zone("secure.com.", 1, { algorithm: 13, split: true }, "key", www(1) + RICH, "secure", "NSEC, KSK + ZSK: positive, NODATA, NXDOMAIN, wildcard and ENT proofs"),
  zone("nsec3.com.", 2, { algorithm: 13, nsec3: { iterations: 0 } }, "key", www(2) + RICH, "secure", "NSEC3, 0 extra iterations, no salt (RFC 9276)"),
  zone("optout.com.", 3, { algorithm: 13, nsec3: { iterations: 0, optOut: true } }, "key", www(3), "secure", "NSEC3 opt-out with the unsigned delegation insecure.optout.com"),
  zone("insecure.optout.com.", 4, undefined, "none", www(4), "insecure", "unsigned, delegated from an opt-out span: no DS, proven by opt-out"),
  zone("insecure.com.", 5, undefined, "none", www(5), "insecure", "unsigned, delegated without DS (NSEC at the cut: NS, no DS)"),
  zone("badsig.com.", 6, { ...P256, tamper: "flip-www-a-signature" }, "key", www(6), "secure", "www A's RRSIG has a flipped byte: only that RRset is bogus"),
  zone("expired.com.", 7, { algorithm: 13, inception: "20190101000000", expiration: "20200101000000" }, "key", www(7), "bogus", "every signature expired in 2020"),
  zone("nosig.com.", 8, { ...P256, tamper: "drop-www-a-signature" }, "key", www(8), "secure", "www A served without its RRSIG: only that RRset is bogus"),
  zone("nokey.com.", 9, { ...P256, tamper: "drop-dnskey" }, "key", www(9), "bogus", "the parent has a DS, the zone serves no DNSKEY"),
  zone("dsmismatch.com.", 10, P256, "other-key", www(10), "bogus", "the parent's DS is of a key the zone does not have"),
  zone("unsupported.com.", 11, { algorithm: 16 }, "key", www(11), "insecure", "Ed448 (RFC 8080): insecure where the runtime lacks it (Bun's BoringSSL), secure where it has it (RFC 4035 5.2)"),
  zone("privatealg.com.", 12, P256, "private-algorithm", www(12), "insecure", "the only DS is of algorithm 253 PRIVATEDNS, which no validator knows: insecure (RFC 4035 5.2)"),
  zone("iterations.com.", 13, { algorithm: 13, nsec3: { iterations: 200 } }, "key", www(13), "secure", "NSEC3 with 200 iterations: signatures fine, denial above RFC 9276 3.2's limits"),
  zone("rsa.com.", 14, { algorithm: 8, split: true }, "key", www(14), "secure", "RSASHA256, 2048-bit KSK + ZSK"),
  zone("ed25519.com.", 15, { algorithm: 15 }, "key", www(15), "secure", "ED25519 (RFC 8080)"),
];

const c = (name: string, type: string, zone: string, verdict: Verdict, rcode: Case["rcode"], why: string, more: Partial<Case> = {}): Case => ({ name, type, zone, verdict, rcode, why, ...more });
const bogus = (name: string, zone: string, ede: number, why: string): Case => ({ name, type: "A", zone, verdict: "bogus", rcode: "NOERROR", ede, why });

export const CASES: Case[] = [
  c("www.secure.com.", "A", "secure.com.", "secure", "NOERROR", "a positive answer signed by the ZSK"),
  c("secure.com.", "MX", "secure.com.", "secure", "NOERROR", "MX at the apex"),
  c("www.secure.com.", "MX", "secure.com.", "secure", "NOERROR", "NODATA: the NSEC at www without MX", { nodata: true }),
  c("nope.secure.com.", "A", "secure.com.", "secure", "NXDOMAIN", "NXDOMAIN: NSECs covering the name and the wildcard"),
  c("x.wild.secure.com.", "A", "secure.com.", "secure", "NOERROR", "a wildcard answer: RRSIG labels 3, an NSEC proving x.wild does not exist"),
  c("a.b.secure.com.", "A", "secure.com.", "secure", "NOERROR", "an empty non-terminal: NODATA, not NXDOMAIN", { nodata: true }),
  c("www.nsec3.com.", "A", "nsec3.com.", "secure", "NOERROR", "a positive answer in an NSEC3 zone"),
  c("nope.nsec3.com.", "A", "nsec3.com.", "secure", "NXDOMAIN", "NXDOMAIN: closest encloser, next closer and wildcard NSEC3s"),
  c("www.nsec3.com.", "MX", "nsec3.com.", "secure", "NOERROR", "NODATA: the NSEC3 matching www", { nodata: true }),
  c("x.wild.nsec3.com.", "A", "nsec3.com.", "secure", "NOERROR", "a wildcard answer: the NSEC3 covering the next closer name"),
  c("a.b.nsec3.com.", "A", "nsec3.com.", "secure", "NOERROR", "an empty non-terminal: NODATA by the ENT's NSEC3", { nodata: true }),
  c("www.optout.com.", "A", "optout.com.", "secure", "NOERROR", "a positive answer in the opt-out zone"),
  c("nope.optout.com.", "A", "optout.com.", "insecure", "NXDOMAIN", "NXDOMAIN whose next closer name an opt-out NSEC3 covers: an unsigned delegation could be there", { delv: "secure" }),
  c("insecure.optout.com.", "DS", "optout.com.", "secure", "NOERROR", "no DS at the unsigned cut, proven by closest encloser + opt-out NSEC3 (RFC 5155 8.6)", { nodata: true }),
  c("www.insecure.optout.com.", "A", "insecure.optout.com.", "insecure", "NOERROR", "below the opt-out span's unsigned delegation"),
  c("insecure.com.", "DS", "com.", "secure", "NOERROR", "no DS at the unsigned cut: com.'s NSEC (NS, no DS)", { nodata: true }),
  c("www.insecure.com.", "A", "insecure.com.", "insecure", "NOERROR", "below a delegation proven to have no DS"),
  bogus("www.badsig.com.", "badsig.com.", EDE.dnssecBogus, "the RRSIG over www A does not verify"),
  c("badsig.com.", "SOA", "badsig.com.", "secure", "NOERROR", "the same zone's untouched RRsets stay secure"),
  bogus("www.expired.com.", "expired.com.", EDE.signatureExpired, "the signatures, the DNSKEY RRset's among them, expired"),
  bogus("www.nosig.com.", "nosig.com.", EDE.rrsigsMissing, "a signed zone's RRset without RRSIG"),
  bogus("www.nokey.com.", "nokey.com.", EDE.dnskeyMissing, "a DS in the parent, no DNSKEY in the zone"),
  bogus("www.dsmismatch.com.", "dsmismatch.com.", EDE.dnskeyMissing, "no DNSKEY matches the parent's DS"),
  c("www.unsupported.com.", "A", "unsupported.com.", "insecure", "NOERROR", "Ed448, which Bun lacks: insecure, not bogus (Unbound and delv have it)", { unbound: "secure", delv: "secure" }),
  c("www.privatealg.com.", "A", "privatealg.com.", "insecure", "NOERROR", "the DS names algorithm 253 only"),
  c("www.iterations.com.", "A", "iterations.com.", "secure", "NOERROR", "a positive answer needs no NSEC3: secure whatever the iterations"),
  c("nope.iterations.com.", "A", "iterations.com.", "insecure", "NXDOMAIN", "NXDOMAIN by NSEC3s of 200 iterations: insecure (RFC 9276 3.2; or bogus with EDE 27)"),
  c("www.rsa.com.", "A", "rsa.com.", "secure", "NOERROR", "RSASHA256"),
  c("www.ed25519.com.", "A", "ed25519.com.", "secure", "NOERROR", "ED25519"),
];
