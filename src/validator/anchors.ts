// Trust anchors (RFC 4033 2, RFC 7958): the DS records of the root KSKs, built in (KSK-2017 and KSK-2024, as IANA
// publishes them in root-anchors.xml), or the DS and DNSKEY records of files in master-file form, which replace
// them (a private root, a test bed). A DNSKEY anchor is kept as the DS (SHA-256) it makes, so every zone's keys
// are trusted the same way: through a DS set.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseMasterText, type ZoneRecord } from "../zones/master";
import { keyTag } from "../zones/dnssec";
import { parseDs, type Ds } from "./digests";
import { lowerWire } from "./canonical";

const DS = 43;
const DNSKEY = 48;
const ROOT = new Uint8Array([0]);

/** The root's DS records (https://data.iana.org/root-anchors/root-anchors.xml). */
export const IANA_ROOT_ANCHORS = `
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`;

export interface Anchor {
  /** The zone, lowercased wire. */
  zone: Uint8Array;
  ds: Ds[];
}

/** The anchors of `files`, or the built-in root ones. Throws (ZoneFileError, Error) naming the file and the problem. */
export function loadAnchors(files: string[] = []): Anchor[] {
  const records = files.length === 0 ? parse(IANA_ROOT_ANCHORS, "built-in trust anchors") : files.flatMap((f) => parse(read(f), f));
  const byZone = new Map<string, Anchor>();
  for (const r of records) {
    if (r.type !== DS && r.type !== DNSKEY) continue;
    const zone = lowerWire(r.owner);
    const id = Buffer.from(zone).toString("latin1");
    const a = byZone.get(id) ?? { zone, ds: [] };
    const ds = r.type === DS ? parseDs(r.rdata) : dsOfKey(zone, r.rdata);
    if (!ds) throw new Error(`${r.where}: not a usable ${r.type === DS ? "DS" : "DNSKEY"} record`);
    a.ds.push(ds);
    byZone.set(id, a);
  }
  if (byZone.size === 0) throw new Error(`${files.join(", ")}: no DS or DNSKEY records`);
  return [...byZone.values()];
}

function read(file: string): string {
  try {
    return readFileSync(file).toString("latin1");
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Anchor files (Unbound's, dns-root-data's) leave the TTL out: it means nothing for an anchor. */
function parse(text: string, where: string): ZoneRecord[] {
  return parseMasterText(text, where, ROOT, [], { origin: ROOT, ttl: 0, lastTtl: undefined, owner: undefined, depth: 0 });
}

/** The SHA-256 DS (RFC 4509) of a DNSKEY at `zone`. */
export function dsOfKey(zone: Uint8Array, rdata: Uint8Array): Ds | null {
  if (rdata.length < 5) return null;
  const digest = createHash("sha256").update(zone).update(rdata).digest();
  return { keyTag: keyTag(rdata), algorithm: rdata[3]!, digestType: 2, digest: new Uint8Array(digest) };
}
