// Default upstreams: the nameservers in /etc/resolv.conf (port 53), as a stub resolver would use them.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";

export function resolvConfNameservers(path = "/etc/resolv.conf"): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, ""); // drop an IPv6 zone index
    const fam = isIP(host);
    if (fam === 4) out.push(`${host}:53`);
    else if (fam === 6) out.push(`[${host}]:53`);
  }
  return out;
}
