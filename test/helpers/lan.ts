// Stand-ins for LAN clients on loopback: a NetBIOS node-status responder and an mDNS (legacy unicast) responder.
import * as packet from "dns-packet";

export interface Responder {
  readonly port: number;
  /** Requests received. */
  readonly received: number;
  close(): void;
}

/** A UDP responder on `host` (a port the OS picks) answering each request with `reply(request)`, or not at all. */
async function responder(host: string, reply: (request: Uint8Array) => Uint8Array | null): Promise<Responder> {
  let received = 0;
  const sock = await Bun.udpSocket({
    hostname: host,
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, d, port, addr) {
        received++;
        const out = reply(d);
        if (out) s.send(out, port, addr);
      },
    },
  });
  return {
    port: sock.port,
    get received() {
      return received;
    },
    close: () => sock.close(),
  };
}

export const NetbiosResponder = {
  /** Answers node-status requests with a table holding a group name and then `name` as the workstation. */
  start(name: string, host = "127.0.0.1", silent = false): Promise<Responder> {
    return responder(host, (d) => {
      if (silent || d.length < 50) return null;
      const entry = (n: string, suffix: number, flags: number) => {
        const b = new Uint8Array(18);
        b.set(Buffer.from(n.toUpperCase().padEnd(15, " ").slice(0, 15)));
        b[15] = suffix;
        b[16] = flags >> 8;
        b[17] = flags & 255;
        return b;
      };
      const names = [entry("WORKGROUP", 0, 0x8400), entry(name, 0, 0x0400), entry(name, 0x20, 0x0400)];
      const rdata = new Uint8Array([names.length, ...names.flatMap((n) => [...n]), ...new Uint8Array(46)]);
      const q = d.subarray(12, 12 + 34);
      return new Uint8Array([d[0]!, d[1]!, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, ...q, 0, 0x21, 0, 1, 0, 0, 0, 0, rdata.length >> 8, rdata.length & 255, ...rdata]);
    });
  },
};

export const MdnsResponder = {
  /** Answers PTR queries for any reverse name with `name`.local. */
  start(name: string, host = "127.0.0.1"): Promise<Responder> {
    return responder(host, (d) => {
      const q = packet.decode(Buffer.from(d));
      const question = q.questions?.[0];
      if (!question || question.type !== "PTR") return null;
      return new Uint8Array(
        packet.encode({
          type: "response",
          id: q.id,
          flags: packet.AUTHORITATIVE_ANSWER,
          questions: [question],
          answers: [{ name: question.name, type: "PTR", class: "IN", ttl: 10, data: `${name}.local` }],
        }),
      );
    });
  },
};
