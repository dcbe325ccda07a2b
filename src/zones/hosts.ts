// /etc/hosts-format files as local data: each name gets A/AAAA, each address a PTR to its first name.
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { ipv6ToBytes } from "../net/address";

const TTL = 300;

export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  const nibbles = ipv6ToBytes(ip).flatMap((b) => [b >> 4, b & 15]).map((n) => n.toString(16));
  return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

/** Record lines ('NAME TTL TYPE DATA') for the hosts file at `path`; throws "path:line: problem". */
export function hostsRecords(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: string[] = [];
  const seenPtr = new Set<string>();
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const [ip, ...names] = line.split(/\s+/) as [string, ...string[]];
    const v6 = isIPv6(ip);
    if (!isIPv4(ip) && !v6) throw new Error(`${path}:${i + 1}: "${ip}" is not an IP address`);
    if (names.length === 0) throw new Error(`${path}:${i + 1}: no host name after ${ip}`);
    for (const n of names) {
      if (!/^[A-Za-z0-9_.-]+$/.test(n) || n.includes("..")) throw new Error(`${path}:${i + 1}: "${n}" is not a host name`);
      const rec = `${n.toLowerCase()} ${TTL} ${v6 ? "AAAA" : "A"} ${ip}`;
      if (!seen.has(rec)) out.push(rec);
      seen.add(rec);
    }
    const rev = reverseName(ip);
    if (!seenPtr.has(rev)) out.push(`${rev} ${TTL} PTR ${names[0]!.toLowerCase()}`);
    seenPtr.add(rev);
  });
  return out;
}
