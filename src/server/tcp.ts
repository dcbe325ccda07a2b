// DNS over TCP (RFC 7766), and DNS over TLS (RFC 7858) with a certificate: 2-byte length framing across arbitrary chunk boundaries, pipelined queries
// answered as they complete (out of order), a per-connection in-flight cap (reading pauses at the cap), a
// global connection cap, 65535-byte messages. Each message is handed to the request entry in a ring slot of
// its own; a miss leaves the ring for the pending table, so slots are only held while an answer is written.
//
// Under pressure (RFC 7766 6.2.3): the idle timeout shrinks as the connection table fills, a full table closes
// its longest-idle connection to admit a new one, and a message must arrive whole within timeouts.tcp_message_ms
// of its first byte however slowly it trickles in (slowloris). A client that half-closes after its queries
// (RFC 7766 6.1, RFC 1035 4.2.2) gets every answer before we close.
import type { Socket, TCPSocketListener, TCPSocketListenOptions, TLSOptions } from "bun";
import { Outcome } from "../pipeline/handler";
import { Rcode } from "../wire/constants";
import { QueryInfo } from "../wire/query";
import { errorResponse } from "../wire/response";
import type { ServerCounters } from "../metrics/counters";
import { Transport } from "../metrics/querystats";
import { log } from "../metrics/log";
import type { Ring } from "./ring";
import type { Requests, Sink } from "./request";
import { FrameReader } from "../wire/framing";
import type { TcpConfig, TimeoutsConfig, TlsConfig } from "../config/types";
import type { TlsCertificates } from "./tls";
import type { TaskManager } from "../lifecycle/tasks";

/** Produces a zone transfer: the messages to send, "refused" (ACL), or null (failed). */
export type TransferFn = (query: Uint8Array, q: QueryInfo, peer: string) => Promise<Uint8Array[] | "refused" | null>;

/** ALPN of DNS over TLS (RFC 7858 3.2), in the wire format Bun takes: a length byte, then the name. */
const DOT_ALPN = Buffer.from("\x03dot", "latin1");
const TLS_1_2 = 0x0303;
const TLS_1_3 = 0x0304;

/** The settings TCP serving reads, from the running configuration (a reload swaps them). */
export interface TcpSettings {
  readonly tcp: TcpConfig;
  /** min_version, for DNS over TLS listeners. */
  readonly tls?: Pick<TlsConfig, "min_version">;
  /** tcp_idle_ms, and tcp_message_ms: from a message's first byte to its last. */
  readonly timeouts: Pick<TimeoutsConfig, "tcp_idle_ms" | "tcp_message_ms">;
}

/** Received bytes one connection may buffer (pipelined queries waiting behind the in-flight cap). */
const MAX_INBUF = 256 * 1024;
/** Bytes of unsent answers one connection may queue before we give up on a client that does not read. */
const MAX_PENDING_WRITE = 1 << 20;
/** The shortest the idle timeout gets when the table is (nearly) full. */
const MIN_IDLE_MS = 500;

interface Conn {
  /** What the client sent and we have not taken yet. */
  frames: FrameReader;
  inflight: number;
  paused: boolean;
  closed: boolean;
  /** The client sent FIN: answer what it asked, then close. */
  readClosed: boolean;
  pending: Uint8Array[];
  pendingBytes: number;
  /** performance.now() of the last byte read or answer written: the idle sweep reads it. */
  lastActive: number;
  /** performance.now() when the first byte of the message still incomplete in `frames` arrived; 0 when none. */
  messageStart: number;
  /** A zone transfer being written, message by message, as the socket drains. */
  stream: { messages: Uint8Array[]; next: number; done: () => void } | null;
}

const closedConn = (): Conn => ({
  frames: new FrameReader(0, 0), inflight: 0, paused: false, closed: true, readClosed: true, pending: [], pendingBytes: 0, lastActive: 0, messageStart: 0, stream: null,
});

/** Binds host:port without SO_REUSEPORT and lets it go: throws when the port is taken; returns the port bound. */
function claimPort(hostname: string, port: number): number {
  let probe: TCPSocketListener;
  try {
    probe = Bun.listen({ hostname, port, socket: { data() {} } });
  } catch (err) {
    const code = (err as { code?: string }).code ?? String(err);
    throw new Error(`bind ${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}: ${code}`);
  }
  const bound = probe.port;
  probe.stop(true);
  return bound;
}

export class TcpServer implements Sink {
  readonly transport: Transport;
  private listener: TCPSocketListener<Conn> | null = null;
  private readonly conns = new Set<Socket<Conn>>();
  private readonly waitingForSlot = new Set<Socket<Conn>>();
  private draining = false;
  private idle: (() => void) | null = null;
  private readonly q = new QueryInfo();
  /** Messages of this listener not yet answered. */
  inflight = 0;

  /**
   * @param tls DNS over TLS (RFC 7858): the listener's certificate, swapped for new connections when it changes.
   */
  constructor(
    readonly host: string,
    readonly port: number,
    readonly ring: Ring,
    private readonly requests: Requests,
    private readonly counters: ServerCounters,
    private readonly settings: () => TcpSettings,
    private readonly transfer: TransferFn | null = null,
    private readonly tls: TlsCertificates | null = null,
  ) {
    this.transport = tls ? Transport.TLS : Transport.TCP;
  }

  /**
   * Listens, and registers the sweep that closes idle and too-slow connections with `tasks`. Its period is a
   * fraction of the idle timeout, so a connection is cut between 1× and 1.25× of it.
   * @param reusePort SO_REUSEPORT: several processes share the port (`processes = N`).
   */
  start(tasks: Pick<TaskManager, "every"> | null, reusePort = false): void {
    // DoT always binds with SO_REUSEPORT (see swapCertificate), which would let a second server share the port
    // unnoticed; a plain bind first claims it, so a port in use fails the start as it does for UDP and TCP.
    const port = this.tls && !reusePort ? claimPort(this.host, this.port) : this.port;
    this.listener = this.bind(port, reusePort || this.tls !== null);
    this.tls?.onChange(() => this.swapCertificate());
    if (tasks) this.startSweep(tasks);
  }

  /**
   * A new certificate: a second listener on the same port (SO_REUSEPORT) takes new connections with it, then the
   * old one stops accepting; connections already open keep theirs (Bun's reload() does not swap TLS settings).
   */
  private swapCertificate(): void {
    const old = this.listener;
    if (!old || this.draining) return;
    try {
      this.listener = this.bind(old.port, true);
      old.stop(false);
    } catch (err) {
      log.warn("DoT listener kept its certificate", { listen: `${this.host}:${old.port}`, err });
    }
  }

  private bind(port: number, reusePort: boolean): TCPSocketListener<Conn> {
    const tls = this.tls?.material;
    const options: TCPSocketListenOptions<Conn> = {
      hostname: this.host,
      port,
      allowHalfOpen: true,
      // Bun.listen sets SO_REUSEPORT with this (checked across processes); bun-types lists it for connect only.
      ...({ reusePort } as object),
      socket: {
        binaryType: "uint8array",
        open: (s) => this.onOpen(s),
        data: (s, chunk) => this.onData(s, chunk),
        drain: (s) => this.flush(s),
        end: (s) => this.onEnd(s),
        close: (s) => this.onClose(s),
        // With a handshake handler Bun calls open() at accept instead of after the handshake, so a client that never
        // starts TLS is in the table: counted against max_connections and closed by the idle sweep.
        ...(tls ? { handshake: () => {} } : {}),
        error: (s, err) => {
          log.debug("tcp connection error", { err });
          this.onClose(s);
        },
      },
    };
    if (tls) {
      options.tls = { cert: tls.cert, key: tls.key, ALPNProtocols: DOT_ALPN, minVersion: this.settings().tls?.min_version === "1.3" ? TLS_1_3 : TLS_1_2 } as TLSOptions;
    }
    return Bun.listen<Conn>(options);
  }

  get boundPort(): number {
    return this.listener?.port ?? this.port;
  }

  private startSweep(tasks: Pick<TaskManager, "every">): void {
    const { timeouts } = this.settings();
    const every = Math.max(50, Math.min(1000, Math.min(timeouts.tcp_idle_ms, timeouts.tcp_message_ms) / 4));
    tasks.every(`tcp-sweep ${this.host}:${this.boundPort}`, "server", every, () => void this.sweepIdle());
  }

  get connections(): number {
    return this.conns.size;
  }

  private onOpen(s: Socket<Conn>): void {
    if (this.draining || (this.conns.size >= this.settings().tcp.max_connections && !this.closeLongestIdle())) {
      this.counters.tcpRejected++;
      s.data = closedConn();
      s.terminate();
      return;
    }
    this.counters.tcpConnections++;
    s.data = { ...closedConn(), frames: new FrameReader(514, MAX_INBUF), closed: false, readClosed: false, lastActive: performance.now() };
    this.conns.add(s);
  }

  /** The table is full: the connection idle the longest (nothing in flight or unsent) makes room, if there is one. */
  private closeLongestIdle(): boolean {
    let victim: Socket<Conn> | null = null;
    for (const s of this.conns) {
      const c = s.data;
      if (c.inflight === 0 && c.pending.length === 0 && !c.stream && (!victim || c.lastActive < victim.data.lastActive)) victim = s;
    }
    if (!victim) return false;
    this.counters.tcpIdleClosed++;
    this.closeConn(victim);
    return true;
  }

  private touch(s: Socket<Conn>): void {
    s.data.lastActive = performance.now();
  }

  /** The idle timeout now: the configured one up to a half-full table, then shorter, down to MIN_IDLE_MS when full. */
  idleLimitMs(): number {
    const { timeouts, tcp } = this.settings();
    const idleTimeoutMs = timeouts.tcp_idle_ms;
    const fill = this.conns.size / tcp.max_connections;
    if (fill <= 0.5) return idleTimeoutMs;
    const floor = Math.min(MIN_IDLE_MS, idleTimeoutMs);
    return Math.max(floor, idleTimeoutMs - (idleTimeoutMs - floor) * Math.min(1, (fill - 0.5) * 2));
  }

  /**
   * Closes connections idle for longer than the idle timeout (nothing read or written and nothing in flight:
   * a client that stops reading its answers included), and connections whose message has been arriving for
   * longer than the message timeout. One sweep for all
   * connections, run by the task manager, instead of a timer per connection (seed 002).
   */
  sweepIdle(now = performance.now()): number {
    const idle = this.idleLimitMs();
    const message = this.settings().timeouts.tcp_message_ms;
    let closed = 0;
    for (const s of [...this.conns]) {
      const c = s.data;
      if (c.messageStart > 0 && now - c.messageStart >= message) {
        this.counters.tcpMessageTimeouts++;
        this.closeConn(s);
        closed++;
      } else if (c.inflight === 0 && now - c.lastActive >= idle) {
        this.counters.tcpIdleClosed++;
        this.closeConn(s);
        closed++;
      }
    }
    return closed;
  }

  private onData(s: Socket<Conn>, chunk: Uint8Array): void {
    const c = s.data;
    if (!c || c.closed || c.readClosed) return;
    this.touch(s);
    // Bounded: reading pauses at the in-flight cap, so this only fills up with a client that keeps pushing while paused.
    if (!c.frames.push(chunk)) return this.closeConn(s);
    this.process(s);
  }

  /** The client sent FIN: it will send nothing more, but gets the answers to what it sent (RFC 7766 6.1). */
  private onEnd(s: Socket<Conn>): void {
    const c = s.data;
    if (!c || c.closed) return;
    c.readClosed = true;
    this.finishIfDone(s);
  }

  /** Takes every complete message out of the connection's buffer, up to the in-flight cap. */
  private process(s: Socket<Conn>): void {
    const c = s.data;
    const f = c.frames;
    const cap = this.settings().tcp.max_inflight_per_connection;
    let took = false;
    while (!c.closed && !this.draining) {
      const len = f.nextLength();
      if (len === 0) return this.closeConn(s); // RELIABILITY.md: zero-length message closes the connection
      if (len < 0 || !f.hasWhole()) break;
      if (c.inflight >= cap) {
        this.pause(s);
        break;
      }
      if (this.ring.inUse === this.ring.slots) {
        // No slot free (zone transfers hold theirs): a TCP client must not lose a query silently, so hold this
        // connection back until a slot is released.
        this.pause(s);
        this.waitingForSlot.add(s);
        break;
      }
      this.handle(s, f.next()!);
      took = true;
    }
    // A message deadline runs from the first byte of a message that is not complete yet, and only then: a
    // whole message held back by the in-flight cap is waiting on us, not on the client.
    if (f.buffered === 0 || f.hasWhole()) c.messageStart = 0;
    else if (took || c.messageStart === 0) c.messageStart = performance.now();
  }

  private handle(s: Socket<Conn>, msg: Uint8Array): void {
    const c = s.data;
    this.counters.tcpQueries++;
    const h = this.ring.acquire();
    if (h < 0) {
      this.counters.ringExhausted++;
      return;
    }
    const buf = this.ring.payload(h);
    if (msg.length > buf.length) {
      this.counters.dropped++;
      this.ring.release(h);
      return;
    }
    buf.set(msg);
    const n = this.requests.receive(this, buf, msg.length, this.q, s, 0, s.remoteAddress);
    if (n === Outcome.TRANSFER) return this.startTransfer(s, h, msg.length, this.q);
    if (n === Outcome.PENDING) {
      c.inflight++;
      this.inflight++;
    } else if (n > 0) this.write(s, h, n);
    this.ring.release(h);
  }

  deliver(target: unknown, _port: number, h: number, n: number): void {
    const s = target as Socket<Conn>;
    if (h >= 0) {
      if (n > 0 && !s.data.closed) this.write(s, h, n);
      this.ring.release(h);
    }
    this.completed(s);
  }

  /**
   * AXFR (RFC 5936): the heavy lane builds the messages; they are written one at a time as the socket drains,
   * so a large zone never piles up in memory here. The request counts as in flight until the last is written,
   * and keeps its slot until then.
   */
  private startTransfer(s: Socket<Conn>, h: number, len: number, q: QueryInfo): void {
    const c = s.data;
    const own = new QueryInfo().copyFrom(q);
    const query = this.ring.payload(h).slice(0, len);
    c.inflight++;
    this.inflight++;
    this.counters.transfers++;
    const end = (n: number) => {
      if (n > 0 && !c.closed) this.write(s, h, n);
      this.ring.release(h);
      this.completed(s);
    };
    const fail = (rcode: number) => {
      const buf = this.ring.payload(h);
      buf.set(query);
      end(errorResponse(buf, own, rcode));
    };
    if (!this.transfer) return fail(Rcode.REFUSED);
    this.transfer(query, own, s.remoteAddress).then(
      (result) => {
        if (result === "refused") return fail(Rcode.REFUSED);
        if (!result || c.closed) return fail(Rcode.SERVFAIL);
        c.stream = { messages: result, next: 0, done: () => end(0) };
        this.pumpStream(s);
      },
      () => fail(Rcode.SERVFAIL),
    );
  }

  private pumpStream(s: Socket<Conn>): void {
    const c = s.data;
    const st = c.stream;
    if (!st) return;
    while (!c.closed && c.pending.length === 0 && st.next < st.messages.length) {
      const m = st.messages[st.next++]!;
      const framed = new Uint8Array(m.length + 2);
      framed[0] = m.length >> 8;
      framed[1] = m.length & 0xff;
      framed.set(m, 2);
      st.messages[st.next - 1] = framed.subarray(0, 0); // let the sent message go
      const n = s.write(framed);
      if (n < 0) return this.closeConn(s);
      this.touch(s);
      if (n < framed.length) this.queue(s, framed.subarray(n));
    }
    if (c.closed || st.next >= st.messages.length) {
      c.stream = null;
      st.done();
    }
  }

  /** One of the connection's requests is done (answered or not). */
  private completed(s: Socket<Conn>): void {
    const c = s.data;
    c.inflight--;
    this.inflight--;
    if (c.paused && !c.closed && c.inflight < this.settings().tcp.max_inflight_per_connection && !this.waitingForSlot.has(s)) {
      this.resume(s);
    }
    // A slot was freed: let one connection that waits for a slot continue.
    for (const w of this.waitingForSlot) {
      this.waitingForSlot.delete(w);
      if (!w.data.closed) {
        this.resume(w);
        break;
      }
    }
    this.finishIfDone(s);
    if (this.draining && this.inflight === 0 && this.idle) this.idle();
  }

  /** Closes a connection that will get no more work once everything it asked is answered and written. */
  private finishIfDone(s: Socket<Conn>): void {
    const c = s.data;
    if (c.closed || !(c.readClosed || this.draining) || c.inflight > 0 || c.stream) return;
    if (c.readClosed && c.frames.buffered > 0 && !this.draining) this.process(s); // queries still buffered behind the cap
    if (c.inflight > 0 || c.pending.length > 0) return;
    this.closeConn(s, true);
  }

  private pause(s: Socket<Conn>): void {
    if (!s.data.paused) {
      s.data.paused = true;
      s.pause();
    }
  }

  private resume(s: Socket<Conn>): void {
    s.data.paused = false;
    s.resume();
    this.process(s);
  }

  /** Writes the answer framed in the slot's headroom; what the socket does not take is queued (copied). */
  private write(s: Socket<Conn>, h: number, len: number): void {
    const c = s.data;
    const frame = this.ring.slot(h);
    frame[0] = len >> 8;
    frame[1] = len & 0xff;
    const bytes = frame.subarray(0, len + 2);
    if (c.pending.length === 0) {
      const n = s.write(bytes);
      if (n === bytes.length) return this.touch(s);
      if (n < 0) return this.closeConn(s);
      this.queue(s, bytes.subarray(n));
    } else {
      this.queue(s, bytes);
    }
  }

  private queue(s: Socket<Conn>, rest: Uint8Array): void {
    const c = s.data;
    c.pendingBytes += rest.length;
    if (c.pendingBytes > MAX_PENDING_WRITE) return this.closeConn(s);
    c.pending.push(rest.slice());
  }

  private flush(s: Socket<Conn>): void {
    const c = s.data;
    while (c && !c.closed && c.pending.length) {
      const head = c.pending[0]!;
      const n = s.write(head);
      if (n < 0) return this.closeConn(s);
      c.pendingBytes -= Math.max(0, n);
      if (n < head.length) {
        c.pending[0] = head.subarray(n);
        return;
      }
      c.pending.shift();
    }
    if (c && !c.closed && c.pending.length === 0 && c.stream) this.pumpStream(s);
    if (c) this.finishIfDone(s);
  }

  /** @param graceful end() (FIN after what was written) instead of a reset. */
  private closeConn(s: Socket<Conn>, graceful = false): void {
    const c = s.data;
    if (c) c.closed = true;
    this.conns.delete(s);
    this.waitingForSlot.delete(s);
    if (graceful) s.end();
    else s.terminate();
  }

  private onClose(s: Socket<Conn>): void {
    const c = s.data;
    if (c) c.closed = true;
    this.conns.delete(s);
    this.waitingForSlot.delete(s);
  }

  /** Stop accepting and reading; resolves when every in-flight message is answered. */
  drain(): Promise<void> {
    this.draining = true;
    this.listener?.stop(false);
    for (const s of [...this.conns]) this.finishIfDone(s);
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /** Idempotent: closes the listener and every connection. */
  close(): void {
    this.draining = true;
    if (this.listener) {
      this.listener.stop(true);
      this.listener = null;
    }
    for (const s of [...this.conns]) this.closeConn(s);
  }
}
