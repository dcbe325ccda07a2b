// Floor of UDP cost through Bun.udpSocket: echoes each query back with QR set, one send per datagram, no DNS
// work. For `MODE=echo bun run bench:e2e` (issue 7). Usage: bun bench/echo-bun.ts PORT
const port = Number(process.argv[2] ?? 5321);
export {};
await Bun.udpSocket({
  hostname: "127.0.0.1",
  port,
  binaryType: "uint8array",
  socket: {
    data(sock, d, p, a) {
      d[2]! |= 0x80;
      sock.send(d, p, a);
    },
  },
});
