// Root hints (RFC 1035 master file: the NS records of the root and their addresses): the built-in copy of IANA's
// named.root, or the file `root_hints` names. They are only where priming starts (RFC 8109): the root NS set then
// comes from the root servers themselves.
import { parseMasterFile, parseMasterText } from "../zones/master";
import { keyOf } from "../wire/records";
import { QType } from "../wire/constants";

/** IANA's root hints (https://www.internic.net/domain/named.root). */
export const IANA_ROOT_HINTS = `
.                        3600000      NS    A.ROOT-SERVERS.NET.
A.ROOT-SERVERS.NET.      3600000      A     198.41.0.4
A.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:ba3e::2:30
.                        3600000      NS    B.ROOT-SERVERS.NET.
B.ROOT-SERVERS.NET.      3600000      A     170.247.170.2
B.ROOT-SERVERS.NET.      3600000      AAAA  2801:1b8:10::b
.                        3600000      NS    C.ROOT-SERVERS.NET.
C.ROOT-SERVERS.NET.      3600000      A     192.33.4.12
C.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2::c
.                        3600000      NS    D.ROOT-SERVERS.NET.
D.ROOT-SERVERS.NET.      3600000      A     199.7.91.13
D.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2d::d
.                        3600000      NS    E.ROOT-SERVERS.NET.
E.ROOT-SERVERS.NET.      3600000      A     192.203.230.10
E.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:a8::e
.                        3600000      NS    F.ROOT-SERVERS.NET.
F.ROOT-SERVERS.NET.      3600000      A     192.5.5.241
F.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:2f::f
.                        3600000      NS    G.ROOT-SERVERS.NET.
G.ROOT-SERVERS.NET.      3600000      A     192.112.36.4
G.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:12::d0d
.                        3600000      NS    H.ROOT-SERVERS.NET.
H.ROOT-SERVERS.NET.      3600000      A     198.97.190.53
H.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:1::53
.                        3600000      NS    I.ROOT-SERVERS.NET.
I.ROOT-SERVERS.NET.      3600000      A     192.36.148.17
I.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fe::53
.                        3600000      NS    J.ROOT-SERVERS.NET.
J.ROOT-SERVERS.NET.      3600000      A     192.58.128.30
J.ROOT-SERVERS.NET.      3600000      AAAA  2001:503:c27::2:30
.                        3600000      NS    K.ROOT-SERVERS.NET.
K.ROOT-SERVERS.NET.      3600000      A     193.0.14.129
K.ROOT-SERVERS.NET.      3600000      AAAA  2001:7fd::1
.                        3600000      NS    L.ROOT-SERVERS.NET.
L.ROOT-SERVERS.NET.      3600000      A     199.7.83.42
L.ROOT-SERVERS.NET.      3600000      AAAA  2001:500:9f::42
.                        3600000      NS    M.ROOT-SERVERS.NET.
M.ROOT-SERVERS.NET.      3600000      A     202.12.27.33
M.ROOT-SERVERS.NET.      3600000      AAAA  2001:dc3::35
`;

export interface RootHints {
  /** NS names of the root (records.ts keys). */
  ns: string[];
  /** Server name key → its addresses. */
  addresses: Map<string, string[]>;
  /** Where they came from: the file, or "built-in". */
  source: string;
}

const ROOT = new Uint8Array([0]);

/** The hints of `file`, or the built-in ones. Throws (ZoneFileError, or Error) when the file is unusable. */
export function loadRootHints(file?: string): RootHints {
  const records = file ? parseMasterFile(file, ROOT) : parseMasterText(IANA_ROOT_HINTS, "built-in root hints", ROOT);
  const ns: string[] = [];
  const addresses = new Map<string, string[]>();
  for (const r of records) {
    if (r.type === QType.NS && r.owner.length === 1 && r.owner[0] === 0) ns.push(keyOf(lowerWire(r.rdata)));
  }
  for (const r of records) {
    if (r.type !== QType.A && r.type !== QType.AAAA) continue;
    const key = keyOf(r.owner);
    if (!ns.includes(key)) continue;
    const list = addresses.get(key) ?? [];
    list.push(r.type === QType.A ? [...r.rdata].join(".") : ipv6(r.rdata));
    addresses.set(key, list);
  }
  const source = file ?? "built-in";
  if (ns.length === 0) throw new Error(`${source}: no NS records for the root (.)`);
  if (addresses.size === 0) throw new Error(`${source}: no A or AAAA records for the root's NS names`);
  return { ns, addresses, source };
}

function lowerWire(name: Uint8Array): Uint8Array {
  const out = name.slice();
  for (let i = 0; i < out.length; ) {
    const len = out[i]!;
    for (let j = i + 1; j <= i + len; j++) if (out[j]! >= 0x41 && out[j]! <= 0x5a) out[j]! |= 0x20;
    i += len + 1;
    if (len === 0) break;
  }
  return out;
}

/** RFC 5952 text of 16 address bytes (Node's URL parser compresses for us). */
export function ipv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}
