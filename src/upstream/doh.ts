// DNS over HTTPS to an upstream (RFC 8484): one HTTP/2 session per upstream, verified like DoT (trust store,
// certificate naming the URL's host), a POST stream per query. The query goes with ID 0 (RFC 8484 4.1: equal
// questions make equal requests for HTTP caches), so the answer is the stream's, checked for our question. A stream
// whose exchange ends first (deadline, cancel) is reset with CANCEL, so the server stops working on it.
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { formatHostPort } from "../net/address";
import { log } from "../metrics/log";
import { answersQuestion, wellFormed } from "../wire/message";
import { Channel, describe, serverNameOf, type LinkOptions, type Request } from "./channel";
import { Link } from "./link";
import type { ExchangeFailure, Upstream } from "./transport";

/** Streams at once on the session (fewer when the server's SETTINGS say so); beyond it requests wait. */
const MAX_STREAMS = 100;
/** The largest DNS message: a longer body is not an answer. */
const MAX_BODY = 65_535;
const MEDIA_TYPE = "application/dns-message";

export function dohLink(up: Upstream, opts: LinkOptions): Link {
  return new Link(up, opts, (link) => new DohChannel(link), 1);
}

/** The URL's host[:port] as written: the `:authority` of every request, whatever address it is reached at. */
function authorityOf(up: Upstream): string {
  return new URL(up.label.split("#")[0]!).host;
}

/**
 * A session error's kind: a socket errno is the network's (refused: nothing listens), an HTTP/2 protocol error the
 * session's; anything else before the session is up is the TLS handshake's (certificate or protocol).
 */
function sessionFailure(err: unknown, ready: boolean): ExchangeFailure {
  const code = String((err as { code?: string } | null)?.code ?? "");
  if (code === "ECONNREFUSED") return "refused";
  if (/^E[A-Z0-9]+$/.test(code) || code.startsWith("ERR_HTTP2")) return "network";
  return ready ? "network" : "tls";
}

interface Pending {
  stream: ClientHttp2Stream;
  /** The server ended the stream: nothing to reset. */
  complete: boolean;
}

class DohChannel extends Channel {
  private session: ClientHttp2Session | null = null;
  private readonly streams = new Map<Request, Pending>();
  private streamCap = MAX_STREAMS;
  private readonly authority = authorityOf(this.link.upstream);
  private httpWarned = false;

  get capacity(): number {
    return this.streamCap;
  }

  open(): void {
    const up = this.link.upstream;
    const s = http2.connect(`https://${formatHostPort(up)}`, { ca: this.link.trust.ca as string[], servername: serverNameOf(up), rejectUnauthorized: true });
    this.session = s;
    s.on("connect", () => this.opened());
    s.on("remoteSettings", (settings) => {
      this.streamCap = Math.max(1, Math.min(MAX_STREAMS, settings.maxConcurrentStreams ?? MAX_STREAMS));
      this.link.pump();
    });
    // The server stops taking streams: the ones it has finish, new ones go to a new session.
    s.on("goaway", () => this.drain());
    s.on("error", (err) => this.broke(sessionFailure(err, this.ready), describe(err)));
    s.on("close", () => this.broke("closed", "closed by the upstream"));
  }

  protected transmit(req: Request): void {
    const body = req.ask.msg.slice();
    body[0] = 0;
    body[1] = 0;
    req.id = 0;
    let stream: ClientHttp2Stream;
    try {
      stream = this.session!.request({
        ":method": "POST",
        ":scheme": "https",
        ":authority": this.authority,
        ":path": this.link.upstream.path ?? "/dns-query",
        "content-type": MEDIA_TYPE,
        accept: MEDIA_TYPE,
        "content-length": body.length,
      });
    } catch {
      return req.ending.fail("closed"); // the session went away (GOAWAY) between the choice and the request
    }
    const p: Pending = { stream, complete: false };
    this.streams.set(req, p);
    const chunks: Buffer[] = [];
    let size = 0;
    let responded = false;
    let length = -1;
    stream.on("response", (headers) => {
      this.heard();
      const status = Number(headers[":status"]);
      const type = String(headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (status !== 200 || type !== MEDIA_TYPE) return this.refused(req, status, type);
      responded = true;
      if (headers["content-length"] !== undefined) length = Number(headers["content-length"]);
    });
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) return req.ending.fail("malformed");
      chunks.push(chunk);
    });
    stream.on("end", () => {
      p.complete = true;
      // Bun ends a stream the same way when its session dies: no response, or less than announced, is a cut.
      if (!responded || (length >= 0 && size !== length)) return req.ending.fail("closed");
      const m = new Uint8Array(Buffer.concat(chunks, size));
      if (!answersQuestion(m, m.length, 0, req.ask.question, req.ask.exactCase)) return req.ending.fail("mismatch");
      if (!wellFormed(m, m.length)) return req.ending.fail("malformed");
      req.ending.answer(m);
    });
    stream.on("error", () => req.ending.fail("closed")); // reset by the server, or its session ended
    stream.on("close", () => req.ending.fail("closed"));
    stream.end(body);
  }

  /** Not a DNS answer: the URL is wrong, or the server is unwell. Logged once per session, failed every time. */
  private refused(req: Request, status: number, type: string): void {
    if (!this.httpWarned) {
      this.httpWarned = true;
      log.warn("upstream answered DoH with an HTTP error", { upstream: this.link.upstream.label, status, content_type: type });
    }
    req.ending.fail("http");
  }

  protected release(req: Request): void {
    const p = this.streams.get(req);
    if (!p) return;
    this.streams.delete(req);
    if (p.complete || p.stream.closed || p.stream.destroyed) return;
    try {
      p.stream.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      // The session is already gone: so is the stream.
    }
  }

  protected shut(graceful: boolean): void {
    const s = this.session;
    this.session = null;
    if (!s) return;
    if (graceful) s.close();
    else s.destroy();
  }
}
