// A stand-in upstream for memory benches: answers any A query with one A record (TTL 3600) derived from
// the query's ID and name length, straight from the wire. Usage: bun bench/synth-upstream.ts PORT
import dgram from "node:dgram";

const port = Number(process.argv[2] ?? 5311);
const sock = dgram.createSocket({ type: "udp4", recvBufferSize: 8 << 20 } as dgram.SocketOptions);
sock.on("message", (q, rinfo) => {
  if (q.length < 17) return;
  let end = 12;
  while (end < q.length && q[end] !== 0) end += q[end]! + 1;
  const qend = end + 5; // root label + type + class
  const out = Buffer.alloc(qend + 16);
  q.copy(out, 0, 0, qend);
  out[2] = 0x81;
  out[3] = 0x80; // QR RD RA, NOERROR
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 6); // one answer
  out.writeUInt32BE(0, 8); // NS and AR: 0 (drops the client's OPT)
  out.set([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, q[0]!, q[1]!, (end - 12) & 0xff], qend);
  sock.send(out, rinfo.port, rinfo.address);
});
sock.bind(port, "127.0.0.1", () => console.log(`synth upstream on 127.0.0.1:${port}`));
