// "ADDR:PORT" parsing for listeners and upstreams: IPv4 "127.0.0.1:53", IPv6 "[::1]:53", bare IPs when a
// default port applies. Only IP literals: a resolver must not need DNS to find its own sockets.
import { isIP } from "node:net";

export interface HostPort {
  host: string;
  port: number;
  family: 4 | 6;
}

export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const i = s.lastIndexOf(":");
    if (i >= 0) {
      host = s.slice(0, i);
      portText = s.slice(i + 1);
    } else host = s;
  }
  const family = isIP(host);
  if (family === 0) throw new Error(`"${text}" is not an IP address (use 1.2.3.4:53 or [::1]:53)`);
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) throw new Error(`"${text}" has a bad port`);
    port = Number(portText);
  }
  if (port === undefined) throw new Error(`"${text}" needs a port (ADDR:PORT)`);
  if (port < 0 || port > 65535) throw new Error(`"${text}": port must be 0..65535`);
  return { host, port, family: family as 4 | 6 };
}

export function formatHostPort(a: { host: string; port: number; family: 4 | 6 }): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function isLoopback(host: string): boolean {
  return host === "::1" || host.startsWith("127.") || host === "localhost";
}

/** The 16 bytes of an IPv6 address (embedded IPv4 in the last 32 bits allowed); throws when it is not one. */
export function ipv6ToBytes(text: string): number[] {
  if (isIP(text) !== 6) throw new Error(`"${text}" is not an IPv6 address`);
  let s = text;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    tail.push(...v4[1]!.split(".").map(Number));
    s = s.slice(0, -v4[1]!.length) + "0:0";
  }
  const [head, rest] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const r = rest !== undefined ? (rest ? rest.split(":") : []) : [];
  const groups = rest !== undefined ? [...h, ...Array(8 - h.length - r.length).fill("0"), ...r] : h;
  const out = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 255];
  });
  if (tail.length) out.splice(12, 4, ...tail);
  return out;
}

/** Text form of an IPv6 address (RFC 5952 style: lowercase, longest zero run as ::). */
export function ipv6FromBytes(b: Uint8Array, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[off + i]! << 8) | b[off + i + 1]!);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(w) : `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Address bytes for ACL matching: 4 for IPv4 and for IPv4-mapped IPv6 (a dual-stack socket's IPv4 client). */
function ipBytes(ip: string): number[] | null {
  const fam = isIP(ip);
  if (fam === 4) return ip.split(".").map(Number);
  if (fam !== 6) return null;
  const b = ipv6ToBytes(ip);
  const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? b.slice(12) : b;
}

/** Parses "10.0.0.0/8", "::1/128" or a bare address; throws with a reason. */
export function parseCidr(text: string): { bytes: number[]; bits: number } {
  const [addr, len] = text.split("/") as [string, string | undefined];
  const bytes = ipBytes(addr);
  if (!bytes) throw new Error(`"${text}" is not an address or CIDR prefix`);
  const bits = len === undefined ? bytes.length * 8 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) throw new Error(`"${text}" has a bad prefix length`);
  return { bytes, bits };
}

/** True when `ip` lies in one of the prefixes. */
export function inAcl(ip: string, acl: Array<{ bytes: number[]; bits: number }>): boolean {
  const b = ipBytes(ip);
  if (!b) return false;
  return acl.some((p) => {
    if (p.bytes.length !== b.length) return false;
    for (let i = 0; i < p.bits; i++) {
      const mask = 0x80 >> (i & 7);
      if ((p.bytes[i >> 3]! & mask) !== (b[i >> 3]! & mask)) return false;
    }
    return true;
  });
}

/** How an upstream is asked: DNS over UDP (TCP on TC), over TLS (RFC 7858), or over HTTPS (RFC 8484). */
export type UpstreamProtocol = "udp" | "tls" | "https";

export interface UpstreamAddress extends HostPort {
  protocol: UpstreamProtocol;
  /**
   * The name the server's certificate must carry (RFC 8310 strict profile): `#name` of a tls:// upstream, the host
   * of an https:// one; absent when a tls:// upstream gives none (its certificate must then name its address).
   */
  authName?: string;
  /** https:// only: the URL path of the DoH endpoint ("/dns-query"). */
  path?: string;
  /** The upstream as written, normalised: its label in figures and logs. */
  label: string;
}

/**
 * An upstream entry: `ADDR[:PORT]` (DNS over UDP and TCP, port 53), `tls://ADDR[:PORT][#auth-name]` (port 853),
 * or `https://HOST[:PORT]/PATH[#ADDR]` (port 443). A DoH HOST that is a name needs the `#ADDR` hint: bunbound never
 * needs DNS to reach its own upstreams.
 */
export function parseUpstream(text: string): UpstreamAddress {
  const s = text.trim();
  if (s.startsWith("tls://")) {
    const [where, name] = s.slice(6).split("#", 2) as [string, string | undefined];
    if (name !== undefined && !/^[A-Za-z0-9.-]+$/.test(name)) throw new Error(`"${text}": the auth name after # must be a host name`);
    const hp = parseHostPort(where, 853);
    return { ...hp, protocol: "tls", authName: name?.toLowerCase(), label: `tls://${formatHostPort(hp)}${name ? `#${name.toLowerCase()}` : ""}` };
  }
  if (s.startsWith("https://")) {
    const [url, hint] = s.split("#", 2) as [string, string | undefined];
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`"${text}" is not a URL (https://HOST[:PORT]/PATH[#ADDR])`);
    }
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const port = u.port ? Number(u.port) : 443;
    const literal = isIP(host);
    let addr: HostPort;
    if (hint !== undefined) addr = parseHostPort(hint, port);
    else if (literal) addr = { host, port, family: literal as 4 | 6 };
    else throw new Error(`"${text}": the host is a name; give its address after # (https://${u.host}${u.pathname}#192.0.2.1)`);
    if (u.search || u.hash) throw new Error(`"${text}": no query string in a DoH upstream's URL`);
    const path = u.pathname === "/" ? "/dns-query" : u.pathname;
    return { ...addr, protocol: "https", authName: host.toLowerCase(), path, label: `https://${u.host}${path}${hint !== undefined ? `#${formatHostPort(addr)}` : ""}` };
  }
  const hp = parseHostPort(s, 53);
  return { ...hp, protocol: "udp", label: formatHostPort(hp) };
}
