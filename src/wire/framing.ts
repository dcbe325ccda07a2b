// DNS over a stream (RFC 1035 4.2.2, RFC 7766 8): every message is preceded by its length in two bytes. One
// reader for the server's connections and the upstream exchanges alike.

/** `msg` with its 2-byte length prefix, in a new array. */
export function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(msg.length + 2);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/** Splits a byte stream into its length-prefixed messages, buffering at most `max` bytes. */
export class FrameReader {
  private buf: Uint8Array;
  private len = 0;
  private pos = 0;

  constructor(
    initial = 514,
    private readonly max = 65_537,
  ) {
    this.buf = new Uint8Array(initial);
  }

  /** Adds received bytes; false (nothing added) when that would buffer more than `max`. */
  push(chunk: Uint8Array): boolean {
    if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.len);
      this.len -= this.pos;
      this.pos = 0;
    }
    const need = this.len + chunk.length;
    if (need > this.max) return false;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.max, Math.max(this.buf.length * 2, need)));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len = need;
    return true;
  }

  /** Bytes received and not yet taken. */
  get buffered(): number {
    return this.len - this.pos;
  }

  /** The length of the next message once its prefix is in, else -1. */
  nextLength(): number {
    return this.len - this.pos < 2 ? -1 : (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
  }

  /** A whole message is buffered. */
  hasWhole(): boolean {
    const n = this.nextLength();
    return n >= 0 && this.len - this.pos >= 2 + n;
  }

  /** Takes the next whole message (a view, valid until the next push), or null until more bytes arrive. */
  next(): Uint8Array | null {
    if (!this.hasWhole()) return null;
    const n = this.nextLength();
    const m = this.buf.subarray(this.pos + 2, this.pos + 2 + n);
    this.pos += 2 + n;
    return m;
  }
}
