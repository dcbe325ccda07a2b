// Floor of UDP cost through libc recvmmsg/sendmmsg (bun:ffi): echoes each query back with QR set, no DNS work.
// For `MODE=echo bun run bench:e2e` (issue 7). Usage: bun bench/echo-mmsg.ts PORT
import { dlopen, FFIType, ptr } from "bun:ffi";
const { symbols: c } = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  sendmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
});
const AF_INET = 2, SOCK_DGRAM = 2, MSG_DONTWAIT = 0x40;
const port = Number(process.argv[2] ?? 5320);
const fd = c.socket(AF_INET, SOCK_DGRAM, 0);
const sa = new Uint8Array(16);
sa[0] = AF_INET; sa[2] = port >> 8; sa[3] = port & 255; sa[4] = 127; sa[7] = 1;
if (c.bind(fd, ptr(sa), 16) !== 0) throw new Error("bind");
const B = 64, SZ = 4096;
const bufs = new Uint8Array(B * SZ);
const names = new Uint8Array(B * 16);
const iov = new BigUint64Array(B * 2);
const hdrs = new ArrayBuffer(B * 64);
const hv = new DataView(hdrs);
const h32 = new Uint32Array(hdrs);
const bufBase = BigInt(ptr(bufs)), nameBase = BigInt(ptr(names)), iovBase = BigInt(ptr(iov));
for (let i = 0; i < B; i++) {
  iov[i * 2] = bufBase + BigInt(i * SZ); iov[i * 2 + 1] = BigInt(SZ);
  hv.setBigUint64(i * 64, nameBase + BigInt(i * 16), true);
  hv.setUint32(i * 64 + 8, 16, true);
  hv.setBigUint64(i * 64 + 16, iovBase + BigInt(i * 16), true);
  hv.setBigUint64(i * 64 + 24, 1n, true);
}
const hp = ptr(hdrs);
const pfd = new Int32Array(2); pfd[0] = fd; pfd[1] = 1; // events POLLIN
const pp = ptr(pfd);

for (;;) {
  for (let i = 0; i < B; i++) h32[i * 16 + 2] = 16; // msg_namelen reset
  let n = c.recvmmsg(fd, hp, B, MSG_DONTWAIT, null);
  if (n <= 0) { c.poll(pp, 1, 1000); continue; }
  for (let i = 0; i < n; i++) {
    const len = h32[i * 16 + 14]!; // msg_len at offset 56
    const o = i * SZ;
    bufs[o + 2]! |= 0x80; // QR
    iov[i * 2 + 1] = BigInt(len);
  }
  c.sendmmsg(fd, hp, n, 0);
  for (let i = 0; i < n; i++) iov[i * 2 + 1] = BigInt(SZ);

}
