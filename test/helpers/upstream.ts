// A stand-in upstream DNS server on loopback (UDP and TCP on one port the OS picks). It answers A queries
// with addrFor(name), and can be told to delay, go silent, truncate UDP answers, or send spoofed answers
// first. It counts what it receives.
import * as packet from "dns-packet";
import type { udp, TCPSocketListener } from "bun";
import { addrFor, rcodeBits } from "./dns";
import { Later } from "./wait";

export interface StandInOptions {
  /** Delay before answering, per question name (random delays make answers go out of order). */
  delayMs?: (name: string) => number;
  silent?: boolean;
  /** Answer over UDP with TC set and no records; the full answer only over TCP. */
  truncateUdp?: boolean;
  /** Before the real answer, send these forgeries (with data 6.6.6.6). */
  spoof?: Array<"wrong-id" | "wrong-question" | "wrong-port">;
  rcode?: string;
  /** Records to answer with instead of the default A. */
  answers?: (name: string, type: string) => packet.Answer[] | undefined;
  /** Full control of a response: rcode, answer and authority records (overrides `answers`/`rcode`). */
  shape?: (name: string, type: string) => { rcode?: string; answers?: packet.Answer[]; authorities?: packet.Answer[] } | undefined;
  /** Echo the question lowercased (a server that breaks 0x20). */
  lowercaseEcho?: boolean;
  /** Header flags of every answer instead of RD|RA (an authoritative server: AA, no RA); TC and rcode still apply. */
  flags?: number;
}

export interface Received {
  name: string;
  type: string;
  id: number;
  transport: "udp" | "tcp";
  port: number;
}

/** bunbound's check of whether an upstream returns DNSSEC data (forwarding, dnssec.validate = "auto"). */
const isProbe = (q: { name: string; type: string }) => q.type === "DNSKEY" && (q.name === "" || q.name === ".");

export class StandIn {
  /** The questions received, bunbound's root DNSKEY checks (`probes`) left out. */
  readonly received: Received[] = [];
  /** Root DNSKEY questions: bunbound asking whether this upstream returns DNSSEC data. */
  readonly probes: Received[] = [];
  private udp!: udp.Socket<"uint8array">;
  private tcp!: TCPSocketListener<undefined>;
  private spoofer!: udp.Socket<"uint8array">;
  private readonly later = new Later();

  private constructor(public opts: StandInOptions) {}

  static async start(opts: StandInOptions = {}): Promise<StandIn> {
    // UDP takes any free port; TCP must get the same one, which may be taken: then try again.
    for (let attempt = 0; ; attempt++) {
      try {
        return await StandIn.tryStart(opts);
      } catch (err) {
        if (attempt >= 10) throw err;
      }
    }
  }

  private static async tryStart(opts: StandInOptions): Promise<StandIn> {
    const s = new StandIn(opts);
    s.udp = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      binaryType: "uint8array",
      socket: {
        data: (sock, data, port, address) => s.onUdp(sock, data, port, address),
        error: () => {}, // ICMP unreachable for a late answer to a closed port: expected
      },
    });
    s.spoofer = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { error: () => {} } });
    try {
      s.tcp = s.listenTcp();
    } catch (err) {
      s.udp.close();
      s.spoofer.close();
      throw err;
    }
    return s;
  }

  private listenTcp(): TCPSocketListener<undefined> {
    const s = this;
    return Bun.listen({
      hostname: "127.0.0.1",
      port: this.udp.port,
      socket: {
        binaryType: "uint8array",
        data: (sock, chunk: Uint8Array) => s.onTcp(sock, chunk),
      },
    });
  }

  get port(): number {
    return this.udp.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  count(transport?: "udp" | "tcp"): number {
    return transport ? this.received.filter((r) => r.transport === transport).length : this.received.length;
  }

  private respond(query: packet.Packet, truncated: boolean, overrides: { id?: number; name?: string; data?: string } = {}): Uint8Array {
    const q = query.questions![0]!;
    const name = overrides.name ?? (this.opts.lowercaseEcho ? q.name.toLowerCase() : q.name);
    const shaped = truncated ? undefined : this.opts.shape?.(q.name, q.type);
    const answers: packet.Answer[] =
      truncated || this.opts.rcode
        ? []
        : (shaped?.answers ??
          this.opts.answers?.(q.name, q.type) ??
          (q.type === "A" ? [{ name, type: "A", class: "IN", ttl: 300, data: overrides.data ?? addrFor(q.name) }] : []));
    return new Uint8Array(
      packet.encode({
        type: "response",
        id: overrides.id ?? query.id,
        flags: (this.opts.flags ?? packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE) | (truncated ? packet.TRUNCATED_RESPONSE : 0) | rcodeBits(shaped?.rcode ?? this.opts.rcode),
        questions: [{ ...q, name }],
        answers,
        authorities: shaped?.authorities ?? [],
      } as packet.Packet),
    );
  }

  private onUdp(sock: udp.Socket<"uint8array">, data: Uint8Array, port: number, address: string): void {
    let query: packet.Packet;
    try {
      query = packet.decode(Buffer.from(data));
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    (isProbe(q) ? this.probes : this.received).push({ name: q.name, type: q.type, id: query.id ?? 0, transport: "udp", port });
    if (this.opts.silent) return;
    for (const kind of this.opts.spoof ?? []) {
      if (kind === "wrong-id") sock.send(this.respond(query, false, { id: ((query.id ?? 0) + 1) & 0xffff, data: "6.6.6.6" }), port, address);
      if (kind === "wrong-question") sock.send(this.respond(query, false, { name: `x${q.name}`, data: "6.6.6.6" }), port, address);
      if (kind === "wrong-port") this.spoofer.send(this.respond(query, false, { data: "6.6.6.6" }), port, address);
    }
    const delay = this.opts.delayMs?.(q.name) ?? (this.opts.spoof ? 30 : 0);
    const reply = this.respond(query, this.opts.truncateUdp ?? false);
    this.later.run(delay, () => {
      try {
        if (!this.udp.closed) sock.send(reply, port, address);
      } catch {
        // The asker gave up and closed its socket (ECONNREFUSED from an earlier ICMP): as a real server, carry on.
      }
    });
  }

  private tcpBufs = new WeakMap<object, Uint8Array>();
  private onTcp(sock: import("bun").Socket<undefined>, chunk: Uint8Array): void {
    const prev = this.tcpBufs.get(sock) ?? new Uint8Array(0);
    let buf = new Uint8Array(prev.length + chunk.length);
    buf.set(prev);
    buf.set(chunk, prev.length);
    while (buf.length >= 2) {
      const len = (buf[0]! << 8) | buf[1]!;
      if (buf.length < 2 + len) break;
      const query = packet.decode(Buffer.from(buf.subarray(2, 2 + len)));
      buf = buf.slice(2 + len);
      const q = query.questions?.[0];
      if (!q) continue;
      (isProbe(q) ? this.probes : this.received).push({ name: q.name, type: q.type, id: query.id ?? 0, transport: "tcp", port: 0 });
      if (this.opts.silent) continue;
      const reply = this.respond(query, false);
      const framed = new Uint8Array(reply.length + 2);
      framed[0] = reply.length >> 8;
      framed[1] = reply.length & 0xff;
      framed.set(reply, 2);
      this.later.run(this.opts.delayMs?.(q.name) ?? 0, () => sock.write(framed));
    }
    this.tcpBufs.set(sock, buf);
  }

  close(): void {
    this.later.clear();
    this.udp.close();
    this.spoofer.close();
    this.tcp.stop(true);
  }
}
