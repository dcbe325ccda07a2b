// Zone data and the authoritative answer from it.
import { below, canon, child, dotted, parentOf, parseRecords, type RR, type Soa } from "./records";

/** One zone's data: its apex is the owner of its one SOA. */
export class Zone {
  readonly origin: string;
  readonly soa: RR;
  private readonly nodes = new Map<string, Map<string, RR[]>>();
  /** Every owner name and every name between it and the apex: the names that exist, empty non-terminals too. */
  private readonly names = new Set<string>();

  constructor(records: RR[]) {
    const soas = records.filter((r) => r.type === "SOA");
    if (soas.length !== 1) throw new Error(`a zone needs exactly one SOA, found ${soas.length}`);
    this.soa = soas[0]!;
    this.origin = this.soa.name;
    for (const rr of records) {
      if (!below(rr.name, this.origin)) throw new Error(`${dotted(rr.name)} ${rr.type} is outside the zone ${dotted(this.origin)}`);
      let node = this.nodes.get(rr.name);
      if (!node) this.nodes.set(rr.name, (node = new Map()));
      const set = node.get(rr.type);
      if (set) set.push(rr);
      else node.set(rr.type, [rr]);
      for (let n = rr.name; !this.names.has(n); n = parentOf(n)) {
        this.names.add(n);
        if (n === this.origin) break;
      }
    }
  }

  static parse(text: string, origin = "."): Zone {
    return new Zone(parseRecords(text, origin));
  }

  node(name: string): Map<string, RR[]> | undefined {
    return this.nodes.get(name);
  }

  exists(name: string): boolean {
    return this.names.has(name);
  }

  rrset(name: string, type: string): RR[] | undefined {
    return this.nodes.get(name)?.get(type);
  }
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, BADVERS: 16 } as const;

/** An answer before it is put on the wire. */
export interface Reply {
  rcode: number;
  aa: boolean;
  tc?: boolean;
  answers: RR[];
  authorities: RR[];
  additionals: RR[];
}

export const empty = (rcode: number, aa = false): Reply => ({ rcode, aa, answers: [], authorities: [], additionals: [] });

type Found =
  | { kind: "delegation"; cut: string }
  | { kind: "dname"; rr: RR }
  | { kind: "node"; rrsets: Map<string, RR[]>; wildcard: boolean }
  | { kind: "empty" }
  | { kind: "nxdomain" };

/** The closest enclosing zone served; a DS query at an apex goes to the parent zone when it is served too (RFC 4035 3.1.4.1). */
function zoneFor(zones: readonly Zone[], name: string, qtype: string): Zone | undefined {
  let best: Zone | undefined;
  for (const z of zones) if (below(name, z.origin) && (!best || z.origin.length > best.origin.length)) best = z;
  if (best && qtype === "DS" && name === best.origin && name !== "") {
    const parent = zoneFor(zones.filter((z) => z !== best), name, "");
    if (parent) return parent;
  }
  return best;
}

/** Walks from the apex down to `name`: a zone cut or a DNAME on the way wins over what lies below it. */
function find(zone: Zone, name: string, qtype: string): Found {
  const rel = zone.origin === "" ? name : name.slice(0, name.length - zone.origin.length - 1);
  const labels = name === zone.origin || rel === "" ? [] : rel.split(".");
  let cur = zone.origin;
  for (let i = labels.length; ; i--) {
    if (!zone.exists(cur)) break;
    const node = zone.node(cur);
    // The DS of a delegation lives on the parent side of the cut.
    if (node?.has("NS") && cur !== zone.origin && !(cur === name && qtype === "DS")) return { kind: "delegation", cut: cur };
    if (node?.has("DNAME") && cur !== name) return { kind: "dname", rr: node.get("DNAME")![0]! };
    if (cur === name) return node ? { kind: "node", rrsets: node, wildcard: false } : { kind: "empty" };
    cur = child(labels[i - 1]!, cur);
  }
  // cur does not exist; its parent is the closest encloser (RFC 4592).
  const wild = zone.node(child("*", parentOf(cur)));
  return wild ? { kind: "node", rrsets: wild, wildcard: true } : { kind: "nxdomain" };
}

const rdataKey = (rr: RR): string => (Array.isArray(rr.data) ? rr.data.map((b) => b.toString("hex")).join(",") : JSON.stringify(rr.data));
/** The name an NS, MX or SRV record points at. */
function targetOf(rr: RR): string | undefined {
  const d = rr.data;
  if (typeof d === "string") return d;
  if ("exchange" in d) return d.exchange;
  if ("target" in d) return d.target;
  return undefined;
}

/** A and AAAA records of the zone (glue below cuts included, as NSD does) for the names that are in it. */
function addressesFor(zone: Zone, targets: Array<string | undefined>): RR[] {
  const out: RR[] = [];
  for (const t of new Set(targets)) {
    if (t === undefined || !below(t, zone.origin)) continue;
    out.push(...(zone.rrset(t, "A") ?? []), ...(zone.rrset(t, "AAAA") ?? []));
  }
  return out;
}

/**
 * The authoritative answer of a server holding `zones`, as NSD gives it: REFUSED outside them, a referral at or
 * below a cut, else AA data, following CNAMEs and DNAMEs while they stay in the zone (each name once).
 */
export function lookup(zones: readonly Zone[], qname: string, qtype: string): Reply {
  const start = canon(qname);
  const zone = zoneFor(zones, start, qtype);
  if (!zone) return empty(RCODE.REFUSED);
  const reply = empty(RCODE.NOERROR, true);
  const seen = new Set<string>();
  const answer = (rrs: RR[]) => {
    for (const rr of rrs) {
      const key = `${rr.name} ${rr.type} ${rdataKey(rr)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      reply.answers.push(rr);
    }
  };
  const soa = zone.soa;
  const negative = () => void reply.authorities.push({ ...soa, ttl: Math.min(soa.ttl, (soa.data as Soa).minimum) });
  const visited = new Set<string>();
  for (let name = start; below(name, zone.origin) && !visited.has(name); ) {
    visited.add(name);
    const found = find(zone, name, qtype);
    if (found.kind === "delegation") {
      if (name !== start) break; // a chain that enters a child zone: the resolver follows it there
      const ns = zone.rrset(found.cut, "NS")!;
      return { rcode: RCODE.NOERROR, aa: false, answers: [], authorities: [...ns], additionals: addressesFor(zone, ns.map(targetOf)) };
    }
    if (found.kind === "dname") {
      const owner = found.rr.name;
      const target = child(name.slice(0, name.length - owner.length - (owner === "" ? 0 : 1)), found.rr.data as string);
      answer([found.rr]);
      if (target.length + 2 > 255) {
        reply.rcode = RCODE.YXDOMAIN;
        break;
      }
      answer([{ name, type: "CNAME", ttl: found.rr.ttl, data: target }]);
      name = target;
      continue;
    }
    if (found.kind === "nxdomain") {
      reply.rcode = RCODE.NXDOMAIN;
      negative();
      break;
    }
    if (found.kind === "empty") {
      negative();
      break;
    }
    const own = (rrs: RR[]) => (found.wildcard ? rrs.map((rr) => ({ ...rr, name })) : rrs);
    if (qtype === "ANY") {
      for (const rrs of found.rrsets.values()) answer(own(rrs));
      break;
    }
    const exact = found.rrsets.get(qtype);
    if (exact) {
      answer(own(exact));
      if (qtype === "NS" || qtype === "MX" || qtype === "SRV") reply.additionals.push(...addressesFor(zone, exact.map(targetOf)));
      break;
    }
    const cname = found.rrsets.get("CNAME");
    if (cname && qtype !== "CNAME") {
      answer(own(cname));
      name = cname[0]!.data as string;
      continue;
    }
    negative();
    break;
  }
  return reply;
}
