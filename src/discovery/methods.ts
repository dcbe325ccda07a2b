// Ways to name a client, each with its own timeout: reverse DNS through bunbound itself, a NetBIOS node-status
// query (RFC 1002 4.2.17/4.2.18), an mDNS reverse lookup (RFC 6762, legacy unicast), DHCP lease files
// (dnsmasq, ISC dhcpd, Kea CSV). They run inside the discovery workers, never on the query thread.
import { readFileSync, statSync } from "node:fs";
import * as packet from "dns-packet";
import { reverseName } from "../zones/hosts";

export type Method = "ptr" | "netbios" | "mdns" | "dhcp";

export interface MethodConfig {
  methods: Method[];
  timeoutMs: Record<Method, number>;
  /** bunbound's own DNS listener, for PTR. */
  dns: { host: string; port: number };
  netbiosPort: number;
  mdnsPort: number;
  leases: Array<{ format: "dnsmasq" | "isc" | "kea"; file: string }>;
}

/** One UDP request/response from a fresh socket, with a timeout; resolves to the first datagram or null. */
async function udpAsk(host: string, port: number, msg: Uint8Array, timeoutMs: number, accept: (d: Uint8Array) => boolean): Promise<Uint8Array | null> {
  let settle!: (v: Uint8Array | null) => void;
  const done = new Promise<Uint8Array | null>((r) => (settle = r));
  const sock = await Bun.udpSocket({
    hostname: host.includes(":") ? "::" : "0.0.0.0",
    binaryType: "uint8array",
    socket: {
      data: (_s, d, p, a) => {
        if (p === port && a === host && accept(d)) settle(d.slice());
      },
      error: () => settle(null),
    },
  });
  const timer = setTimeout(() => settle(null), timeoutMs);
  try {
    sock.send(msg, port, host);
    return await done;
  } finally {
    clearTimeout(timer);
    sock.close();
  }
}

function ptrQuery(ip: string, id: number): Uint8Array {
  return new Uint8Array(packet.encode({ type: "query", id, flags: packet.RECURSION_DESIRED, questions: [{ name: reverseName(ip), type: "PTR", class: "IN" }] }));
}

function ptrAnswer(d: Uint8Array): string | null {
  const m = packet.decode(Buffer.from(d));
  const a = m.answers?.find((x) => x.type === "PTR");
  return a ? String((a as { data: string }).data).replace(/\.$/, "") : null;
}

async function ptr(ip: string, cfg: MethodConfig): Promise<string | null> {
  const id = Math.floor(Math.random() * 65536);
  const r = await udpAsk(cfg.dns.host, cfg.dns.port, ptrQuery(ip, id), cfg.timeoutMs.ptr, (d) => ((d[0]! << 8) | d[1]!) === id);
  return r ? ptrAnswer(r) : null;
}

async function mdns(ip: string, cfg: MethodConfig): Promise<string | null> {
  // Legacy unicast (RFC 6762 6.7): a query from a port other than 5353 is answered straight back to it.
  const id = Math.floor(Math.random() * 65536);
  const r = await udpAsk(ip, cfg.mdnsPort, ptrQuery(ip, id), cfg.timeoutMs.mdns, () => true);
  return r ? ptrAnswer(r) : null;
}

/** The NetBIOS node-status request for "*" (RFC 1002 4.2.17). */
export function nbstatRequest(id: number): Uint8Array {
  const name = new Uint8Array(32);
  const raw = new Uint8Array(16);
  raw[0] = 0x2a; // "*", then 15 NULs
  for (let i = 0; i < 16; i++) {
    name[i * 2] = 0x41 + (raw[i]! >> 4);
    name[i * 2 + 1] = 0x41 + (raw[i]! & 15);
  }
  return new Uint8Array([id >> 8, id & 255, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 32, ...name, 0, 0, 0x21, 0, 1]);
}

/** The workstation name (suffix 0x00, unique) from a node-status response (RFC 1002 4.2.18), or null. */
export function nbstatName(d: Uint8Array): string | null {
  if (d.length < 12 + 34 + 10 + 1) return null;
  let off = 12;
  if (d[off] !== 32) return null;
  off += 34; // the 32-byte encoded name with its length byte and the root
  off += 10; // type, class, ttl, rdlength
  const count = d[off++]!;
  for (let i = 0; i < count && off + 18 <= d.length; i++, off += 18) {
    const suffix = d[off + 15]!;
    const group = (d[off + 16]! & 0x80) !== 0;
    if (suffix === 0 && !group) return String.fromCharCode(...d.subarray(off, off + 15)).trim().toLowerCase() || null;
  }
  return null;
}

async function netbios(ip: string, cfg: MethodConfig): Promise<string | null> {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return null; // NetBIOS is IPv4 only
  const id = Math.floor(Math.random() * 65536);
  const r = await udpAsk(ip, cfg.netbiosPort, nbstatRequest(id), cfg.timeoutMs.netbios, (d) => ((d[0]! << 8) | d[1]!) === id);
  return r ? nbstatName(r) : null;
}

const leaseCache = new Map<string, { mtime: number; map: Map<string, string> }>();

/** ip → hostname from one lease file, re-read only when its mtime changes. */
export function readLeases(format: "dnsmasq" | "isc" | "kea", file: string): Map<string, string> {
  let mtime = 0;
  try {
    mtime = statSync(file).mtimeMs;
  } catch {
    return new Map();
  }
  const cached = leaseCache.get(file);
  if (cached && cached.mtime === mtime) return cached.map;
  const text = readFileSync(file, "utf8");
  const map = new Map<string, string>();
  if (format === "dnsmasq") {
    // expiry mac ip hostname client-id
    for (const line of text.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 4 && f[3] !== "*") map.set(f[2]!, f[3]!);
    }
  } else if (format === "isc") {
    for (const m of text.matchAll(/lease\s+([0-9a-fA-F.:]+)\s*\{([^}]*)\}/g)) {
      const host = /client-hostname\s+"([^"]+)"/.exec(m[2]!)?.[1] ?? /hostname\s+"([^"]+)"/.exec(m[2]!)?.[1];
      if (host) map.set(m[1]!, host);
    }
  } else {
    const [head, ...rows] = text.split("\n").filter((l) => l.trim());
    const cols = (head ?? "").split(",");
    const ai = cols.indexOf("address");
    const hi = cols.indexOf("hostname");
    for (const r of rows) {
      const f = r.split(",");
      if (ai >= 0 && hi >= 0 && f[hi]) map.set(f[ai]!, f[hi]!.replace(/\.$/, ""));
    }
  }
  leaseCache.set(file, { mtime, map });
  return map;
}

function dhcp(ip: string, cfg: MethodConfig): string | null {
  for (const l of cfg.leases) {
    const name = readLeases(l.format, l.file).get(ip);
    if (name) return name;
  }
  return null;
}

export interface DiscoveryResult {
  ip: string;
  name: string | null;
  source: Method | null;
  tried: Method[];
  /** Every method failed to get any answer (timeouts, errors) rather than answering "no name". */
  unreachable: boolean;
  ms: number;
}

/** Tries the configured methods in order until one gives a name. */
export async function discover(ip: string, cfg: MethodConfig): Promise<DiscoveryResult> {
  const t0 = performance.now();
  const tried: Method[] = [];
  for (const m of cfg.methods) {
    tried.push(m);
    let name: string | null = null;
    try {
      name = m === "ptr" ? await ptr(ip, cfg) : m === "netbios" ? await netbios(ip, cfg) : m === "mdns" ? await mdns(ip, cfg) : dhcp(ip, cfg);
    } catch {
      name = null;
    }
    if (name) return { ip, name, source: m, tried, unreachable: false, ms: performance.now() - t0 };
  }
  return { ip, name: null, source: null, tried, unreachable: tried.length > 0, ms: performance.now() - t0 };
}
