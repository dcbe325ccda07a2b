// The "mmsg" UDP backend (Linux, 64-bit): the socket is made and read through libc with bun:ffi —
// recvmmsg takes up to 64 datagrams per syscall and sendmmsg sends a batch of answers pointing straight at
// their ring slots, with SO_RCVBUF and SO_REUSEPORT set like any C server would. Per datagram this skips the
// event loop's own receive path, which is where most of Bun's per-packet cost is.
//
// How it shares the thread with everything else: one loop for all mmsg sockets of the process, run in slices
// of SLICE_MS. Within a slice it reads every socket, answers, sends, and sleeps in poll() while nothing is
// waiting; after the slice the event loop gets a turn (setImmediate), so timers, TCP, HTTP and upstream answers
// wait at most one slice. After IDLE_AFTER_MS without a datagram the loop parks: a watcher worker polls the
// sockets and wakes it, so an idle server does not spin through slices.
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";
import { isIP } from "node:net";
import { ipv6FromBytes, ipv6ToBytes } from "../net/address";
import type { DatagramSocket, OnDatagram, SendBatch } from "./datagram";
import type { UdpConfig } from "../config/types";
import { log } from "../metrics/log";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_RCVBUF = 8;
const SO_REUSEPORT = 15;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const EINTR = 4;

/** Datagrams per recvmmsg / sendmmsg. */
const BATCH = 64;
/** Receive buffer per datagram: the largest UDP payload. */
const RECV_SIZE = 65_535;
/** sockaddr_in6 is 28 bytes; each message gets 32. */
const NAME_SIZE = 32;
/** struct mmsghdr on 64-bit Linux: msghdr (56) + msg_len (4) + padding. */
const MMSG = 64;
/** Longest stretch the receive loop keeps the thread before the event loop gets a turn… */
const SLICE_MS = 1;
/**
 * …while the event loop has I/O we know of waiting (upstream queries in flight, TCP connections open: see
 * MmsgOptions.otherWork); without any, only timers, worker messages and new connections can be waiting there,
 * and a turn every QUIET_SLICE_MS does for them: each event-loop turn costs the busy loop, so fewer turns
 * leave more of the slice to answering.
 */
const QUIET_SLICE_MS = 4;
/** No datagram for this long: the loop parks and the watcher worker waits for the next one. */
const IDLE_AFTER_MS = 50;
/** Coalescing starts when one read brought at least this many datagrams: one alone is light traffic. */
const COALESCE_MIN = 2;

type Libc = ReturnType<typeof openLibc>;
function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    sendmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    usleep: { args: [FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    strerror: { args: [FFIType.i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

let libc: Libc | null = null;
let errnoAt: Pointer | null = null;

/** Why the backend cannot run here, or null when it can. */
export function mmsgUnsupported(): string | null {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.arch !== "x64" && process.arch !== "arm64") return `needs x64 or arm64 (this is ${process.arch})`;
  try {
    libc ??= openLibc();
    errnoAt ??= libc.__errno_location() as Pointer;
  } catch (err) {
    return `libc.so.6 not loadable: ${(err as Error).message}`;
  }
  return null;
}

function errno(): number {
  return read.i32(errnoAt!, 0);
}

function sysError(what: string, code = errno()): Error {
  const name = { 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 13: "EACCES", 97: "EAFNOSUPPORT" }[code] ?? `errno ${code}`;
  const err = new Error(`${what}: ${name} (${libc!.strerror(code)})`) as Error & { code: string };
  err.code = name;
  return err;
}

/** IPv6 address bytes by text, bounded: answers go back to addresses just seen. */
const v6bytes = new Map<string, Uint8Array>();

/** Writes a sockaddr for (ip, port) at name[off]; returns its length. */
function writeSockaddr(name: Uint8Array, off: number, ip: string, port: number, v6: boolean): number {
  if (!v6) {
    name[off] = AF_INET;
    name[off + 1] = 0;
    name[off + 2] = port >> 8;
    name[off + 3] = port & 0xff;
    let o = off + 4;
    let n = 0;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        name[o++] = n;
        n = 0;
      } else n = n * 10 + (c - 48);
    }
    name[o] = n;
    return 16;
  }
  name.fill(0, off, off + 28);
  name[off] = AF_INET6;
  name[off + 2] = port >> 8;
  name[off + 3] = port & 0xff;
  let b = v6bytes.get(ip);
  if (b === undefined) {
    if (v6bytes.size >= 4096) v6bytes.clear();
    b = new Uint8Array(ipv6ToBytes(ip));
    v6bytes.set(ip, b);
  }
  name.set(b, off + 8);
  return 28;
}

/** One socket's preallocated message arrays: BATCH headers, names and iovecs, for receiving or sending. */
class Batch {
  readonly hdrs = new ArrayBuffer(BATCH * MMSG);
  readonly h32 = new Uint32Array(this.hdrs);
  readonly names = new Uint8Array(BATCH * NAME_SIZE);
  readonly iov = new BigUint64Array(BATCH * 2);
  /** The same iovecs as 32-bit halves (little-endian): pointers written without making BigInts per datagram. */
  readonly iov32 = new Uint32Array(this.iov.buffer);
  readonly hdrPtr: Pointer;

  constructor() {
    const v = new DataView(this.hdrs);
    const names = BigInt(ptr(this.names));
    const iov = BigInt(ptr(this.iov));
    for (let i = 0; i < BATCH; i++) {
      v.setBigUint64(i * MMSG, names + BigInt(i * NAME_SIZE), true); // msg_name
      v.setUint32(i * MMSG + 8, NAME_SIZE, true); // msg_namelen
      v.setBigUint64(i * MMSG + 16, iov + BigInt(i * 16), true); // msg_iov
      v.setBigUint64(i * MMSG + 24, 1n, true); // msg_iovlen
    }
    this.hdrPtr = ptr(this.hdrs);
  }
}

class MmsgSocket implements DatagramSocket {
  closed = false;
  /** The receive loop calls onBatch after each batch: answers go out before the loop sleeps again. */
  readonly flushesBatches = true;
  private readonly rx = new Batch();
  private readonly tx = new Batch();
  private readonly rbuf = new Uint8Array(BATCH * RECV_SIZE);
  /** Messages the last recvmmsg filled. */
  private filled = 0;
  /** Client address strings by IPv4 number: the event loop's receive path makes one per datagram; this one doesn't. */
  private readonly v4text = new Map<number, string>();

  constructor(
    readonly fd: number,
    readonly port: number,
    private readonly v6: boolean,
    private readonly onData: OnDatagram,
    private readonly onBatch: () => void,
    /** Coalescing window under load, µs (0: off); the loop uses the largest of its sockets'. */
    readonly coalesceUs = 0,
    /** True while the event loop has work the receive loop must not hold up for long; see QUIET_SLICE_MS. */
    readonly otherWork: () => boolean = () => false,
    /** True while answers from upstreams or authoritative servers are awaited; see MmsgOptions.awaiting. */
    readonly awaiting: () => boolean = () => false,
  ) {
    const base = BigInt(ptr(this.rbuf));
    for (let i = 0; i < BATCH; i++) {
      this.rx.iov[i * 2] = base + BigInt(i * RECV_SIZE);
      this.rx.iov[i * 2 + 1] = BigInt(RECV_SIZE);
    }
  }

  /** Reads and hands over up to BATCH datagrams; returns how many (0: none waiting). */
  receive(): number {
    if (this.closed) return 0; // (its fd number may already belong to another socket)
    const rx = this.rx;
    // msg_namelen is in-out: the kernel shrank it in the messages the last call filled; only those need resetting.
    for (let i = 0; i < this.filled; i++) rx.h32[i * 16 + 2] = NAME_SIZE;
    const n = libc!.recvmmsg(this.fd, rx.hdrPtr, BATCH, MSG_DONTWAIT, null);
    this.filled = Math.max(0, n);
    if (n <= 0) return 0;
    const names = rx.names;
    for (let i = 0; i < n && !this.closed; i++) {
      const len = rx.h32[i * 16 + 14]!; // msg_len
      const o = i * NAME_SIZE;
      const port = (names[o + 2]! << 8) | names[o + 3]!;
      let address: string;
      if (names[o] === AF_INET) {
        const key = ((names[o + 4]! << 24) | (names[o + 5]! << 16) | (names[o + 6]! << 8) | names[o + 7]!) >>> 0;
        let s = this.v4text.get(key);
        if (s === undefined) {
          if (this.v4text.size >= 65_536) this.v4text.clear(); // bounded
          s = `${names[o + 4]}.${names[o + 5]}.${names[o + 6]}.${names[o + 7]}`;
          this.v4text.set(key, s);
        }
        address = s;
      } else address = ipv6FromBytes(names, o + 8);
      this.onData(this, this.rbuf, i * RECV_SIZE, len, port, address);
    }
    this.onBatch();
    return n;
  }

  send(data: Uint8Array, port: number, address: string, done: (ok: boolean) => void): void {
    let ok = false;
    try {
      if (!this.closed) {
        const nl = writeSockaddr(this.tx.names, 0, address, port, this.v6);
        ok = Number(libc!.sendto(this.fd, ptr(data), data.length, 0, ptr(this.tx.names), nl)) === data.length;
      }
    } finally {
      done(ok);
    }
  }

  /** The iovecs point at the batch's buffers (no copy). Returns how many went, in order. */
  readonly sendBatch = (b: SendBatch): number => {
    if (this.closed) return 0;
    const tx = this.tx;
    let sent = 0;
    for (let start = 0; start < b.count; start += BATCH) {
      const count = Math.min(BATCH, b.count - start);
      for (let i = 0; i < count; i++) {
        const p = ptr(b.bufs[start + i]!);
        tx.iov32[i * 4] = p >>> 0; // low half (a pointer is below 2^53, so two halves hold it exactly)
        tx.iov32[i * 4 + 1] = Math.floor(p / 0x1_0000_0000);
        tx.iov32[i * 4 + 2] = b.lens[start + i]!;
        tx.iov32[i * 4 + 3] = 0;
        tx.h32[i * 16 + 2] = writeSockaddr(tx.names, i * NAME_SIZE, b.addresses[start + i]!, b.ports[start + i]!, this.v6);
      }
      let done = 0;
      while (done < count) {
        const n = libc!.sendmmsg(this.fd, ptr(tx.hdrs, done * MMSG), count - done, 0);
        if (n > 0) done += n;
        else if (n < 0 && errno() === EINTR) continue;
        else break; // EAGAIN (send buffer full) or an error: the rest are counted as failed by the caller
      }
      sent += done;
      if (done < count) break;
    }
    return sent;
  };

  close(): void {
    if (this.closed) return;
    this.closed = true;
    loop.remove(this);
    libc!.close(this.fd);
  }
}

function watcherEntry(): URL | string {
  return import.meta.url.includes("$bunfs") ? "./server/mmsg-watch.ts" : new URL("./mmsg-watch.ts", import.meta.url);
}

/**
 * The one receive loop for every mmsg socket in the process. Busy: slices of SLICE_MS on the main thread.
 * Parked after IDLE_AFTER_MS without a datagram: the thread is left to the event loop entirely and a watcher
 * worker (mmsg-watch.ts) sleeps in poll() on the sockets, waking us with one message when one is readable —
 * so an idle server costs nothing, and a busy one pays no cross-thread wake-up per datagram.
 */
class Loop {
  private socks: MmsgSocket[] = [];
  private pfds = new Int32Array(0);
  private running = false;
  private parked = false;
  private lastData = 0;
  private watcher: Worker | null = null;
  /** Shared with the current watcher (a new watcher gets a new one): see mmsg-watch.ts. */
  private shared = new Int32Array(new SharedArrayBuffer(4 * (3 + 64)));
  /** Times the loop parked and was woken by the watcher (for tests and metrics). */
  wakeups = 0;
  /** Coalescing window in µs (0: off): the largest of the sockets'; see `turn`. */
  private coalesceUs = 0;
  /** Times the loop waited out a coalescing window (for tests and metrics). */
  coalesced = 0;
  /** Slices that ran with the quiet budget (QUIET_SLICE_MS), for tests. */
  quietSlices = 0;

  add(s: MmsgSocket): void {
    this.socks.push(s);
    this.rebuild();
    this.wake();
  }

  remove(s: MmsgSocket): void {
    this.socks = this.socks.filter((x) => x !== s);
    this.rebuild();
    if (this.socks.length === 0) this.stopWatcher();
  }

  get isParked(): boolean {
    return this.parked;
  }

  private rebuild(): void {
    this.pfds = new Int32Array(this.socks.length * 2);
    this.socks.forEach((s, i) => {
      this.pfds[i * 2] = s.fd;
      this.pfds[i * 2 + 1] = POLLIN; // events; revents (high half) are written by poll
    });
    this.coalesceUs = this.socks.reduce((m, s) => Math.max(m, s.coalesceUs), 0);
    const n = Math.min(64, this.socks.length);
    for (let i = 0; i < n; i++) this.shared[3 + i] = this.socks[i]!.fd;
    Atomics.store(this.shared, 2, n);
  }

  private wake(): void {
    this.parked = false;
    Atomics.store(this.shared, 0, 0);
    this.lastData = performance.now();
    if (!this.running && this.socks.length > 0) {
      this.running = true;
      setImmediate(this.turn);
    }
  }

  private park(): void {
    this.running = false;
    this.parked = true;
    if (!this.watcher) {
      this.shared = new Int32Array(new SharedArrayBuffer(4 * (3 + 64)));
      this.rebuild();
      const w = new Worker(watcherEntry());
      w.onmessage = (ev) => {
        if (ev.data === "ready" && this.parked) {
          this.wakeups++;
          this.wake();
        }
      };
      w.onerror = (ev) => {
        log.warn("mmsg watcher worker failed; receive loop back to slices", { err: (ev as ErrorEvent).message });
        // Without a watcher the loop must not park: go back to slices, and try a new watcher next time.
        this.watcher = null;
        this.wake();
      };
      (w as unknown as { unref(): void }).unref(); // a parked loop must not keep the process alive by itself
      w.postMessage(this.shared.buffer);
      this.watcher = w;
    }
    Atomics.store(this.shared, 0, 1);
    Atomics.notify(this.shared, 0);
  }

  private stopWatcher(): void {
    if (!this.watcher) return;
    Atomics.store(this.shared, 1, 1);
    Atomics.notify(this.shared, 0);
    const w = this.watcher;
    this.watcher = null;
    setTimeout(() => w.terminate(), 1000).unref(); // it sees the stop flag within its 200 ms check
  }

  /**
   * One slice of at most SLICE_MS: read every socket, answer (each socket's onBatch sends what its batch
   * produced), and when nothing is waiting, sleep in poll() for the rest of the slice. Then the event loop gets
   * its turn, so timers, TCP, HTTP and upstream answers wait at most one slice; an event-loop turn per
   * datagram was most of the cost this backend exists to avoid.
   */
  /** Whether any socket's owner awaits answers that arrive through the event loop. */
  private awaiting(): boolean {
    for (const s of this.socks) if (s.awaiting()) return true;
    return false;
  }

  /** Whether any socket's owner has I/O waiting on the event loop (upstream answers, TCP). */
  private otherWork(): boolean {
    for (const s of this.socks) if (s.otherWork()) return true;
    return false;
  }

  private readonly turn = (): void => {
    const now = performance.now();
    let quiet = !this.otherWork();
    let end = now + (quiet ? QUIET_SLICE_MS : SLICE_MS);
    if (quiet) this.quietSlices++;
    for (;;) {
      if (this.socks.length === 0) {
        this.running = false;
        return;
      }
      let got = 0;
      let full = false; // a socket filled a whole batch: more is likely waiting, read again at once
      for (const s of this.socks) {
        const n = s.receive();
        got += n;
        if (n === BATCH) full = true;
      }
      const t = performance.now();
      if (got > 0) this.lastData = t;
      if (quiet && got > 0 && this.otherWork()) {
        // A datagram started something the event loop must finish (an upstream query): back to short slices.
        quiet = false;
        end = Math.min(end, now + SLICE_MS);
      }
      const left = end - t;
      if (left <= 0) break;
      if (!full && got >= COALESCE_MIN && this.coalesceUs > 0 && left * 1000 > this.coalesceUs) {
        // Under load: let the next datagrams gather for a moment instead of waking for each one or two. Every
        // wake-up costs a context switch here and one on the client's side per answer batch; waiting out a short
        // window makes batches several times bigger, for at most the window in latency. Light traffic (a
        // datagram or none per read) goes to poll() below and waits for nothing.
        libc!.usleep(this.coalesceUs);
        this.coalesced++;
        continue;
      }
      if (!full) {
        // Otherwise wait in poll(): it returns at once if a datagram came in meanwhile, which saves the empty
        // recvmmsg per datagram that reading until EAGAIN would cost.
        // Nothing came: park when idle, and also while answers from upstreams are awaited — each exchange of a
        // miss needs event-loop turns (socket, send, answer), and a poll() here would hold every one up.
        const awaiting = this.awaiting();
        if (got === 0 && (t - this.lastData > IDLE_AFTER_MS || awaiting)) return this.park();
        if (awaiting) break; // what was just read may have started exchanges: the event loop sends them now
        libc!.poll(ptr(this.pfds), this.socks.length, Math.ceil(left)); // ms; at least 1: never a spin
      }
    }
    setImmediate(this.turn);
  };
}

const loop = new Loop();

/** The receive loop's state, for tests. */
export function mmsgLoopState(): { parked: boolean; wakeups: number; coalesced: number; quietSlices: number } {
  return { parked: loop.isParked, wakeups: loop.wakeups, coalesced: loop.coalesced, quietSlices: loop.quietSlices };
}

export interface MmsgOptions extends Pick<UdpConfig, "receive_buffer_bytes">, Partial<Pick<UdpConfig, "coalesce_us">> {
  reusePort: boolean;
  /**
   * True while the event loop has I/O waiting that should not wait long (upstream queries in flight, TCP
   * connections open): slices stay at SLICE_MS. When absent or false, slices may last QUIET_SLICE_MS.
   */
  otherWork?: () => boolean;
  /**
   * True while misses wait for upstream (or authoritative) answers: a read that brings nothing then parks the
   * loop on its watcher instead of sleeping in poll(), so the event loop runs their exchanges at once.
   */
  awaiting?: () => boolean;
}

/** Opens a UDP socket on host:port (port 0: any) served by the shared receive loop. */
export function openMmsg(host: string, port: number, opts: MmsgOptions, onData: OnDatagram, onBatch: () => void): DatagramSocket {
  const why = mmsgUnsupported();
  if (why) throw new Error(`udp backend "mmsg" ${why}`);
  const c = libc!;
  const v6 = isIP(host) === 6;
  const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError("socket");
  const int = new Int32Array(1);
  const setInt = (level: number, opt: number, value: number, what: string) => {
    int[0] = value;
    if (c.setsockopt(fd, level, opt, ptr(int), 4) !== 0) {
      const err = sysError(what);
      c.close(fd);
      throw err;
    }
  };
  setInt(SOL_SOCKET, SO_RCVBUF, opts.receive_buffer_bytes, "setsockopt SO_RCVBUF");
  if (opts.reusePort) {
    setInt(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR");
    setInt(SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt SO_REUSEPORT");
  }
  // IPV6_V6ONLY is left at the system default, like Bun.udpSocket: "::" is dual-stack, and its IPv4 clients
  // arrive as ::ffff:a.b.c.d (which ACLs and the answer path both understand).
  const sa = new Uint8Array(NAME_SIZE);
  const len = writeSockaddr(sa, 0, host, port, v6);
  if (c.bind(fd, ptr(sa), len) !== 0) {
    const err = sysError(`bind ${host}:${port}`);
    c.close(fd);
    throw err;
  }
  const nameLen = new Uint32Array([NAME_SIZE]);
  c.getsockname(fd, ptr(sa), ptr(nameLen));
  const bound = (sa[2]! << 8) | sa[3]!;
  // One loop serves the process and uses the largest coalescing window of its sockets.
  const s = new MmsgSocket(fd, bound, v6, onData, onBatch, opts.coalesce_us ?? 0, opts.otherWork, opts.awaiting);
  loop.add(s);
  return s;
}
