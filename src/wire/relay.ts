// The header of an answer bunbound relays (from an upstream, or from the cache that kept one): it is our answer,
// not the upstream's. QR and RA set (we offer recursion), AA clear (RFC 1035 4.1.1: only for data we are
// authoritative for), AD clear (nothing here validated it, RFC 4035 3.2.3), TC and the rcode as received, RD and
// CD as the client sent them (RFC 4035 3.2.2), opcode QUERY.
import { Flag } from "./constants";

/** Byte 2 of a relayed answer, before the client's RD is put in. */
export function relayedByte2(resp2: number): number {
  return (Flag.QR >> 8) | (resp2 & (Flag.TC >> 8));
}

/** Byte 3 of a relayed answer: RA, the client's CD, the upstream's rcode. */
export function relayedByte3(resp3: number, clientFlags: number): number {
  return Flag.RA | (clientFlags & Flag.CD) | (resp3 & 0x0f);
}
