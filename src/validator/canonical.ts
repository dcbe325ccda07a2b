// The bytes an RRSIG signs (RFC 4034 3.1.8.1): its own fields, then each RR of the RRset in canonical form
// (RFC 4034 6.2) and canonical order (6.3), with the RRSIG's original TTL, at the owner the RRSIG names.
import { lower } from "../wire/name";
import { LAYOUT as RDATA_LAYOUT, NAME, STRING } from "../wire/records";
import { labelCount } from "../zones/dnssec";

/**
 * Where the names to lowercase are in the RDATA of each type that has them: the RDATA layouts of wire/records.ts,
 * which are RFC 4034 6.2 item 3 as RFC 6840 5.1 corrects it, but for NSEC, whose next name keeps its case.
 * (HINFO holds no name; A6 is historic, RFC 6563, and its name sits behind a prefix of variable length.)
 */
const LAYOUT = new Map([...RDATA_LAYOUT].filter(([type]) => type !== 47));

/** Lowercases the uncompressed name at b[off] in place; the offset after it, or -1 when it does not fit. */
function lowerName(b: Uint8Array, off: number): number {
  for (;;) {
    if (off >= b.length) return -1;
    const len = b[off]!;
    if (len === 0) return off + 1;
    if (len > 63 || off + 1 + len > b.length) return -1;
    for (let k = off + 1; k <= off + len; k++) b[k] = lower(b[k]!);
    off += len + 1;
  }
}

/**
 * The RDATA (uncompressed) with the names of its type lowercased: a copy when it holds names, else the same
 * array. RDATA too short for its layout is lowercased as far as it goes; its signature then fails anyway.
 */
export function canonicalRdata(type: number, rdata: Uint8Array): Uint8Array {
  const layout = LAYOUT.get(type);
  if (!layout) return rdata;
  const out = rdata.slice();
  let off = 0;
  for (const step of layout) {
    if (step === NAME) off = lowerName(out, off);
    else if (step === STRING) off = off < out.length ? off + 1 + out[off]! : -1;
    else off += step;
    if (off < 0 || off > out.length) break;
  }
  return out;
}

/** A wire name lowercased (a copy). */
export function lowerWire(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) out[i] = lower(name[i]!);
  return out;
}

/**
 * The owner an RRSIG with `labels` labels signed (RFC 4035 5.3.2): the owner lowercased, or for a wildcard
 * expansion (`labels` below the owner's count) "*." and the owner's rightmost `labels` labels. Null when
 * `labels` is above the owner's count, which no signer makes (RFC 4035 5.3.1).
 */
export function signedOwner(owner: Uint8Array, labels: number): Uint8Array | null {
  const count = labelCount(owner);
  if (labels > count) return null;
  const name = lowerWire(owner);
  if (labels === count) return name;
  let off = 0;
  let total = 0;
  for (let o = 0; name[o] !== 0; o += name[o]! + 1) total++;
  for (let skip = total - labels; skip > 0; skip--) off += name[off]! + 1;
  const out = new Uint8Array(2 + name.length - off);
  out[0] = 1;
  out[1] = 0x2a;
  out.set(name.subarray(off), 2);
  return out;
}

/** RFC 4034 6.3: RDATA compared as left-justified unsigned octet sequences, a missing octet sorting first. */
export function compareRdata(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The RRSIG RDATA fields before the signature, with the signer's name lowercased (RFC 4034 3.1.8.1). */
export interface SignedFields {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: Uint8Array;
}

/**
 * The signed data: RRSIG_RDATA | RR(1) | RR(2) | …, each RR as owner | type | class | original TTL |
 * RDLENGTH | RDATA, in canonical order with duplicates removed (RFC 4034 6.3 allows none in an RRset).
 */
export function signedData(sig: SignedFields, owner: Uint8Array, type: number, rrclass: number, rdatas: Uint8Array[]): Uint8Array {
  const signer = lowerWire(sig.signer);
  const sorted = rdatas.map((r) => canonicalRdata(type, r)).sort(compareRdata);
  const rrs = sorted.filter((r, i) => i === 0 || compareRdata(r, sorted[i - 1]!) !== 0);
  let size = 18 + signer.length;
  for (const r of rrs) size += owner.length + 10 + r.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, sig.typeCovered);
  out[2] = sig.algorithm;
  out[3] = sig.labels;
  view.setUint32(4, sig.originalTtl >>> 0);
  view.setUint32(8, sig.expiration >>> 0);
  view.setUint32(12, sig.inception >>> 0);
  view.setUint16(16, sig.keyTag);
  out.set(signer, 18);
  let at = 18 + signer.length;
  for (const r of rrs) {
    out.set(owner, at);
    at += owner.length;
    view.setUint16(at, type);
    view.setUint16(at + 2, rrclass);
    view.setUint32(at + 4, sig.originalTtl >>> 0);
    view.setUint16(at + 8, r.length);
    out.set(r, at + 10);
    at += 10 + r.length;
  }
  return out;
}
