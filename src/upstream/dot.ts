// DNS over TLS to an upstream (RFC 7858): TLS connections verified against the trust store, the certificate
// naming the upstream's auth name, or its address when it has none (RFC 8310 strict profile: no fallback, ever, to
// an unverified or cleartext exchange). Queries are pipelined with 2-byte framing (RFC 7766 6.2.1.1), each with an
// ID unique among those in flight on its connection, and answers are taken out of order by ID and question
// (RFC 5452 checks, as over TCP).
import type { Socket } from "bun";
import { answersQuestion, wellFormed } from "../wire/message";
import { frame, FrameReader } from "../wire/framing";
import { Channel, describe, serverNameOf, type LinkOptions, type Request } from "./channel";
import { Link } from "./link";
import { socketFailure, type Upstream } from "./transport";

/** Queries in flight on one connection; beyond it another connection is opened, up to MAX_CONNECTIONS. */
const MAX_IN_FLIGHT = 100;
const MAX_CONNECTIONS = 4;
/** ALPN "dot" (IANA TLS ALPN registry), in the wire form Bun takes. */
const ALPN = Buffer.from("\x03dot");
/** Bytes a connection buffers: one whole message of the largest size and its prefix. */
const MAX_BUFFERED = 65_537;

export function dotLink(up: Upstream, opts: LinkOptions): Link {
  return new Link(up, opts, (link) => new DotChannel(link), MAX_CONNECTIONS);
}

function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0]!;
}

class DotChannel extends Channel {
  private sock: Socket<undefined> | null = null;
  private readonly byId = new Map<number, Request>();
  private readonly frames = new FrameReader(1024, MAX_BUFFERED);
  private readonly unsent: Uint8Array[] = [];

  get capacity(): number {
    return MAX_IN_FLIGHT;
  }

  open(): void {
    const up = this.link.upstream;
    const attach = (s: Socket<undefined>) => {
      if (this.closed) s.terminate();
      else this.sock = s;
    };
    Bun.connect({
      hostname: up.host,
      port: up.port,
      tls: { ca: this.link.trust.ca as string[], serverName: serverNameOf(up), ALPNProtocols: ALPN, rejectUnauthorized: true },
      socket: {
        open: attach,
        handshake: (s, ok, err) => {
          attach(s);
          // Bun never calls checkServerIdentity: verification (chain and name) is read off the handshake.
          if (!ok || !s.authorized) return this.broke("tls", err ? describe(err) : "certificate not verified");
          this.opened();
        },
        data: (_s, chunk) => this.receive(chunk),
        drain: () => this.flush(),
        close: () => this.broke("closed", "closed by the upstream"),
        error: (_s, err) => this.broke(socketFailure(err), describe(err)),
        connectError: (_s, err) => this.broke(socketFailure(err), describe(err)),
      },
    }).then(attach, (err) => this.broke(socketFailure(err), describe(err)));
  }

  protected transmit(req: Request): void {
    let id = req.ask.id;
    while (this.byId.has(id)) id = randomId();
    req.id = id;
    this.byId.set(id, req);
    const framed = frame(req.ask.msg); // our own copy: the forwarder reuses its message for the next attempt
    framed[2] = id >> 8;
    framed[3] = id & 0xff;
    this.write(framed);
  }

  protected release(req: Request): void {
    if (this.byId.get(req.id) === req) this.byId.delete(req.id);
  }

  protected shut(graceful: boolean): void {
    const s = this.sock;
    this.sock = null;
    if (graceful) s?.end();
    else s?.terminate();
  }

  private write(bytes: Uint8Array): void {
    if (this.unsent.length === 0 && this.sock) {
      const n = this.sock.write(bytes);
      if (n >= bytes.length) return;
      bytes = bytes.subarray(Math.max(0, n));
    }
    this.unsent.push(bytes);
  }

  private flush(): void {
    while (this.unsent.length > 0 && this.sock) {
      const bytes = this.unsent[0]!;
      const n = this.sock.write(bytes);
      if (n < bytes.length) {
        this.unsent[0] = bytes.subarray(Math.max(0, n));
        return;
      }
      this.unsent.shift();
    }
  }

  /** Splits the stream into messages, however the chunks fall, and hands each to the request with its ID. */
  private receive(chunk: Uint8Array): void {
    for (let rest = chunk; rest.length > 0 && !this.closed; ) {
      const part = rest.subarray(0, MAX_BUFFERED - this.frames.buffered);
      if (part.length === 0) return this.broke("malformed", "a message longer than its length prefix allows");
      rest = rest.subarray(part.length);
      this.frames.push(part);
      for (let m = this.frames.next(); m && !this.closed; m = this.frames.next()) this.deliver(m);
    }
  }

  private deliver(m: Uint8Array): void {
    this.heard();
    const req = m.length >= 2 ? this.byId.get((m[0]! << 8) | m[1]!) : undefined;
    if (!req) return; // the answer of an exchange that has ended (its deadline, its client): nobody waits for it
    // The upstream itself answered our ID with something else: its mistake, as over TCP.
    if (!answersQuestion(m, m.length, req.id, req.ask.question, req.ask.exactCase)) return req.ending.fail("mismatch");
    if (!wellFormed(m, m.length)) return req.ending.fail("malformed");
    req.ending.answer(m.slice());
  }
}
