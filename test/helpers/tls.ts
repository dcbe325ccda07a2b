// Test-side clients of the encrypted listeners: a DoT connection (Bun.connect with TLS, 2-byte framing), a DoH
// session (node:http2), a raw HTTP/2 client that ignores the server's stream limit, and the outside tools (openssl,
// kdig, dig, curl) run with a deadline. None of them verifies the certificate unless told to: the tests check the
// certificate themselves (pins, fingerprints).
import http2 from "node:http2";
import { connect as tlsConnect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TcpClient } from "./dns";
import { startBunbound, type Running } from "./proc";
import { parsePrometheus } from "./prometheus";

/** A tool's exit code and output; code -1 when it did not finish within the deadline. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a deadline (the tools here must never hang a test), stdin from `input` or /dev/null. */
export async function run(cmd: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const p = Bun.spawn(cmd, { stdin: opts.input === undefined ? "ignore" : new Blob([opts.input]), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 10_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code: p.signalCode ? -1 : code, stdout, stderr };
}

/** The tools of `names` that are not installed, with a console.warn naming them (the caller skips its tests). */
export function missing(names: string[], hint: string): string[] {
  const gone = names.filter((t) => !Bun.which(t));
  if (gone.length) console.warn(`skipping tests that need ${gone.join(", ")}: not installed (${hint})`);
  return gone;
}

/** "127.0.0.1:853" → 853. */
export const portOf = (addr: string): number => Number(addr.slice(addr.lastIndexOf(":") + 1));

/** A DoT client connection: the TCP client of helpers/dns over TLS (the certificate not checked). */
export const TlsClient = { open: (port: number, host = "127.0.0.1"): Promise<TcpClient> => TcpClient.open(port, host, { tls: true }) };
export type TlsClient = TcpClient;

/** A plain TCP connection that never starts TLS (a stalled handshake), and when the server closed it. */
export async function openRaw(port: number, host = "127.0.0.1"): Promise<{ closed: () => boolean; closedAt: () => number; write: (b: Uint8Array) => void; end: () => void }> {
  let closedAt = 0;
  const sock = await Bun.connect({
    hostname: host,
    port,
    socket: {
      data() {},
      close: () => void (closedAt ||= performance.now()),
      error: () => void (closedAt ||= performance.now()),
    },
  });
  return { closed: () => closedAt > 0, closedAt: () => closedAt, write: (b) => void sock.write(b), end: () => sock.end() };
}

export interface DohAnswer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP/2 connection to a DoH listener, kept open across requests (e.g. across a certificate reload). */
export class DohSession {
  private constructor(readonly session: http2.ClientHttp2Session) {}

  static async open(port: number): Promise<DohSession> {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
    session.on("error", () => {});
    return new DohSession(session);
  }

  get closed(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  /** The certificate this session's TLS connection was made with. */
  get peerFingerprint(): string {
    const socket = this.session.socket as unknown as { getPeerX509Certificate?: () => X509Certificate; getPeerCertificate: () => { fingerprint256: string } };
    return socket.getPeerX509Certificate?.().fingerprint256 ?? socket.getPeerCertificate().fingerprint256;
  }

  /** POSTs `msg` (application/dns-message) or GETs it as ?dns=, at `path`. */
  ask(msg: Uint8Array, method: "GET" | "POST" = "POST", path = "/dns-query"): Promise<DohAnswer> {
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders =
        method === "GET"
          ? { ":method": "GET", ":path": `${path}?dns=${Buffer.from(msg).toString("base64url")}`, accept: "application/dns-message" }
          : { ":method": "POST", ":path": path, "content-type": "application/dns-message", accept: "application/dns-message" };
      const req = this.session.request(headers);
      let head: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => (head = h));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve({ status: Number(head[":status"]), headers: head, body: Buffer.concat(chunks) }));
      req.on("error", reject);
      req.end(method === "POST" ? Buffer.from(msg) : undefined);
    });
  }

  close(): void {
    this.session.close();
  }
}

/** What a raw HTTP/2 client saw after opening `streams` streams at once. */
export interface FloodResult {
  /** The server's SETTINGS (id → value); SETTINGS_MAX_CONCURRENT_STREAMS is id 3. */
  settings: Map<number, number>;
  /** Streams answered with HEADERS. */
  answered: number;
  /** RST_STREAM frames by error code (REFUSED_STREAM is 7). */
  reset: Map<number, number>;
  /** GOAWAY's error code, if one came. */
  goaway: number | null;
  /** The server closed the connection before every stream was settled (with or without a GOAWAY seen first). */
  closed: boolean;
}

const frameHeader = (length: number, type: number, flags: number, stream: number): Buffer => {
  const b = Buffer.alloc(9);
  b.writeUIntBE(length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  return b;
};
const h2frame = (type: number, flags: number, stream: number, payload = Buffer.alloc(0)) => Buffer.concat([frameHeader(payload.length, type, flags, stream), payload]);
/** HPACK "literal header field without indexing, indexed name" (RFC 7541 6.2.2), no Huffman. */
const literal = (nameIndex: number, value: string) => Buffer.concat([Buffer.of(nameIndex), Buffer.of(Buffer.byteLength(value)), Buffer.from(value)]);

/**
 * Opens `streams` GET streams for `query` in one write, as a client that ignores SETTINGS_MAX_CONCURRENT_STREAMS
 * would, and tallies how the server dealt with each (answered, reset with which code, or the session ended).
 */
export function h2Flood(port: number, streams: number, query: Uint8Array, timeoutMs = 5000): Promise<FloodResult> {
  const out: FloodResult = { settings: new Map(), answered: 0, reset: new Map(), goaway: null, closed: false };
  const path = `/dns-query?dns=${Buffer.from(query).toString("base64url")}`;
  // :method GET (static 2), :scheme https (7), :path (name 4), :authority (name 1)
  const block = Buffer.concat([Buffer.of(0x82, 0x87), literal(0x04, path), literal(0x01, "localhost")]);
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: "127.0.0.1", port, ALPNProtocols: ["h2"], rejectUnauthorized: false, servername: "localhost" });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on("secureConnect", () => {
      const parts = [Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2frame(4, 0, 0)];
      for (let i = 0; i < streams; i++) parts.push(h2frame(1, 0x5, 1 + 2 * i, block)); // HEADERS, END_STREAM | END_HEADERS
      sock.write(Buffer.concat(parts));
    });
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const [type, flags] = [buf[3]!, buf[4]!];
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === 4 && !(flags & 1)) {
          for (let j = 0; j + 6 <= len; j += 6) out.settings.set(payload.readUInt16BE(j), payload.readUInt32BE(j + 2));
          sock.write(h2frame(4, 1, 0)); // SETTINGS ACK
        } else if (type === 1) out.answered++;
        else if (type === 3) out.reset.set(payload.readUInt32BE(0), (out.reset.get(payload.readUInt32BE(0)) ?? 0) + 1);
        else if (type === 7) out.goaway = payload.readUInt32BE(4);
      }
      const settled = out.answered + [...out.reset.values()].reduce((a, b) => a + b, 0);
      if (settled >= streams || out.goaway !== null) finish();
    });
    sock.on("close", () => {
      if (!done) out.closed = true;
      finish();
    });
    sock.on("error", () => {});
  });
}

/** The leaf certificate a TLS listener serves, as openssl s_client receives it. */
export async function servedCertificate(port: number, alpn?: string): Promise<X509Certificate> {
  const r = await run(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", ...(alpn ? ["-alpn", alpn] : [])], { timeoutMs: 5000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  if (!pem) throw new Error(`no certificate from openssl s_client on port ${port}: ${r.stderr.slice(0, 500)}`);
  return new X509Certificate(pem);
}

/** The SHA-256 SPKI pin (base64) of a certificate, as kdig +tls-pin takes it. */
export async function pinOf(cert: X509Certificate | string): Promise<string> {
  const x = typeof cert === "string" ? new X509Certificate(cert) : cert;
  const spki = x.publicKey.export({ type: "spki", format: "der" });
  return Buffer.from(await crypto.subtle.digest("SHA-256", new Uint8Array(spki))).toString("base64");
}

/** An openssl s_client handshake with a fixed TLS version (and ALPN): what was negotiated, or that it was refused. */
export async function handshake(port: number, version: "tls1_1" | "tls1_2" | "tls1_3", alpn?: string): Promise<{ ok: boolean; protocol: string | null; alpn: string | null; output: string }> {
  // SECLEVEL=0: our own openssl would refuse TLS 1.1 itself; the refusal must be the server's.
  const r = await run(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, `-${version}`, "-cipher", "DEFAULT@SECLEVEL=0", ...(alpn ? ["-alpn", alpn] : [])], { timeoutMs: 5000 });
  const output = r.stdout + r.stderr;
  const cipher = /New, (\S+), Cipher is (\S+)/.exec(output);
  const ok = cipher !== null && cipher[2] !== "(NONE)";
  return { ok, protocol: ok ? cipher![1]!.replace(/,$/, "") : null, alpn: /ALPN protocol: (\S+)/.exec(output)?.[1] ?? null, output };
}

/** A real bunbound with a DoT and a DoH listener (ports the OS picks), its HTTP API on, and its data in `dir`. */
export interface EncryptedServer extends Running {
  dir: string;
  tlsPort: number;
  httpsPort: number;
  /** The SPKI pin of the "bunbound started" line. */
  pin: string;
  /** Sum of the samples of a metric whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** GET of an HTTP API path, as JSON. */
  api(path: string): Promise<{ status: number; body: any }>;
}

/** Starts one with `toml` after data_dir and no upstreams (a toml line `upstreams = [...]` overrides them). */
export async function startEncrypted(toml = "", opts: { dir?: string; flags?: string[] } = {}): Promise<EncryptedServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "bunbound-enc-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `${/^upstreams\s*=/m.test(toml) ? "" : "upstreams = []\n"}data_dir = "${dir}/data"\n${toml}`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--listen-https", "127.0.0.1:0", "--http", "127.0.0.1:0", ...(opts.flags ?? [])]);
  const started = b.logs.find((l) => l.msg === "bunbound started")!;
  const api = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${b.httpPort}${path}`);
    return { status: r.status, body: (await r.json()) as any };
  };
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const text = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    return parsePrometheus(text)
      .samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  };
  return Object.assign(b, {
    dir,
    tlsPort: portOf((started.listenTls as string[])[0]!),
    httpsPort: portOf((started.listenHttps as string[])[0]!),
    pin: String(started.spkiPin),
    metric,
    api,
  });
}
