// DNS over UDP. The receive callback copies the datagram into a ring slot at once (Bun reuses its buffer
// after the callback) and hands it to the request entry (request.ts): cheap queries are answered before the
// callback returns, a miss leaves the ring for the pending table. A slot is released exactly once, after its
// answer is sent or its query dropped.
import { Outcome } from "../pipeline/handler";
import type { ServerCounters } from "../metrics/counters";
import { Transport } from "../metrics/querystats";
import { log } from "../metrics/log";
import type { Ring } from "./ring";
import { copyBytes } from "../wire/name";
import { QueryInfo } from "../wire/query";
import { openDatagram, SendBatch, type DatagramOptions, type DatagramSocket } from "./datagram";
import type { Requests, Sink } from "./request";

export class UdpServer implements Sink {
  readonly transport = Transport.UDP;
  private socket: DatagramSocket | null = null;
  private draining = false;
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
    readonly ring: Ring,
    private readonly requests: Requests,
    private readonly counters: ServerCounters,
    private readonly socketOptions: DatagramOptions = { backend: "bun", receive_buffer_bytes: 4 << 20, reusePort: false },
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
    const n = this.requests.receive(this, buf, len, this.q, address, port, address);
    if (n > 0) this.queueSend(sock, h, buf, n, port, address);
    else {
      if (n === Outcome.PENDING) this.inflight++;
      this.ring.release(h);
    }
  }

  deliver(target: unknown, port: number, h: number, n: number): void {
    this.inflight--;
    if (h >= 0) {
      if (n > 0 && this.socket && !this.socket.closed) this.send(this.socket, h, this.ring.payload(h), n, port, target as string);
      else this.ring.release(h);
    }
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
