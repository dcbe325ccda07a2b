// DNS over HTTPS (RFC 8484): HTTP/2 and HTTP/1.1 (ALPN h2, http/1.1) on node:http2's secure server, GET with
// ?dns= (base64url) and POST application/dns-message at doh.path. Each DNS message goes through the same request
// entry as UDP and TCP, in a slot of the TCP ring; the answer's smallest TTL is its HTTP freshness lifetime (RFC
// 8484 5.1). Bad requests get a 4xx with a reason and never reach the resolver. node:http2 rather than Bun.serve:
// it caps streams per connection (doh.max_streams) and swaps certificates without dropping connections.
import http2, { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { Socket } from "node:net";
import { Outcome } from "../pipeline/handler";
import type { ServerCounters } from "../metrics/counters";
import { Transport } from "../metrics/querystats";
import { log } from "../metrics/log";
import { Rcode } from "../wire/constants";
import { QueryInfo } from "../wire/query";
import { errorResponse } from "../wire/response";
import { scanResponse } from "../wire/scan";
import type { DohConfig, TcpConfig, TimeoutsConfig, TlsConfig } from "../config/types";
import type { Ring } from "./ring";
import type { Requests, Sink } from "./request";
import type { TlsCertificates } from "./tls";

/** The settings DoH serving reads, from the running configuration. */
export interface HttpsSettings {
  readonly doh: DohConfig;
  readonly tls: Pick<TlsConfig, "min_version">;
  /** max_connections: open connections at most (each listener its own). */
  readonly tcp: Pick<TcpConfig, "max_connections">;
  /** tcp_idle_ms: a connection with no request for this long is closed (one that never finishes its handshake too). */
  readonly timeouts: Pick<TimeoutsConfig, "tcp_idle_ms">;
}

const MAX_MESSAGE = 65_535;
/** How long an HTTP/1.1 connection ended after a refused body may still take to go. */
const LINGER_MS = 1000;
const DNS_MESSAGE = "application/dns-message";
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export class HttpsServer implements Sink {
  readonly transport = Transport.HTTPS;
  private server: Http2SecureServer | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly q = new QueryInfo();
  private draining = false;
  private idle: (() => void) | null = null;
  /** Requests of this listener waiting for their answer. */
  inflight = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly ring: Ring,
    private readonly requests: Requests,
    private readonly counters: ServerCounters,
    private readonly settings: () => HttpsSettings,
    private readonly tls: TlsCertificates,
  ) {}

  get boundPort(): number {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : this.port;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<void> {
    const s = this.settings();
    const m = this.tls.material;
    const server = http2.createSecureServer({
      key: m.key,
      cert: m.cert,
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      minVersion: s.tls.min_version === "1.3" ? "TLSv1.3" : "TLSv1.2",
      settings: { maxConcurrentStreams: s.doh.max_streams },
    });
    server.on("connection", (socket: Socket) => this.onConnection(socket));
    server.on("request", (req: Http2ServerRequest, res: Http2ServerResponse) => this.onRequest(req, res));
    server.on("sessionError", (err) => log.debug("doh session error", { err }));
    server.on("tlsClientError", (err) => log.debug("doh handshake failed", { err }));
    this.tls.onChange((next) => server.setSecureContext({ key: next.key, cert: next.cert }));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  /** A new TCP connection: refused past the cap, and closed when it stays idle (a stalled handshake included). */
  private onConnection(socket: Socket): void {
    const s = this.settings();
    if (this.draining || this.sockets.size >= s.tcp.max_connections) {
      this.counters.httpsRejected++;
      socket.destroy();
      return;
    }
    this.counters.httpsConnections++;
    this.sockets.add(socket);
    socket.setTimeout(s.timeouts.tcp_idle_ms, () => socket.destroy());
    socket.once("close", () => this.sockets.delete(socket));
  }

  private onRequest(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const path = this.settings().doh.path;
    const url = new URL(req.url ?? "/", "https://doh.invalid");
    if (url.pathname !== path) return this.reject(res, 404, `not found: DNS over HTTPS is at ${path}`);
    if (req.method === "GET") {
      const dns = url.searchParams.get("dns");
      if (dns === null) return this.reject(res, 400, "GET needs the query in the dns parameter (RFC 8484 4.1)");
      if (!BASE64URL.test(dns)) return this.reject(res, 400, "the dns parameter is not base64url (RFC 4648 5, without padding)");
      const bytes = Buffer.from(dns, "base64url");
      if (bytes.length > MAX_MESSAGE) return this.reject(res, 414, "the query is longer than a DNS message can be");
      return this.answer(req, res, bytes);
    }
    if (req.method === "POST") {
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== DNS_MESSAGE) return this.reject(res, 415, `POST needs content-type ${DNS_MESSAGE}`);
      const declared = Number(req.headers["content-length"] ?? -1);
      if (declared > MAX_MESSAGE) return this.reject(res, 413, `a DNS message is at most ${MAX_MESSAGE} bytes`, req);
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_MESSAGE) this.reject(res, 413, `a DNS message is at most ${MAX_MESSAGE} bytes`, req);
        else chunks.push(c);
      });
      req.on("end", () => {
        if (size <= MAX_MESSAGE && !res.headersSent) this.answer(req, res, Buffer.concat(chunks));
      });
      return;
    }
    res.setHeader("allow", "GET, POST");
    this.reject(res, 405, "DNS over HTTPS takes GET and POST");
  }

  /** Hands a DNS message to the request entry in a slot of its own; answers now, or when the miss settles. */
  private answer(req: Http2ServerRequest, res: Http2ServerResponse, msg: Uint8Array): void {
    if (this.draining) return this.reject(res, 503, "shutting down");
    if (msg.length < 12) return this.reject(res, 400, "the body is not a DNS message");
    this.counters.httpsQueries++;
    const h = this.ring.acquire();
    if (h < 0) {
      this.counters.ringExhausted++;
      return this.reject(res, 503, "busy");
    }
    const buf = this.ring.payload(h);
    buf.set(msg);
    let n = this.requests.receive(this, buf, msg.length, this.q, res, 0, req.socket?.remoteAddress ?? "");
    if (n === Outcome.TRANSFER) n = errorResponse(buf, this.q, Rcode.REFUSED); // zone transfers: over TCP only
    if (n === Outcome.PENDING) this.inflight++;
    else if (n > 0) this.respond(res, buf, n);
    else this.reject(res, 400, "not a DNS query");
    this.ring.release(h);
  }

  deliver(target: unknown, _port: number, h: number, n: number): void {
    const res = target as Http2ServerResponse;
    this.inflight--;
    if (h >= 0) {
      if (n > 0) this.respond(res, this.ring.payload(h), n);
      else this.reject(res, 503, "no answer");
      this.ring.release(h);
    } else this.reject(res, 503, "busy");
    if (this.draining && this.inflight === 0) this.idle?.();
  }

  /** 200 with the answer, fresh for its smallest TTL (RFC 8484 5.1). The bytes are copied: the slot goes back now. */
  private respond(res: Http2ServerResponse, buf: Uint8Array, n: number): void {
    if (res.closed || res.headersSent) return;
    const scan = scanResponse(buf, n);
    const ttl = scan.answers > 0 ? scan.minAnswerTtl : Math.max(0, scan.negativeTtl);
    res.writeHead(200, { "content-type": DNS_MESSAGE, "content-length": n, "cache-control": `max-age=${ttl}` });
    res.end(Buffer.from(buf.subarray(0, n)));
  }

  private reject(res: Http2ServerResponse, status: number, reason: string, req?: Http2ServerRequest): void {
    this.counters.httpsErrors++;
    if (!res.closed && !res.headersSent) {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...(req && !req.stream ? { connection: "close" } : {}) });
      res.end(`${reason}\n`);
    }
    // The body beyond the limit is not read: the stream is cancelled rather than drained. HTTP/1.1 has no stream to
    // cancel: the connection ends once the answer is out (FIN, so the client reads it), and is cut soon after.
    if (req?.stream) req.stream.close(http2.constants.NGHTTP2_CANCEL);
    else if (req) {
      const socket = req.socket;
      res.once("finish", () => {
        socket?.end();
        setTimeout(() => socket?.destroy(), LINGER_MS).unref();
      });
    }
  }

  /** Stop accepting; resolves when every waiting request is answered. */
  drain(): Promise<void> {
    this.draining = true;
    this.server?.close();
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /** Idempotent: closes the listener and every connection. */
  close(): void {
    this.draining = true;
    this.server?.close();
    this.server = null;
    for (const s of [...this.sockets]) s.destroy();
  }
}
