// The zone every conformance suite serves, and the questions asked about it. Each name exists to exercise one
// rule of RFC 1034 4.3.2 (as refined by RFC 2308, 4592, 6604, 8482); the question list says which.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ZONE = "conform.example";

/** Eight TXT records of 250 bytes at big: about 2.1 KB, more than any UDP answer may carry here. */
function bigTxt(): string {
  return Array.from({ length: 8 }, (_, i) => `big           TXT   "${String.fromCharCode(97 + i).repeat(250)}"\n`).join("");
}

/** SOA TTL 3600, MINIMUM 300: a negative answer's SOA carries 300 (RFC 2308 3), and so do NSEC records (RFC 9077). */
export const ZONE_TEXT = String.raw`$ORIGIN conform.example.
$TTL 3600
@             SOA   ns1 hostmaster 2024060101 7200 3600 1209600 300
@             NS    ns1
@             NS    ns2.conform.example.
@             MX    10 mail
@             MX    20 mx.elsewhere.example.
@             TXT   "v=spf1 -all"
@             CAA   0 issue "ca.example"
ns1           A     192.0.2.1
ns2           A     192.0.2.2
ns2           AAAA  2001:db8::2
mail          A     192.0.2.25
host1   600   A     192.0.2.10
host1   600   A     192.0.2.11
host1   600   A     192.0.2.12
host1         AAAA  2001:db8::10
host1         AAAA  2001:db8::11
MixedCase     A     192.0.2.70
txt           TXT   "caf<e-acute>"
txt           TXT   "a\065b"
txt           TXT   plain\032x
txt           TXT   "semi;colon" "quote\"d" "back\\slash"
_sip._tcp     SRV   10 5 5060 host1
opaque        TYPE65280 \# 4 0a0b0c0d
alias         CNAME host1
alias-nx      CNAME nowhere
alias-nodata  CNAME mail
alias-wild    CNAME foo.wild
alias-wcname  CNAME abc.wcname
alias-deleg   CNAME host.sub
alias-out     CNAME www.elsewhere.example.
loop1         CNAME loop2
loop2         CNAME loop1
self          CNAME self
chain1        CNAME chain2
chain2        CNAME chain3
chain3        CNAME host1
*.wild        A     192.0.2.50
*.wild        TXT   "wild"
*.wcname      CNAME host1
a.b.ent       A     192.0.2.60
sub           NS    ns.sub
sub           NS    ns.elsewhere.example.
ns.sub        A     192.0.2.53
ns.sub        AAAA  2001:db8::53
secure        NS    ns.secure
secure        DS    12345 13 2 2bb183af5f22588179a53b0a98631fad1a2921182bb183af5f22588179a53b0a
ns.secure     A     192.0.2.54
`.replace("<e-acute>", "\u00e9") + bigTxt(); // written as an escape here: Bun's transpiler keeps a literal é in String.raw as "\u00E9"

/** The delegated child `sub.conform.example`, served by NSD where a suite needs the delegation to work. */
export const CHILD = `sub.${ZONE}`;
export const CHILD_TEXT = String.raw`$ORIGIN sub.conform.example.
$TTL 3600
@             SOA   ns hostmaster 1 7200 3600 1209600 300
@             NS    ns
@             NS    ns.elsewhere.example.
ns            A     192.0.2.53
ns            AAAA  2001:db8::53
host          A     192.0.2.80
`;

/** The zone out-of-zone targets (alias-out, the second MX, a second NS) live in, for suites that resolve them. */
export const ELSEWHERE = "elsewhere.example";
export const ELSEWHERE_TEXT = `$ORIGIN elsewhere.example.
$TTL 3600
@             SOA   ns hostmaster 1 7200 3600 1209600 300
@             NS    ns
ns            A     192.0.2.100
www           A     192.0.2.101
mx            A     192.0.2.102
`;

/** The parent of both, so that a forwarder asking the DS of conform.example from the parent side gets an answer. */
export const PARENT = "example";
export const PARENT_TEXT = `$ORIGIN example.
$TTL 3600
@             SOA   ns.elsewhere hostmaster 1 7200 3600 1209600 300
@             NS    ns.elsewhere
conform       NS    ns1.conform
conform       NS    ns2.conform
ns1.conform   A     192.0.2.1
ns2.conform   A     192.0.2.2
elsewhere     NS    ns.elsewhere
ns.elsewhere  A     192.0.2.100
`;

export interface Question {
  name: string;
  type: string;
  qclass?: string;
  /** EDNS UDP payload size of the variants with EDNS (default 1232). */
  ednsSize?: number;
  /** What the question exercises (and what a correct answer is), printed with any difference. */
  why: string;
}

const q = (rel: string, type: string, why: string, qclass?: string, ednsSize?: number): Question => ({ name: rel === "@" ? ZONE : `${rel}.${ZONE}`, type, why, qclass, ednsSize });

/** Questions for an authoritative server (and, with RD, for a forwarder in front of one). */
export const QUESTIONS: Question[] = [
  q("@", "SOA", "apex SOA"),
  q("@", "NS", "apex NS (minimal responses: no glue needed in additional)"),
  q("@", "MX", "apex MX, one in-zone and one out-of-zone exchange"),
  q("@", "TXT", "apex TXT"),
  q("@", "CAA", "apex CAA (RFC 8659)"),
  q("@", "A", "NODATA at the apex"),
  q("ns1", "A", "a single A"),
  q("ns2", "AAAA", "a single AAAA"),
  q("host1", "A", "three A records with a TTL of their own"),
  q("host1", "AAAA", "two AAAA records"),
  q("host1", "MX", "NODATA: the name has A/AAAA only"),
  q("mixedcase", "A", "an owner written MixedCase in the file"),
  q("txt", "TXT", 'TXT with UTF-8 bytes ("café"), \\065, unquoted plain\\032x, quotes, semicolons, backslashes'),
  q("_sip._tcp", "SRV", "SRV"),
  q("big", "TXT", "a 2 KB RRset: over UDP TC=1 (512 without EDNS, 1232 with), whole over TCP"),
  q("big", "TXT", "a 2 KB RRset asked with EDNS 4096 (answers over UDP are capped at 1232: TC=1)", undefined, 4096),
  q("opaque", "TYPE65280", "an unknown type in RFC 3597 form"),
  q("alias", "A", "CNAME to an existing name: CNAME then the target's A"),
  q("alias", "CNAME", "the CNAME itself"),
  q("alias", "AAAA", "CNAME to an existing name, other type"),
  q("alias-nx", "A", "CNAME to a missing name: NXDOMAIN with the CNAME and the SOA (RFC 6604 2.1)"),
  q("alias-nodata", "AAAA", "CNAME to a name without the type: NOERROR, CNAME and SOA (NODATA)"),
  q("alias-wild", "A", "CNAME into wildcard data: the target is synthesised from *.wild"),
  q("alias-wild", "TXT", "CNAME into wildcard data, TXT"),
  q("alias-wcname", "A", "CNAME to a name matching the wildcard CNAME *.wcname, then host1"),
  q("alias-deleg", "A", "CNAME into a delegation of the same zone: CNAME, then the referral for sub"),
  q("alias-out", "A", "CNAME to a name outside the zone: only the CNAME"),
  q("loop1", "A", "a CNAME loop of two: each CNAME once"),
  q("self", "A", "a CNAME to itself: once"),
  q("chain1", "A", "a three-hop CNAME chain ending at host1's A"),
  q("chain1", "MX", "a three-hop CNAME chain ending in NODATA"),
  q("foo.wild", "A", "wildcard answer (RFC 4592)"),
  q("foo.wild", "TXT", "wildcard answer, TXT"),
  q("foo.wild", "MX", "wildcard NODATA"),
  q("deep.er.wild", "A", "wildcard with more than one label below the closest encloser"),
  q("*.wild", "A", "the wildcard name itself"),
  q("wild", "A", "the wildcard's parent: an empty non-terminal, NODATA"),
  q("x.wcname", "A", "wildcard CNAME (*.wcname CNAME host1): synthesised CNAME, then host1's A"),
  q("x.wcname", "AAAA", "wildcard CNAME, AAAA"),
  q("x.wcname", "CNAME", "wildcard CNAME asked for CNAME"),
  q("*.wcname", "A", "the wildcard CNAME's own name: the CNAME, then host1"),
  q("b.ent", "A", "an empty non-terminal (a.b.ent exists): NODATA, not NXDOMAIN"),
  q("ent", "A", "an empty non-terminal two levels up"),
  q("a.b.ent", "A", "the name below the empty non-terminals"),
  q("c.b.ent", "A", "NXDOMAIN below an empty non-terminal"),
  q("sub", "NS", "NS at a delegation: a referral"),
  q("host.sub", "A", "a name below a delegation: referral with glue"),
  q("ns.sub", "A", "the glue name itself: a referral, not the glue as an answer"),
  q("sub", "DS", "DS at an unsigned cut: answered by the parent, NODATA"),
  q("secure", "DS", "DS at a cut: the parent's DS, authoritative"),
  q("x.secure", "A", "below a cut with DS: referral"),
  q("nope", "A", "NXDOMAIN"),
  q("nope.host1", "A", "NXDOMAIN below an existing name"),
  q("nope", "ANY", "ANY for a missing name"),
  q("host1", "ANY", "ANY (RFC 8482 allows a minimal answer)"),
  q("@", "ANY", "ANY at the apex"),
  q("@", "DNSKEY", "DNSKEY at the apex (NODATA unsigned; the key signed)"),
  q("@", "DS", "DS at the apex of a zone whose parent is not served here: answered from the zone itself, NODATA (RFC 4035 3.1.4.1)"),
  q("host1", "DS", "DS at a name that is not a cut: NODATA"),
  q("host1", "NSEC", "NSEC asked for (NODATA unsigned; the NSEC RRset signed)"),
  q("host1", "RRSIG", "RRSIG asked for (NODATA unsigned; signed: the RRSIGs at the name)"),
  q("@", "SOA", "class CH for a name of an IN zone: not IN data", "CH"),
  q("host1", "A", "class CH for a name of an IN zone: not IN data", "CH"),
  q("host1", "A", "class ANY (255) for a name of an IN zone", "ANY"),
];

/** Writes the zone (the child, elsewhere.example and the parent example) into a fresh directory; returns the file paths. */
export function writeZones(prefix: string): { dir: string; zone: string; child: string; elsewhere: string; parent: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const zone = join(dir, `${ZONE}.zone`);
  const child = join(dir, `${CHILD}.zone`);
  const elsewhere = join(dir, `${ELSEWHERE}.zone`);
  writeFileSync(zone, ZONE_TEXT);
  writeFileSync(child, CHILD_TEXT);
  const parent = join(dir, `${PARENT}.zone`);
  writeFileSync(elsewhere, ELSEWHERE_TEXT);
  writeFileSync(parent, PARENT_TEXT);
  return { dir, zone, child, elsewhere, parent };
}
