// Test-side DNS tools: build queries with dns-packet (an independent encoder), send them over UDP or TCP
// to loopback, decode answers.
import * as packet from "dns-packet";
import { frame } from "../../src/wire/framing";

export type Packet = packet.Packet;

export function makeQuery(name: string, type = "A", opts: { id?: number; edns?: number; dnssec?: boolean; rd?: boolean } = {}): Uint8Array {
  const p: packet.Packet = {
    type: "query",
    id: opts.id ?? Math.floor(Math.random() * 65536),
    flags: opts.rd === false ? 0 : packet.RECURSION_DESIRED,
    questions: [{ name, type: type as packet.RecordType, class: "IN" }],
  };
  if (opts.edns !== undefined) {
    p.additionals = [{ type: "OPT", name: ".", udpPayloadSize: opts.edns, flags: opts.dnssec ? packet.DNSSEC_OK : 0, options: [] } as unknown as packet.Answer];
  }
  return new Uint8Array(packet.encode(p));
}

/** A decoded message, loosely typed for assertions (dns-packet's own union types get in the way there). */
export interface Rec {
  name: string;
  type: string;
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
  [k: string]: unknown;
}
export interface Decoded {
  id: number;
  type: string;
  rcode: string;
  flag_tc: boolean;
  flag_aa: boolean;
  questions: Array<{ name: string; type: string }>;
  answers: Rec[];
  authorities: Rec[];
  additionals: Rec[];
}

export function decode(bytes: Uint8Array): Decoded {
  return packet.decode(Buffer.from(bytes)) as unknown as Decoded;
}

/**
 * One UDP exchange from a fresh socket (a new source port; from `source` when given, e.g. 127.0.0.2 to look like
 * another client); resolves to the first datagram back, or null after timeoutMs.
 */
export async function udpAsk(port: number, msg: Uint8Array, timeoutMs = 3000, host = "127.0.0.1", source?: string): Promise<Uint8Array | null> {
  let settle!: (v: Uint8Array | null) => void;
  const result = new Promise<Uint8Array | null>((r) => (settle = r));
  const sock = await Bun.udpSocket({
    hostname: source ?? (host.includes(":") ? "::1" : "127.0.0.1"),
    binaryType: "uint8array",
    socket: { data: (_s, data) => settle(data.slice()), error: () => settle(null) },
  });
  const timer = setTimeout(() => settle(null), timeoutMs);
  sock.send(msg, port, host);
  const out = await result;
  clearTimeout(timer);
  sock.close();
  return out;
}

/** Frames a message for TCP. */
export { frame };

/** A TCP (or, with `tls`, DoT) client connection that collects complete framed messages as they arrive. */
export class TcpClient {
  private buf = new Uint8Array(0);
  readonly messages: Uint8Array[] = [];
  closed = false;
  /** performance.now() when the connection closed. */
  closedAt = 0;
  private waiters: Array<() => void> = [];
  private constructor(private sock: import("bun").Socket<undefined>) {}

  /** Connects; with `tls` (certificate not checked) resolves once the handshake is done, throwing if it failed. */
  static async open(port: number, host = "127.0.0.1", opts: { tls?: boolean } = {}): Promise<TcpClient> {
    let client!: TcpClient;
    let handshake!: (ok: boolean) => void;
    const done = new Promise<boolean>((r) => (handshake = r));
    const sock = await Bun.connect({
      hostname: host,
      port,
      allowHalfOpen: true,
      ...(opts.tls && { tls: { rejectUnauthorized: false } }),
      socket: {
        binaryType: "uint8array",
        ...(opts.tls && { handshake: (_s: unknown, ok: boolean) => handshake(ok) }),
        data: (_s, chunk: Uint8Array) => client.onData(chunk),
        close: () => client.onClose(),
        error: () => client.onClose(),
      },
    });
    client = new TcpClient(sock as never);
    if (opts.tls && !(await done)) throw new Error("TLS handshake failed");
    return client;
  }

  /** Writes one message, framed. */
  ask(msg: Uint8Array): void {
    this.sock.write(frame(msg));
  }

  write(bytes: Uint8Array): number {
    return this.sock.write(bytes);
  }

  private onData(chunk: Uint8Array): void {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    let off = 0;
    while (merged.length - off >= 2) {
      const len = (merged[off]! << 8) | merged[off + 1]!;
      if (merged.length - off < 2 + len) break;
      this.messages.push(merged.slice(off + 2, off + 2 + len));
      off += 2 + len;
    }
    this.buf = merged.slice(off);
    this.wake();
  }

  private onClose(): void {
    if (!this.closed) this.closedAt = performance.now();
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `n` messages arrived or the connection closed (or timeoutMs passed). */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.messages.length < n && !this.closed && Date.now() < until) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, until - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await this.waitFor(Number.MAX_SAFE_INTEGER, timeoutMs);
    return this.closed;
  }

  /** Sends FIN: nothing more to ask, answers still welcome (RFC 7766 6.1). */
  shutdownWrite(): void {
    this.sock.shutdown();
  }

  close(): void {
    this.sock.end();
  }
}

export async function tcpAsk(port: number, msg: Uint8Array, host = "127.0.0.1"): Promise<Uint8Array | null> {
  const c = await TcpClient.open(port, host);
  c.write(frame(msg));
  await c.waitFor(1);
  c.close();
  return c.messages[0] ?? null;
}

/** Deterministic "upstream data" for a name: what the stand-in upstream answers and the tests expect. */
export function addrFor(name: string): string {
  let h = 0x811c9dc5;
  for (const c of name.toLowerCase().replace(/\.$/, "")) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  h >>>= 0;
  return `10.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
/** dns-packet ignores `rcode` when encoding: the rcode goes into the low bits of `flags`. */
export function rcodeBits(rcode: string | undefined): number {
  return rcode ? RCODES[rcode]! : 0;
}
