// A forwarder that strips DNSSEC signatures, as some home routers and middleboxes do: it asks a resolver over
// TCP (whole answers) and hands each answer on over UDP without its RRSIG records, on 127.0.0.1 and a port the
// OS picks. It counts the questions it relays.
import * as packet from "dns-packet";
import type { udp } from "bun";
import { tcpAsk } from "../dns";

export interface Stripper {
  port: number;
  /** Questions relayed ("name TYPE"). */
  relayed: string[];
  stop(): void;
}

export async function startStripper(resolverPort: number): Promise<Stripper> {
  const relayed: string[] = [];
  const sock: udp.Socket<"uint8array"> = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      async data(s, msg, port, address) {
        let q: packet.Packet;
        try {
          q = packet.decode(Buffer.from(msg));
        } catch {
          return;
        }
        const question = q.questions?.[0];
        if (question) relayed.push(`${question.name} ${question.type}`);
        const got = await tcpAsk(resolverPort, msg);
        if (!got) return;
        const a = packet.decode(Buffer.from(got));
        const keep = (r: packet.Answer) => r.type !== "RRSIG";
        const out = packet.encode({ ...a, answers: (a.answers ?? []).filter(keep), authorities: (a.authorities ?? []).filter(keep) });
        s.send(out, port, address);
      },
    },
  });
  return { port: sock.port, relayed, stop: () => sock.close() };
}
