// The UDP socket under UdpServer, behind one small interface so the backend is a config choice:
//   "bun"   Bun.udpSocket: lowest CPU per datagram, sendMany (sendmmsg) for batches; no SO_RCVBUF, no reusePort.
//   "dgram" node:dgram (Bun's): a larger kernel receive buffer (no loss on bursts) and SO_REUSEPORT, at some more
//           CPU per datagram and one send per answer (docs/performance.md has the figures).
//   "mmsg"  libc through bun:ffi (Linux, 64-bit; src/server/mmsg.ts): recvmmsg/sendmmsg batches, SO_RCVBUF and
//           SO_REUSEPORT; the lowest CPU per datagram of the three.
import dgram from "node:dgram";
import { isIP } from "node:net";
import { mmsgUnsupported, openMmsg, type MmsgOptions } from "./mmsg";

/** A datagram arrived: its bytes are data[off, off + len), valid only until the callback returns. */
export type OnDatagram = (sock: DatagramSocket, data: Uint8Array, off: number, len: number, port: number, address: string) => void;

/**
 * Answers waiting to go out together, as parallel arrays reused from batch to batch: answer i is
 * bufs[i][0, lens[i]) to (addresses[i], ports[i]); slots[i] is whatever the caller needs back (a ring handle).
 * Nothing is allocated per answer: a view per answer would be on the cheap path.
 */
export class SendBatch {
  readonly bufs: Uint8Array[];
  readonly lens: Int32Array;
  readonly ports: Int32Array;
  readonly addresses: string[];
  readonly slots: Float64Array;
  count = 0;
  constructor(readonly capacity: number) {
    this.bufs = new Array<Uint8Array>(capacity);
    this.lens = new Int32Array(capacity);
    this.ports = new Int32Array(capacity);
    this.addresses = new Array<string>(capacity).fill("");
    this.slots = new Float64Array(capacity);
  }
  /** Adds an answer; false when the batch is already full. */
  add(buf: Uint8Array, len: number, port: number, address: string, slot: number): boolean {
    const i = this.count;
    if (i === this.capacity) return false;
    this.bufs[i] = buf;
    this.lens[i] = len;
    this.ports[i] = port;
    this.addresses[i] = address;
    this.slots[i] = slot;
    this.count = i + 1;
    return true;
  }
  get full(): boolean {
    return this.count === this.capacity;
  }
}

export interface DatagramSocket {
  readonly port: number;
  readonly closed: boolean;
  /** Sends one datagram; `done` runs once `data` may be reused (at once for "bun", after the send for "dgram"). */
  send(data: Uint8Array, port: number, address: string, done: (ok: boolean) => void): void;
  /** The backend calls the open's onBatch after each batch it read: no need to schedule a flush. */
  readonly flushesBatches?: boolean;
  /** The batch's answers with as few syscalls as the backend can (sendmmsg); returns how many went, in order. */
  sendBatch?: (batch: SendBatch) => number;
  close(): void;
}

export type Backend = "bun" | "dgram" | "mmsg";

/**
 * The backend to use for a configured one: "auto" is "mmsg" where it runs, else "bun"; SO_REUSEPORT (processes
 * = N) rules out "bun", which cannot set it, and takes "dgram" instead.
 */
export function chooseBackend(configured: Backend | "auto", reusePort: boolean): Backend {
  const b = configured === "auto" ? (mmsgUnsupported() === null ? "mmsg" : "bun") : configured;
  return reusePort && b === "bun" ? "dgram" : b;
}

/**
 * The udp section's receive_buffer_bytes (SO_RCVBUF for "dgram" and "mmsg") and coalesce_us ("mmsg"), the backend
 * chosen for it, SO_REUSEPORT, and for "mmsg" whether the event loop has I/O waiting that must not wait long.
 */
export interface DatagramOptions extends MmsgOptions {
  backend: Backend;
}

export async function openDatagram(
  host: string,
  port: number,
  opts: DatagramOptions,
  onData: OnDatagram,
  onError: (err: Error) => void,
  onBatch: () => void = () => {},
): Promise<DatagramSocket> {
  if (opts.backend === "mmsg") return openMmsg(host, port, opts, onData, onBatch);
  if (opts.backend === "bun") {
    let me!: DatagramSocket;
    const flat: Array<Uint8Array | number | string> = []; // Bun's sendMany takes (data, port, address) triples
    const s = await Bun.udpSocket({
      hostname: host,
      port,
      binaryType: "uint8array",
      socket: { data: (_s, data, p, a) => onData(me, data, 0, data.length, p, a), error: (_s, err) => onError(err) },
    });
    me = {
      get port() {
        return s.port;
      },
      get closed() {
        return s.closed;
      },
      send: (data, p, a, done) => {
        let ok = false;
        try {
          ok = s.send(data, p, a);
        } finally {
          done(ok);
        }
      },
      sendBatch: (b) => {
        flat.length = 0;
        for (let i = 0; i < b.count; i++) flat.push(b.bufs[i]!.subarray(0, b.lens[i]!), b.ports[i]!, b.addresses[i]!);
        return s.sendMany(flat);
      },
      close: () => s.close(),
    };
    return me;
  }
  const s = dgram.createSocket({
    type: isIP(host) === 6 ? "udp6" : "udp4",
    reuseAddr: opts.reusePort,
    reusePort: opts.reusePort,
    recvBufferSize: opts.receive_buffer_bytes,
  } as dgram.SocketOptions);
  let closed = false;
  let me!: DatagramSocket;
  s.on("message", (msg, rinfo) => onData(me, msg, 0, msg.length, rinfo.port, rinfo.address));
  s.on("error", (err) => onError(err));
  await bind(s, host, port);
  me = {
    get port() {
      return s.address().port;
    },
    get closed() {
      return closed;
    },
    send: (data, p, a, done) => {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.length); // a view: the slot stays owned until done
      try {
        s.send(buf, 0, buf.length, p, a, (err) => done(!err));
      } catch {
        done(false);
      }
    },
    close: () => {
      if (closed) return;
      closed = true;
      s.close();
    },
  };
  return me;
}

/** Binds a node:dgram socket; rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, …). */
function bind(s: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.bind(port, host, () => {
      s.off("error", reject);
      resolve();
    });
  });
}

/**
 * Throws EADDRINUSE when something already holds UDP host:port, checked with a plain (not shared) bind: with
 * SO_REUSEPORT a second bunbound on the same port would otherwise silently share its traffic.
 */
export async function assertUdpPortFree(host: string, port: number): Promise<void> {
  const s = dgram.createSocket({ type: isIP(host) === 6 ? "udp6" : "udp4" });
  try {
    await bind(s, host, port);
  } finally {
    s.close();
  }
}
