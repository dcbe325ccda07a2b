// Stand-in encrypted upstreams on loopback: a DoT server (Bun.listen with TLS) and a DoH server (node:http2), each
// with a certificate from selfSigned() written to a CA file the client is given as tls_ca. They answer A queries
// with addrFor(name), and count what a test needs to see from the server's side: connections, queries per
// connection, application bytes, streams reset by the client. Both can be told to stay silent or misbehave.
import * as packet from "dns-packet";
import http2 from "node:http2";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import { selfSigned, type SelfSigned } from "../../src/net/certificate";
import { addrFor, frame } from "./dns";
import { Later } from "./wait";

export interface TestCertificate extends SelfSigned {
  /** The certificate as a PEM file: what `upstream.tls_ca` names. */
  caFile: string;
}

/** A self-signed certificate for `names` and `addresses`, and the CA file that trusts it. */
export async function testCertificate(o: { names?: string[]; addresses?: string[] } = {}): Promise<TestCertificate> {
  const c = await selfSigned({ names: o.names ?? ["dns.test"], addresses: o.addresses ?? ["127.0.0.1"], days: 1 });
  const dir = mkdtempSync(join(tmpdir(), "bunbound-ca-"));
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, c.certPem);
  return { ...c, caFile };
}

/** The answer to a query: the same ID and question, A addrFor(name) for A questions. */
export function answerTo(query: Uint8Array): Uint8Array | null {
  let q: packet.Packet;
  try {
    q = packet.decode(Buffer.from(query));
  } catch {
    return null;
  }
  const question = q.questions?.[0];
  if (!question) return null;
  const answers: packet.Answer[] = question.type === "A" ? [{ name: question.name, type: "A", class: "IN", ttl: 300, data: addrFor(question.name) }] : [];
  return new Uint8Array(packet.encode({ type: "response", id: q.id, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, questions: [question], answers } as packet.Packet));
}

const nameOf = (query: Uint8Array): string => packet.decode(Buffer.from(query)).questions?.[0]?.name ?? "";

export interface DotStandInOptions {
  cert: SelfSigned;
  /** Never answer (the TLS handshake still completes). */
  silent?: boolean;
  /** Delay before answering, per name: random delays send answers out of order. */
  delayMs?: (name: string) => number;
  /** Close the first connection, unanswered, once this many queries have arrived on it. */
  closeFirstAfter?: number;
  /** Listen on this port (0: the OS picks). */
  port?: number;
}

interface DotConn {
  n: number;
  buf: Uint8Array;
  queries: number;
}

export class DotStandIn {
  /** Connections accepted, and open now. */
  accepted = 0;
  open = 0;
  /** Bytes of application data received (after the handshake): 0 proves nothing was sent. */
  bytes = 0;
  readonly received: Array<{ name: string; id: number; conn: number }> = [];
  private readonly listener: TCPSocketListener<DotConn>;
  private readonly later = new Later();
  private readonly sockets = new Set<Socket<DotConn>>();

  constructor(private readonly opts: DotStandInOptions) {
    this.listener = Bun.listen<DotConn>({
      hostname: "127.0.0.1",
      port: opts.port ?? 0,
      tls: { cert: opts.cert.certPem, key: opts.cert.keyPem },
      socket: {
        binaryType: "uint8array",
        open: (s) => {
          s.data = { n: ++this.accepted, buf: new Uint8Array(0), queries: 0 };
          this.open++;
          this.sockets.add(s);
        },
        close: (s) => {
          this.open--;
          this.sockets.delete(s);
        },
        data: (s, chunk: Uint8Array) => this.onData(s, chunk),
        error: () => {},
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  private onData(s: Socket<DotConn>, chunk: Uint8Array): void {
    this.bytes += chunk.length;
    const c = s.data;
    const buf = new Uint8Array(c.buf.length + chunk.length);
    buf.set(c.buf);
    buf.set(chunk, c.buf.length);
    let off = 0;
    while (buf.length - off >= 2) {
      const len = (buf[off]! << 8) | buf[off + 1]!;
      if (buf.length - off < 2 + len) break;
      const query = buf.slice(off + 2, off + 2 + len);
      off += 2 + len;
      c.queries++;
      this.received.push({ name: nameOf(query), id: (query[0]! << 8) | query[1]!, conn: c.n });
      const cut = c.n === 1 && this.opts.closeFirstAfter !== undefined;
      if (cut && c.queries >= this.opts.closeFirstAfter!) {
        s.end();
        return;
      }
      if (this.opts.silent || cut) continue;
      const reply = answerTo(query);
      if (reply) this.later.run(this.opts.delayMs?.(nameOf(query)) ?? 0, () => s.write(frame(reply)));
    }
    c.buf = buf.slice(off);
  }

  /** IDs of the queries that arrived on connection `conn`. */
  idsOn(conn: number): number[] {
    return this.received.filter((r) => r.conn === conn).map((r) => r.id);
  }

  close(): void {
    this.later.clear();
    for (const s of this.sockets) s.terminate();
    this.listener.stop(true);
  }
}

export interface DohStandInOptions {
  cert: SelfSigned;
  /** Never answer: streams stay open until the client resets them. */
  silent?: boolean;
  status?: number;
  contentType?: string;
  /** Answer with this many bytes of body instead of the DNS answer. */
  bodyBytes?: number;
  /** Send GOAWAY on the first session after answering this many streams on it. */
  goawayAfter?: number;
  /** Destroy the first session, its streams unanswered, once this many have arrived on it. */
  destroyFirstAfter?: number;
  delayMs?: (name: string) => number;
}

export interface DohRequest {
  method: string;
  path: string;
  authority: string;
  contentType: string;
  accept: string;
  id: number;
  name: string;
  session: number;
}

export class DohStandIn {
  /** Sessions accepted, and open now. */
  sessions = 0;
  openSessions = 0;
  /** Streams open now, and the ones the client reset with CANCEL. */
  openStreams = 0;
  cancelled = 0;
  readonly requests: DohRequest[] = [];
  private readonly server: http2.Http2SecureServer;
  private readonly live = new Set<http2.ServerHttp2Session>();
  private readonly later = new Later();

  private constructor(private readonly opts: DohStandInOptions) {
    this.server = http2.createSecureServer({ cert: opts.cert.certPem, key: opts.cert.keyPem });
    const numbers = new WeakMap<http2.ServerHttp2Session, { n: number; streams: number }>();
    this.server.on("session", (s) => {
      numbers.set(s, { n: ++this.sessions, streams: 0 });
      this.openSessions++;
      this.live.add(s);
      s.on("close", () => {
        this.openSessions--;
        this.live.delete(s);
      });
      s.on("error", () => {});
    });
    this.server.on("stream", (stream: http2.ServerHttp2Stream, headers) => {
      const info = numbers.get(stream.session as http2.ServerHttp2Session)!;
      info.streams++;
      this.openStreams++;
      stream.on("close", () => {
        this.openStreams--;
        if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) this.cancelled++;
      });
      stream.on("error", () => {});
      const chunks: Buffer[] = [];
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", () => {
        const query = new Uint8Array(Buffer.concat(chunks));
        const name = query.length >= 12 ? nameOf(query) : "";
        this.requests.push({
          method: String(headers[":method"]),
          path: String(headers[":path"]),
          authority: String(headers[":authority"]),
          contentType: String(headers["content-type"]),
          accept: String(headers.accept),
          id: query.length >= 2 ? (query[0]! << 8) | query[1]! : -1,
          name,
          session: info.n,
        });
        const cut = info.n === 1 && opts.destroyFirstAfter !== undefined;
        if (cut && info.streams >= opts.destroyFirstAfter!) return stream.session!.destroy();
        if (opts.silent || cut) return;
        const goaway = info.n === 1 && opts.goawayAfter !== undefined && info.streams >= opts.goawayAfter;
        const reply = opts.bodyBytes !== undefined ? new Uint8Array(opts.bodyBytes) : answerTo(query);
        this.later.run(opts.delayMs?.(name) ?? 0, () => {
          if (stream.closed || stream.destroyed) return;
          stream.respond({ ":status": opts.status ?? 200, "content-type": opts.contentType ?? "application/dns-message" });
          stream.end(reply ? Buffer.from(reply) : undefined);
          if (goaway) stream.session!.goaway(0);
        });
      });
    });
  }

  static async start(opts: DohStandInOptions): Promise<DohStandIn> {
    const s = new DohStandIn(opts);
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", () => resolve()));
    return s;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  close(): void {
    this.later.clear();
    for (const s of this.live) s.destroy();
    this.server.close();
  }
}

/** A UDP socket on `port` that counts what arrives: a cleartext query to an encrypted upstream's port would land here. */
export async function udpWitness(port: number): Promise<{ received: () => number; close: () => void }> {
  let n = 0;
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port, socket: { data: () => void n++ } });
  return { received: () => n, close: () => s.close() };
}
