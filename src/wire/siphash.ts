// SipHash-2-4 (Aumasson & Bernstein), the MAC of RFC 9018 server cookies. JS has no cheap 64-bit integers
// (BigInt allocates), so each 64-bit word is a pair of uint32 halves held in module state: no allocation per hash.

/** A 16-byte SipHash key as four little-endian uint32 words: k0 low, k0 high, k1 low, k1 high. */
export type SipKey = Uint32Array;

export function sipKey(bytes: Uint8Array, into: SipKey = new Uint32Array(4)): SipKey {
  if (bytes.length !== 16) throw new RangeError("a SipHash key is 16 bytes");
  for (let i = 0; i < 4; i++) into[i] = le32(bytes, i * 4);
  return into;
}

function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

// v0..v3, each as (low, high) uint32.
let v0l = 0, v0h = 0, v1l = 0, v1h = 0, v2l = 0, v2h = 0, v3l = 0, v3h = 0;

function round(): void {
  let l: number, h: number;
  // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
  l = v0l + v1l;
  v0h = (v0h + v1h + (l > 0xffffffff ? 1 : 0)) >>> 0;
  v0l = l >>> 0;
  h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
  l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
  v1l = (l ^ v0l) >>> 0;
  v1h = (h ^ v0h) >>> 0;
  l = v0l;
  v0l = v0h;
  v0h = l;
  // v2 += v3; v3 = rotl(v3, 16) ^ v2
  l = v2l + v3l;
  v2h = (v2h + v3h + (l > 0xffffffff ? 1 : 0)) >>> 0;
  v2l = l >>> 0;
  h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
  l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
  v3l = (l ^ v2l) >>> 0;
  v3h = (h ^ v2h) >>> 0;
  // v0 += v3; v3 = rotl(v3, 21) ^ v0
  l = v0l + v3l;
  v0h = (v0h + v3h + (l > 0xffffffff ? 1 : 0)) >>> 0;
  v0l = l >>> 0;
  h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
  l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
  v3l = (l ^ v0l) >>> 0;
  v3h = (h ^ v0h) >>> 0;
  // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
  l = v2l + v1l;
  v2h = (v2h + v1h + (l > 0xffffffff ? 1 : 0)) >>> 0;
  v2l = l >>> 0;
  h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
  l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
  v1l = (l ^ v2l) >>> 0;
  v1h = (h ^ v2h) >>> 0;
  l = v2l;
  v2l = v2h;
  v2h = l;
}

/** Absorbs the 64-bit message word (ml, mh) with two compression rounds. */
function absorb(ml: number, mh: number): void {
  v3l = (v3l ^ ml) >>> 0;
  v3h = (v3h ^ mh) >>> 0;
  round();
  round();
  v0l = (v0l ^ ml) >>> 0;
  v0h = (v0h ^ mh) >>> 0;
}

/** SipHash-2-4 of msg[off, off + len) under `key`; the 8-byte tag goes to out[outOff, outOff + 8), little-endian. */
export function siphash24(key: SipKey, msg: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  const k0l = key[0]!, k0h = key[1]!, k1l = key[2]!, k1h = key[3]!;
  v0l = (k0l ^ 0x70736575) >>> 0;
  v0h = (k0h ^ 0x736f6d65) >>> 0;
  v1l = (k1l ^ 0x6e646f6d) >>> 0;
  v1h = (k1h ^ 0x646f7261) >>> 0;
  v2l = (k0l ^ 0x6e657261) >>> 0;
  v2h = (k0h ^ 0x6c796765) >>> 0;
  v3l = (k1l ^ 0x79746573) >>> 0;
  v3h = (k1h ^ 0x74656462) >>> 0;
  const whole = off + (len & ~7);
  let i = off;
  for (; i < whole; i += 8) absorb(le32(msg, i), le32(msg, i + 4));
  // The last word: the 0..7 remaining bytes, and the length's low byte in the top byte.
  let ml = 0;
  let mh = (len & 0xff) << 24;
  for (let k = 0; i < off + len; i++, k++) {
    if (k < 4) ml |= msg[i]! << (8 * k);
    else mh |= msg[i]! << (8 * (k - 4));
  }
  absorb(ml >>> 0, mh >>> 0);
  v2l = (v2l ^ 0xff) >>> 0;
  round();
  round();
  round();
  round();
  const l = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  const h = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  out[outOff] = l & 0xff;
  out[outOff + 1] = (l >>> 8) & 0xff;
  out[outOff + 2] = (l >>> 16) & 0xff;
  out[outOff + 3] = l >>> 24;
  out[outOff + 4] = h & 0xff;
  out[outOff + 5] = (h >>> 8) & 0xff;
  out[outOff + 6] = (h >>> 16) & 0xff;
  out[outOff + 7] = h >>> 24;
}
