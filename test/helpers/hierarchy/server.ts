// The authoritative stand-in and the ways it can be told to misbehave.
import type { Socket, TCPSocketListener, udp } from "bun";
import { frame } from "../../../src/wire/framing";
import { canon, type Records, toRRs } from "./records";
import { concat, encodeReply, FLAG, type Query, readQuery, SERVER_UDP_SIZE } from "./wire";
import { empty, lookup, RCODE, type Reply, Zone } from "./zone";
import { Later } from "../wait";

/** The address a spoofer's forged answers carry. */
export const BOGUS = "6.6.6.6";
/** How long after the forgery the real answer leaves. */
const SPOOF_LEAD_MS = 20;
/** Where an upward referral points: the standard world's root servers. */
const UPWARD_NS = ["a.root-servers.test", "b.root-servers.test"];

export type Lameness = "refused" | "servfail" | "upward";

export interface Extra {
  answers?: Records;
  authorities?: Records;
  additionals?: Records;
}

/** How a server misbehaves; mutable on a running server (`server.behaviour.silent = true`), except spoofFrom. */
export interface Behaviour {
  /** true is "refused"; "upward" answers a non-AA referral to the root (NS . in authority). */
  lame?: boolean | Lameness;
  /** Receives (and logs) everything, answers nothing, over UDP and TCP. */
  silent?: boolean;
  /** FORMERR without an OPT to any query with an OPT; answers queries without EDNS. */
  formerrEdns?: boolean;
  /** Over UDP TC=1 and no records; the whole answer over TCP. */
  alwaysTruncate?: boolean;
  /** Records added to every answer from the zones (e.g. out-of-bailiwick data). */
  extra?: Extra | ((q: { qname: string; qtype: string }) => Extra | undefined);
  /** Before each real UDP answer, a forged one (same ID and question, A BOGUS, AA) from spoofFrom:port. */
  spoofFrom?: string;
  delayMs?: number;
}

export interface AuthServerOptions extends Behaviour {
  address: string;
  /** 0: the OS picks (UDP first, TCP on the same port). */
  port: number;
  zones?: Array<string | Zone>;
  /** How logs and the world name it; the address by default. */
  name?: string;
}

export interface LogEntry {
  /** The server's name. */
  server: string;
  /** As received, case kept; "." for the root. */
  qname: string;
  qtype: string;
  transport: "udp" | "tcp";
  edns: boolean;
  do: boolean;
  rd: boolean;
  id: number;
  /** Order of arrival across every server of the process. */
  seq: number;
}

let arrivals = 0;

interface Conn {
  buf: Uint8Array;
  out: Uint8Array;
}

export class AuthServer {
  readonly name: string;
  readonly address: string;
  readonly log: LogEntry[] = [];
  behaviour: Behaviour;
  zones: Zone[];
  private udp?: udp.Socket<"uint8array">;
  private spoofer?: udp.Socket<"uint8array">;
  private tcp?: TCPSocketListener<Conn>;
  private readonly conns = new Set<Socket<Conn>>();
  private readonly later = new Later();
  private closed = false;

  private constructor(opts: AuthServerOptions) {
    const { address, port: _port, zones, name, ...behaviour } = opts;
    this.address = address;
    this.name = name ?? address;
    this.behaviour = behaviour;
    this.zones = (zones ?? []).map((z) => (typeof z === "string" ? Zone.parse(z) : z));
  }

  /** Binds UDP and TCP (and the spoofer's socket); rejects, with nothing left open, when an address is taken. */
  static async start(opts: AuthServerOptions): Promise<AuthServer> {
    const s = new AuthServer(opts);
    try {
      await s.bind(opts.port);
    } catch (err) {
      s.close();
      throw new Error(`${s.name} (${s.address}:${opts.port}): ${(err as Error).message}`);
    }
    return s;
  }

  private async bind(port: number): Promise<void> {
    this.udp = await Bun.udpSocket({
      hostname: this.address,
      port,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, fromPort, from) => this.onUdp(data, fromPort, from),
        error: () => {}, // ICMP unreachable from an asker that went away: a real server carries on
      },
    });
    if (this.behaviour.spoofFrom) {
      this.spoofer = await Bun.udpSocket({ hostname: this.behaviour.spoofFrom, port: this.udp.port, binaryType: "uint8array", socket: { error: () => {} } });
    }
    this.tcp = Bun.listen<Conn>({
      hostname: this.address,
      port: this.udp.port,
      exclusive: true,
      socket: {
        binaryType: "uint8array",
        open: (s) => {
          s.data = { buf: new Uint8Array(0), out: new Uint8Array(0) };
          this.conns.add(s);
        },
        data: (s, chunk: Uint8Array) => this.onTcp(s, chunk),
        drain: (s) => this.flush(s),
        close: (s) => void this.conns.delete(s),
        error: () => {},
      },
    });
  }

  get port(): number {
    return this.udp?.port ?? 0;
  }

  get queries(): number {
    return this.log.length;
  }

  reset(): void {
    this.log.length = 0;
  }

  /** Logs the query and builds the answer; null when nothing is to be sent. */
  private handle(bytes: Uint8Array, transport: "udp" | "tcp"): { query: Query; reply: Uint8Array } | null {
    const query = readQuery(bytes);
    if (!query) return null;
    const rd = (query.flags & FLAG.RD) !== 0;
    this.log.push({ server: this.name, qname: query.qname, qtype: query.qtype, transport, edns: !!query.opt, do: !!query.opt?.do, rd, id: query.id, seq: ++arrivals });
    if (this.behaviour.silent) return null;
    return { query, reply: this.respond(query, transport) };
  }

  private respond(q: Query, transport: "udp" | "tcp"): Uint8Array {
    const b = this.behaviour;
    if (q.malformed) return encodeReply(q, empty(RCODE.FORMERR), false);
    if (b.formerrEdns && q.opt) return encodeReply(q, empty(RCODE.FORMERR), false);
    const edns = !!q.opt;
    if (q.opt && q.opt.version > 0) return encodeReply(q, empty(RCODE.BADVERS), true);
    if (q.flags & FLAG.OPCODE) return encodeReply(q, empty(RCODE.NOTIMP), edns);
    const reply = this.answer(q);
    const bytes = encodeReply(q, reply, edns);
    const limit = q.opt ? Math.min(Math.max(q.opt.size, 512), SERVER_UDP_SIZE) : 512;
    if (transport === "udp" && (b.alwaysTruncate || bytes.length > limit)) return encodeReply(q, { ...empty(reply.rcode, reply.aa), tc: true }, edns);
    return bytes;
  }

  private answer(q: Query): Reply {
    const lame = this.behaviour.lame === true ? "refused" : this.behaviour.lame || undefined;
    if (lame === "refused" || q.qclass !== 1) return empty(RCODE.REFUSED);
    if (lame === "servfail") return empty(RCODE.SERVFAIL);
    if (lame === "upward") return { ...empty(RCODE.NOERROR), authorities: UPWARD_NS.map((ns) => ({ name: "", type: "NS", ttl: 518400, data: ns })) };
    const reply = lookup(this.zones, q.qname, q.qtype);
    const extra = typeof this.behaviour.extra === "function" ? this.behaviour.extra({ qname: q.qname, qtype: q.qtype }) : this.behaviour.extra;
    if (extra && reply.rcode !== RCODE.REFUSED) {
      reply.answers.push(...toRRs(extra.answers));
      reply.authorities.push(...toRRs(extra.authorities));
      reply.additionals.push(...toRRs(extra.additionals));
    }
    return reply;
  }

  private onUdp(data: Uint8Array, port: number, from: string): void {
    const handled = this.handle(data, "udp");
    if (!handled) return;
    const { query, reply } = handled;
    let delay = this.behaviour.delayMs ?? 0;
    if (this.spoofer && this.behaviour.spoofFrom && query.raw) {
      const forged = encodeReply(query, { ...empty(RCODE.NOERROR, true), answers: [{ name: canon(query.qname), type: "A", ttl: 300, data: BOGUS }] }, !!query.opt);
      this.sendUdp(this.spoofer, forged, port, from);
      delay = Math.max(delay, SPOOF_LEAD_MS);
    }
    this.later.run(delay, () => this.udp && this.sendUdp(this.udp, reply, port, from));
  }

  private sendUdp(sock: udp.Socket<"uint8array">, bytes: Uint8Array, port: number, to: string): void {
    try {
      if (!sock.closed) sock.send(bytes, port, to);
    } catch {
      // The asker closed its socket (an earlier ICMP turns into ECONNREFUSED here): as a real server, carry on.
    }
  }

  private onTcp(s: Socket<Conn>, chunk: Uint8Array): void {
    let buf = concat(s.data.buf, chunk);
    while (buf.length >= 2) {
      const len = (buf[0]! << 8) | buf[1]!;
      if (buf.length < 2 + len) break;
      const handled = this.handle(buf.slice(2, 2 + len), "tcp");
      buf = buf.subarray(2 + len);
      if (handled) this.later.run(this.behaviour.delayMs ?? 0, () => this.write(s, frame(handled.reply)));
    }
    s.data.buf = buf.slice();
  }

  private write(s: Socket<Conn>, bytes: Uint8Array): void {
    if (this.closed || !this.conns.has(s)) return;
    s.data.out = concat(s.data.out, bytes);
    this.flush(s);
  }

  private flush(s: Socket<Conn>): void {
    if (!s.data.out.length) return;
    const n = s.write(s.data.out);
    s.data.out = s.data.out.slice(Math.max(n, 0));
  }

  /** Closes every socket and drops pending answers; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.later.clear();
    this.udp?.close();
    this.spoofer?.close();
    for (const s of this.conns) s.terminate();
    this.conns.clear();
    this.tcp?.stop(true);
  }
}
