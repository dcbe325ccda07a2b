// What makes an outgoing query hard to forge (RFC 5452): a random ID and, optionally, the qname's letters in a
// random case (draft-vixie-dnsext-dns0x20) that the answer must echo.

const ids = new Uint16Array(256);
let idPos = ids.length;

/** A cryptographically random 16-bit ID (RFC 5452 4.3), drawn from a refilled batch. */
export function randomId(): number {
  if (idPos === ids.length) {
    crypto.getRandomValues(ids);
    idPos = 0;
  }
  return ids[idPos++]!;
}

/** Flips the case of each letter of the wire name at buf[from..to) at random. */
export function randomizeCase(buf: Uint8Array, from: number, to: number): void {
  const bits = new Uint8Array(to - from);
  crypto.getRandomValues(bits);
  for (let i = from; i < to; i++) {
    const c = buf[i]! | 0x20;
    if (c >= 0x61 && c <= 0x7a) buf[i] = bits[i - from]! & 1 ? c & ~0x20 : c;
  }
}
