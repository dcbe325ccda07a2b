// DNS over UDP. The receive callback copies the datagram into a ring slot at once (Bun reuses its buffer
// after the callback), answers cheap queries before returning, and hands misses to the pipeline with the
// slot; the slot is released exactly once, after the answer is sent or the query is dropped.
import { Pipeline, PENDING, QueryInfo } from "../pipeline";
import type { ServerCounters } from "../metrics/counters";
import { log } from "../metrics/log";
import type { Ring } from "./ring";
import { copyBytes } from "../wire/name";
import { openDatagram, SendBatch, type DatagramOptions, type DatagramSocket } from "./datagram";

/**
 * Called once per answered query: the client's address, the answer (question still in the slot, rcode in
 * byte 3), the transport, and the seconds from arrival to answer (0 for answers given before the receive
 * callback returned). For tracking and metrics; it must not block.
 */
export type AnswerHook = (ip: string, buf: Uint8Array, q: QueryInfo, tcp: boolean, seconds: number) => void;

export class UdpServer {
  private socket: DatagramSocket | null = null;
  private draining = false;
  /** Called for every answered query with a question (client tracking); must not block. */
  onAnswered: AnswerHook | null = null;
  /** Requests of this listener not yet answered. */
  inflight = 0;
  /** Answers handed to an asynchronous socket ("dgram") and not yet sent. */
  private sending = 0;
  private readonly q = new QueryInfo();
  private idle: (() => void) | null = null;
  /** Answers given in receive callbacks, waiting to go out together; slots[i] is each one's ring handle. */
  private readonly batch = new SendBatch(64);
  private batchSocket: DatagramSocket | null = null;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly ring: Ring,
    private readonly pipeline: Pipeline,
    private readonly counters: ServerCounters,
    private readonly queryTimeoutMs: () => number,
    private readonly socketOptions: DatagramOptions = { backend: "bun", receiveBufferBytes: 4 << 20, reusePort: false },
  ) {}

  async start(): Promise<void> {
    this.socket = await openDatagram(
      this.host,
      this.port,
      this.socketOptions,
      (sock, data, off, len, port, address) => this.onDatagram(sock, data, off, len, port, address),
      (err) => log.warn("udp socket error", { listen: `${this.host}:${this.port}`, err }),
      this.flushBatch,
    );
  }

  get boundPort(): number {
    return this.socket?.port ?? this.port;
  }

  private onDatagram(sock: DatagramSocket, data: Uint8Array, off: number, len: number, port: number, address: string): void {
    const c = this.counters;
    c.udpQueries++;
    if (this.draining || len < 12) {
      c.dropped++;
      return;
    }
    const h = this.ring.acquire();
    if (h < 0) {
      c.ringExhausted++;
      return;
    }
    const buf = this.ring.payload(h);
    if (len > buf.length) {
      c.dropped++;
      this.ring.release(h);
      return;
    }
    copyBytes(buf, 0, data, off, len);
    const q = this.q;
    const n = this.pipeline.answerNow(buf, len, q, true);
    if (n !== PENDING) {
      if (n > 0) {
        if (this.onAnswered && q.hasQuestion) this.onAnswered(address, buf, q, false, 0);
        this.queueSend(sock, h, buf, n, port, address);
      } else this.ring.release(h);
      return;
    }
    // A miss: the slot travels with the request; QueryInfo is copied because this.q is reused next datagram.
    const own = new QueryInfo().copyFrom(q);
    const deadline = Date.now() + this.queryTimeoutMs();
    const arrived = performance.now();
    this.inflight++;
    this.pipeline.resolve(buf, own, true, deadline).then(
      (len) => this.complete(h, len, port, address, own, arrived),
      () => this.complete(h, 0, port, address, own, arrived),
    );
  }

  private complete(h: number, len: number, port: number, address: string, q: QueryInfo, arrived: number): void {
    this.inflight--;
    if (len > 0 && this.socket && !this.socket.closed) {
      const buf = this.ring.payload(h);
      if (this.onAnswered) this.onAnswered(address, buf, q, false, (performance.now() - arrived) / 1000);
      this.send(this.socket, h, buf, len, port, address);
    } else this.ring.release(h);
    this.checkIdle();
  }

  /**
   * Answers given inside receive callbacks are sent together with one sendBatch (sendmmsg) once the backend
   * has handed over every datagram it read in this batch (mmsg) or event-loop turn (bun): one syscall per
   * batch instead of one per answer. Each answer's slot stays owned by its request until the batch is sent, then is released.
   */
  private queueSend(sock: DatagramSocket, h: number, buf: Uint8Array, len: number, port: number, address: string): void {
    if (!sock.sendBatch) return this.send(sock, h, buf, len, port, address);
    const b = this.batch;
    if (b.full) this.flushBatch(); // more answers in one turn than a batch holds: send those, start another
    b.add(buf, len, port, address, h);
    if (b.count === 1) {
      this.batchSocket = sock;
      if (!sock.flushesBatches) setImmediate(this.flushBatch);
    }
  }

  private readonly flushBatch = (): void => {
    const b = this.batch;
    const n = b.count;
    if (n === 0) return;
    const sock = this.batchSocket!;
    try {
      const sent = sock.closed ? 0 : sock.sendBatch!(b);
      if (sent < n) this.counters.sendFailed += n - sent;
    } catch {
      this.counters.sendFailed += n;
    }
    for (let i = 0; i < n; i++) this.ring.release(b.slots[i]!);
    b.count = 0;
  };

  /** One answer on its own; the slot is released when the socket is done with the bytes. */
  private send(sock: DatagramSocket, h: number, buf: Uint8Array, len: number, port: number, address: string): void {
    this.sending++;
    sock.send(buf.subarray(0, len), port, address, (ok) => {
      if (!ok) this.counters.sendFailed++;
      this.ring.release(h);
      this.sending--;
      this.checkIdle();
    });
  }

  /** Drained: nothing waiting on upstreams and no answer still on its way out. */
  private checkIdle(): void {
    if (this.idle && this.inflight === 0 && this.sending === 0) this.idle();
  }

  /** Stop taking new queries; resolves when every in-flight one is answered and sent. */
  drain(): Promise<void> {
    this.draining = true;
    this.flushBatch();
    if (this.inflight === 0 && this.sending === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  /** Idempotent. */
  close(): void {
    this.flushBatch();
    this.draining = true;
    if (this.socket && !this.socket.closed) this.socket.close();
  }
}
