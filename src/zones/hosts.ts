// /etc/hosts-format files as local data: each name gets A/AAAA, each address a PTR to its first name.
import { readFileSync, statSync } from "node:fs";
import type { TaskManager } from "../lifecycle/tasks";
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

function mtimes(files: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) {
    try {
      out.set(f, statSync(f).mtimeMs);
    } catch {
      out.set(f, 0); // gone or unreadable: a change when it comes back
    }
  }
  return out;
}

/** Watches the configured hosts files' mtimes and calls `changed` when one differs (a task-manager task). */
export class HostsWatch {
  private seen: Map<string, number>;

  constructor(
    private readonly files: () => readonly string[],
    private readonly changed: () => void,
  ) {
    this.seen = mtimes(files());
  }

  /** The files' current mtimes are the ones seen (after a reload read them). */
  reset(): void {
    this.seen = mtimes(this.files());
  }

  check(): void {
    const now = mtimes(this.files());
    if (now.size === this.seen.size && [...now].every(([f, m]) => this.seen.get(f) === m)) return;
    this.seen = now;
    this.changed();
  }

  /** Registers the check every `intervalMs` (jobs.watch_interval_ms; 0: never). */
  start(tasks: Pick<TaskManager, "every">, intervalMs: number): void {
    if (intervalMs > 0) tasks.every("hosts-file-watch", "jobs", intervalMs, () => this.check());
  }
}
