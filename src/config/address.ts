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
