// The mmsg backend's idle watcher (a Bun worker; see mmsg.ts): while the receive loop is parked, this thread
// sleeps in poll() on the UDP sockets without reading them, and wakes the main thread with one message when a
// datagram is waiting. Shared state (Int32Array over a SharedArrayBuffer):
//   [0] armed: the main thread sets 1 to hand over watching; we set 0 when we post "ready"
//   [1] stop: 1 ends the worker
//   [2] count of fds, [3..] the fds
import { dlopen, FFIType, ptr } from "bun:ffi";

declare const self: Worker;

const { poll } = dlopen("libc.so.6", { poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } }).symbols;
const POLLIN = 1;
const CHECK_MS = 200; // how often a parked watch re-reads the fd list and the stop flag

self.onmessage = (ev: MessageEvent<SharedArrayBuffer>) => {
  const shared = new Int32Array(ev.data);
  const pfds = new Int32Array(128);
  for (;;) {
    Atomics.wait(shared, 0, 0, CHECK_MS); // until armed
    if (Atomics.load(shared, 1) === 1) break;
    if (Atomics.load(shared, 0) !== 1) continue;
    const n = Math.min(64, shared[2]!);
    for (let i = 0; i < n; i++) {
      pfds[i * 2] = shared[3 + i]!;
      pfds[i * 2 + 1] = POLLIN;
    }
    if (n > 0 && poll(ptr(pfds), n, CHECK_MS) > 0 && Atomics.compareExchange(shared, 0, 1, 0) === 1) self.postMessage("ready");
  }
  self.postMessage("stopped");
};
