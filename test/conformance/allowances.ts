// The allowed differences between a reference server and bunbound, each with the one-line reason it is allowed.
// Each one is narrow: it rewrites both normalised answers so that only the difference it names disappears, and
// only when the condition that makes it legitimate holds. Suites pick the ones that apply to them.
import { rrText, SECTIONS, type Allowance, type Normalised, type RR } from "./compare";

const rrsets = (rrs: RR[]) => {
  const m = new Map<string, string[]>();
  for (const rr of rrs) {
    const k = rr.type === "RRSIG" ? `RRSIG/${rr.fields[0]}` : rr.type;
    m.set(k, [...(m.get(k) ?? []), rrText(rr)].sort());
  }
  return m;
};

/** Each RR of the reference that the other side has too, but for a TTL at most `seconds` apart, takes that TTL. */
function ttlWithin(seconds: number): Allowance["apply"] {
  return (ref, sub) => {
    for (const s of SECTIONS) {
      const key = (rr: RR) => `${rr.owner} ${rr.class} ${rr.type} ${rr.fields.join(" ")}`;
      const pool = new Map<string, number[]>();
      for (const [i, rr] of sub[s].entries()) pool.set(key(rr), [...(pool.get(key(rr)) ?? []), i]);
      for (const rr of ref[s]) {
        const i = pool.get(key(rr))?.shift();
        if (i !== undefined && Math.abs(sub[s][i]!.ttl - rr.ttl) <= seconds) rr.ttl = sub[s][i]!.ttl;
      }
    }
  };
}

export const ALLOW = {
  raOnAuthoritative: {
    name: "ra-on-authoritative",
    reason: "bunbound also offers recursion, so RA=1 on every answer (RFC 1035 4.1.1: RA says recursion is available); NSD is authoritative-only and sets RA=0",
    apply(ref, sub) {
      if (!ref.flags.includes("ra") && sub.flags.includes("ra")) sub.flags = sub.flags.filter((f) => f !== "ra");
    },
  },
  minimalAny: {
    name: "minimal-any",
    reason: "RFC 8482 4.1: ANY may be answered with one RRset of the name (and its RRSIGs); the two may pick different ones, but what both return must agree",
    apply(ref, sub, ctx) {
      if (ctx.qtype !== "ANY" || ref.rcode !== "NOERROR" || sub.rcode !== "NOERROR" || !ref.answer.length || !sub.answer.length) return;
      const owner = ctx.qname.toLowerCase().replace(/\.?$/, ".");
      if (![...ref.answer, ...sub.answer].every((rr) => rr.owner === owner)) return;
      const a = rrsets(ref.answer);
      const b = rrsets(sub.answer);
      for (const [k, v] of b) if (a.has(k) && a.get(k)!.join("\n") !== v.join("\n")) return; // the same RRset must be the same
      // Every RRSIG must cover a type present in the same answer.
      for (const m of [a, b]) for (const k of m.keys()) if (k.startsWith("RRSIG/") && !m.has(k.slice(6))) return;
      ref.answer = sub.answer;
    },
  },
  optionalAdditional: {
    name: "optional-additional",
    reason: "addresses of in-zone NS/MX/SRV targets in the additional section of an answer are optional (RFC 1034 4.3.2 step 6, RFC 2181 9); NSD adds them to NS answers even with minimal-responses, bunbound answers minimally (referral glue is not covered by this)",
    apply(ref, sub) {
      if (!ref.flags.includes("aa") || !ref.answer.length) return;
      const targets = new Set(ref.answer.flatMap((rr) => (rr.type === "NS" ? [rr.fields[0]!] : rr.type === "MX" ? [rr.fields[1]!] : rr.type === "SRV" ? [rr.fields[3]!] : []).map((n) => n.toLowerCase())));
      const optional = (rr: RR) => targets.has(rr.owner) && (rr.type === "A" || rr.type === "AAAA" || (rr.type === "RRSIG" && (rr.fields[0] === "A" || rr.fields[0] === "AAAA")));
      if (sub.additional.some(optional)) return;
      ref.additional = ref.additional.filter((rr) => !optional(rr));
    },
  },
  udpCap1232: {
    name: "udp-cap-1232",
    reason: "bunbound sends at most 1232 bytes over UDP whatever EDNS size the client offers (DNS flag day 2020, RFC 9715), so a larger answer is TC=1 and comes over TCP; Unbound's max-udp-size default (4096) honours the client's 4096",
    apply(ref, sub, ctx) {
      const empty = !sub.answer.length && !sub.authority.length && !sub.additional.length;
      if (ctx.transport !== "udp" || (ctx.ednsSize ?? 512) <= 1232 || ref.size <= 1232 || ref.flags.includes("tc") || !sub.flags.includes("tc") || !empty) return;
      sub.flags = sub.flags.filter((f) => f !== "tc");
      for (const s of SECTIONS) sub[s] = structuredClone(ref[s]);
    },
  },
  edeFromReference: {
    name: "ede-from-reference",
    reason: "Extended DNS Errors are optional (RFC 8914 3); NSD adds EDE 21 (Not Supported) to REFUSED, Unbound adds EDE codes to SERVFAIL/REFUSED",
    apply(ref, sub) {
      if (ref.edns && sub.edns && ref.edns.options.some((o) => o.startsWith("EDE")) && !sub.edns.options.length) ref.edns.options = ref.edns.options.filter((o) => !o.startsWith("EDE"));
    },
  },
  rdataNameCase: {
    name: "rdata-name-case",
    reason: "names inside RDATA compare case-insensitively (RFC 4343); NSD keeps the file's case or compresses into the 0x20 question, bunbound stores them lowercased (RFC 4034 6.2)",
    apply(ref, sub) {
      for (const n of [ref, sub]) for (const s of SECTIONS) for (const rr of n[s]) for (const i of rr.names) rr.fields[i] = rr.fields[i]!.toLowerCase();
    },
  },
  signatures: {
    name: "own-signatures",
    reason: "each server signs with its own key and clock: RRSIG expiration, inception, key tag and signature differ (RFC 4034 3.1.5-3.1.8); type covered, algorithm, labels, original TTL, signer and TTL must agree",
    apply(ref, sub) {
      for (const n of [ref, sub]) for (const s of SECTIONS) for (const rr of n[s]) if (rr.type === "RRSIG") for (const i of [4, 5, 6, 8]) rr.fields[i] = "*";
    },
  },
  keys: {
    name: "own-keys",
    reason: "each server has its own key: DNSKEY public key bytes differ; flags, protocol and algorithm must agree",
    apply(ref, sub) {
      for (const n of [ref, sub]) for (const s of SECTIONS) for (const rr of n[s]) if (rr.type === "DNSKEY") rr.fields[3] = "*";
    },
  },
  ttlAging: {
    name: "ttl-aging",
    reason: "both forwarders cache and count TTLs down (RFC 1035 3.2.1) from the moment each fetched the data: TTLs, and only TTLs, may differ by up to 5 s",
    apply: ttlWithin(5),
  },
  ttlFetchedApart: {
    name: "ttl-fetched-apart",
    reason: "two full resolvers fetch an RRset when their own resolution first needs it (Unbound primes the root NS at its first question, bunbound at its start; a timeout delays one of them) and count it down from then (RFC 1035 3.2.1): TTLs, and only TTLs, may differ by up to 60 s, longer than a whole run; a clamp or a negative TTL that differs still shows",
    apply: ttlWithin(60),
  },
  referralDsScrubbed: {
    name: "referral-ds-scrubbed",
    reason: "Unbound rebuilds a referral it relays (NOERROR, no answer, NS in authority) from its cache without the cut's DS and RRSIG(DS); bunbound relays the upstream's authority section as received, which RFC 4035 3.1.4 has carry the DS",
    apply(ref, sub) {
      const referral = (n: Normalised) => n.rcode === "NOERROR" && !n.answer.length && n.authority.some((rr) => rr.type === "NS") && !n.authority.some((rr) => rr.type === "SOA");
      if (!referral(ref) || !referral(sub)) return;
      const ds = (rr: RR) => rr.type === "DS" || (rr.type === "RRSIG" && rr.fields[0] === "DS");
      if (!ref.authority.some(ds)) sub.authority = sub.authority.filter((rr) => !ds(rr));
    },
  },
} satisfies Record<string, Allowance>;
