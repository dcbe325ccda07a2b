// The standard zones and servers, and Hierarchy, which starts them and writes the root hints.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { below, canon } from "./records";
import { AuthServer, type Behaviour, BOGUS, type Extra, type LogEntry } from "./server";
import { Zone } from "./zone";

/** A server of a world: its NS name, address, the origins of the zones it serves, and how it behaves. */
export interface ServerSpec extends Behaviour {
  name: string;
  address: string;
  zones: string[];
}

/** A leaf zone: SOA and NS for `servers` (A records for those inside it), then `body`. */
function leaf(origin: string, servers: Array<[string, string]>, body: string): string {
  const o = canon(origin);
  const ns = servers.map(([host]) => `@ NS ${host}.`);
  const glue = servers.filter(([host]) => below(canon(host), o)).map(([host, addr]) => `${host}. A ${addr}`);
  return [`$ORIGIN ${o}.`, "$TTL 3600", `@ SOA ${servers[0]![0]}. hostmaster.${o}. 1 7200 3600 1209600 300`, ...ns, ...glue, body].join("\n");
}

/** A TLD zone: negative TTL 900 as com.'s, delegations in `body`. */
function tld(origin: string, servers: Array<[string, string]>, body: string): string {
  const o = canon(origin);
  const head = [`$ORIGIN ${o}.`, "$TTL 172800", `@ 900 SOA ${servers[0]![0]}. hostmaster.nic.${o}. 1 1800 900 604800 86400`];
  return [...head, ...servers.map(([host]) => `@ NS ${host}.`), ...servers.map(([host, addr]) => `${host}. A ${addr}`), body].join("\n");
}

const txts = (owner: string, n: number, len: number): string =>
  Array.from({ length: n }, (_, i) => `${owner} TXT "${`${owner}-${String(i).padStart(2, "0")}-`.padEnd(len, "x")}"`).join("\n");

/** NS names of manyns.com.: none of them exists in nxns.org. */
export const MANY_NS = Array.from({ length: 50 }, (_, i) => `ns${String(i + 1).padStart(2, "0")}.nxns.org`);

/** The standard zones by origin. */
export const ZONES: Readonly<Record<string, string>> = {
  ".": `$ORIGIN .
$TTL 86400
@ SOA a.root-servers.test. nstld.root-servers.test. 2026120100 1800 900 604800 86400
@ 518400 NS a.root-servers.test.
@ 518400 NS b.root-servers.test.
a.root-servers.test. 518400 A 127.53.0.1
b.root-servers.test. 518400 A 127.53.0.2
test. 172800 NS a.root-servers.test.
test. 172800 NS b.root-servers.test.
com. 172800 NS a.nic.com.
com. 172800 NS b.nic.com.
a.nic.com. 172800 A 127.53.1.1
b.nic.com. 172800 A 127.53.1.2
net. 172800 NS a.nic.net.
a.nic.net. 172800 A 127.53.2.1
org. 172800 NS a.nic.org.
a.nic.org. 172800 A 127.53.3.1`,
  "test.": leaf("test.", [["a.root-servers.test", "127.53.0.1"], ["b.root-servers.test", "127.53.0.2"]], ""),
  "com.": tld("com.", [["a.nic.com", "127.53.1.1"], ["b.nic.com", "127.53.1.2"]], `
example NS ns1.example
ns1.example A 127.53.10.1
lame NS ns1.lame
lame NS ns2.lame
ns1.lame A 127.53.13.1
ns2.lame A 127.53.13.2
alllame NS ns1.alllame
alllame NS ns2.alllame
alllame NS ns3.alllame
ns1.alllame A 127.53.14.1
ns2.alllame A 127.53.14.2
ns3.alllame A 127.53.14.3
slow NS ns1.slow
slow NS ns2.slow
ns1.slow A 127.53.15.1
ns2.slow A 127.53.15.2
noedns NS ns1.noedns
ns1.noedns A 127.53.16.1
tc NS ns1.tc
ns1.tc A 127.53.17.1
oob NS ns1.oob
ns1.oob A 127.53.18.1
spoof NS ns1.spoof
ns1.spoof A 127.53.19.1
deep NS ns1.deep
ns1.deep A 127.53.20.1
loop NS ns.loop.net.
${MANY_NS.map((ns) => `manyns NS ${ns}.`).join("\n")}`),
  "net.": tld("net.", [["a.nic.net", "127.53.2.1"]], `
example NS ns.dns-host.org.
loop NS ns.loop.com.`),
  "org.": tld("org.", [["a.nic.org", "127.53.3.1"]], `
dns-host NS ns1.dns-host
ns1.dns-host A 127.53.12.1
nxns NS ns1.nxns
ns1.nxns A 127.53.21.1`),
  "example.com.": leaf("example.com.", [["ns1.example.com", "127.53.10.1"]], `
@ MX 10 mail
@ TXT "v=spf1 -all"
mail A 192.0.2.25
www A 192.0.2.1
www AAAA 2001:db8::1
www TXT "hello from www"
web CNAME www
chain CNAME web
alias CNAME www.example.net.
dname DNAME example.net.
a.b A 192.0.2.5
loop1 CNAME loop2
loop2 CNAME loop1
dangling CNAME missing
*.wild A 192.0.2.9
${txts("medium", 6, 100)}
${txts("big", 20, 100)}`),
  "example.net.": leaf("example.net.", [["ns.dns-host.org", "127.53.11.1"]], `
www A 192.0.2.2
x A 192.0.2.3`),
  "dns-host.org.": leaf("dns-host.org.", [["ns1.dns-host.org", "127.53.12.1"]], "ns A 127.53.11.1"),
  "nxns.org.": leaf("nxns.org.", [["ns1.nxns.org", "127.53.21.1"]], ""),
  "lame.com.": leaf("lame.com.", [["ns1.lame.com", "127.53.13.1"], ["ns2.lame.com", "127.53.13.2"]], "www A 192.0.2.11"),
  "alllame.com.": leaf("alllame.com.", [["ns1.alllame.com", "127.53.14.1"], ["ns2.alllame.com", "127.53.14.2"], ["ns3.alllame.com", "127.53.14.3"]], "www A 192.0.2.15"),
  "slow.com.": leaf("slow.com.", [["ns1.slow.com", "127.53.15.1"], ["ns2.slow.com", "127.53.15.2"]], "www A 192.0.2.8"),
  "noedns.com.": leaf("noedns.com.", [["ns1.noedns.com", "127.53.16.1"]], "www A 192.0.2.12"),
  "tc.com.": leaf("tc.com.", [["ns1.tc.com", "127.53.17.1"]], "www A 192.0.2.13"),
  "oob.com.": leaf("oob.com.", [["ns1.oob.com", "127.53.18.1"]], "www A 192.0.2.6"),
  "spoof.com.": leaf("spoof.com.", [["ns1.spoof.com", "127.53.19.1"]], "www A 192.0.2.7"),
  "deep.com.": leaf("deep.com.", [["ns1.deep.com", "127.53.20.1"]], "c NS ns1.c\nns1.c A 127.53.20.2"),
  "c.deep.com.": leaf("c.deep.com.", [["ns1.c.deep.com", "127.53.20.2"]], "b NS ns1.b\nns1.b A 127.53.20.3"),
  "b.c.deep.com.": leaf("b.c.deep.com.", [["ns1.b.c.deep.com", "127.53.20.3"]], "a A 192.0.2.14"),
};

/** What oob.com.'s server adds to every answer: records for names it is not authoritative for. */
export const OOB_EXTRA: Extra = {
  answers: [`www.example.com. 300 A ${BOGUS}`],
  authorities: ["example.com. 300 NS ns1.oob.com."],
  additionals: [`ns1.example.com. 300 A ${BOGUS}`],
};

const S = (name: string, address: string, zones: string[], b: Behaviour = {}): ServerSpec => ({ name, address, zones, ...b });

/** The standard servers. loop.com. and loop.net. have none: their NS names only exist in each other. */
export const WORLD: readonly ServerSpec[] = [
  S("a.root-servers.test", "127.53.0.1", [".", "test."]),
  S("b.root-servers.test", "127.53.0.2", [".", "test."]),
  S("a.nic.com", "127.53.1.1", ["com."]),
  S("b.nic.com", "127.53.1.2", ["com."]),
  S("a.nic.net", "127.53.2.1", ["net."]),
  S("a.nic.org", "127.53.3.1", ["org."]),
  S("ns1.example.com", "127.53.10.1", ["example.com."]),
  S("ns.dns-host.org", "127.53.11.1", ["example.net."]),
  S("ns1.dns-host.org", "127.53.12.1", ["dns-host.org."]),
  S("ns1.lame.com", "127.53.13.1", ["lame.com."], { lame: "refused" }),
  S("ns2.lame.com", "127.53.13.2", ["lame.com."]),
  S("ns1.alllame.com", "127.53.14.1", ["alllame.com."], { lame: "refused" }),
  S("ns2.alllame.com", "127.53.14.2", ["alllame.com."], { lame: "servfail" }),
  S("ns3.alllame.com", "127.53.14.3", ["alllame.com."], { lame: "upward" }),
  S("ns1.slow.com", "127.53.15.1", ["slow.com."], { silent: true }),
  S("ns2.slow.com", "127.53.15.2", ["slow.com."]),
  S("ns1.noedns.com", "127.53.16.1", ["noedns.com."], { formerrEdns: true }),
  S("ns1.tc.com", "127.53.17.1", ["tc.com."], { alwaysTruncate: true }),
  S("ns1.oob.com", "127.53.18.1", ["oob.com."], { extra: OOB_EXTRA }),
  S("ns1.spoof.com", "127.53.19.1", ["spoof.com."], { spoofFrom: "127.53.66.1" }),
  S("ns1.deep.com", "127.53.20.1", ["deep.com."]),
  S("ns1.c.deep.com", "127.53.20.2", ["c.deep.com."]),
  S("ns1.b.c.deep.com", "127.53.20.3", ["b.c.deep.com."]),
  S("ns1.nxns.org", "127.53.21.1", ["nxns.org."]),
];

/** Writes a root hints file in the shape of IANA's named.root: NS of the root, then each server's address. */
export function writeRootHints(path: string, servers: ReadonlyArray<{ name: string; address: string }>): void {
  const lines = ["; root hints of the loopback test world", ";"];
  for (const s of servers) {
    const host = `${canon(s.name)}.`;
    lines.push(`${".".padEnd(27)} 3600000      NS    ${host}`, `${host.padEnd(27)} 3600000      ${s.address.includes(":") ? "AAAA" : "A   "}  ${s.address}`, ";");
  }
  writeFileSync(path, `${lines.join("\n")}\n; End of file\n`);
}

export interface HierarchyOptions {
  /** The port every server listens on; by default a free one in 20000–60000. */
  port?: number;
  /** Master-file text by origin ("example.com."): replaces a standard zone, or adds one a server in `servers` names. */
  zones?: Record<string, string>;
  /** Behaviour of standard servers by name, merged over theirs (e.g. { "ns1.example.com": { delayMs: 200 } }). */
  behaviour?: Record<string, Behaviour>;
  /** More servers; their delegations come from zone overrides. */
  servers?: ServerSpec[];
}

export class Hierarchy {
  readonly servers: ReadonlyMap<string, AuthServer>;

  private constructor(
    readonly port: number,
    servers: AuthServer[],
    private readonly dir: string,
    /** The root hints file. */
    readonly hints: string,
  ) {
    this.servers = new Map(servers.map((s) => [s.name, s]));
  }

  static async start(opts: HierarchyOptions = {}): Promise<Hierarchy> {
    const zones = new Map(Object.entries({ ...ZONES, ...opts.zones }).map(([origin, text]) => {
      try {
        return [canon(origin), Zone.parse(text, origin)] as const;
      } catch (err) {
        throw new Error(`zone ${origin}: ${(err as Error).message}`);
      }
    }));
    for (const name of Object.keys(opts.behaviour ?? {})) if (!WORLD.some((s) => s.name === name)) throw new Error(`no standard server ${name}`);
    const specs = [...WORLD.map((s) => ({ ...s, ...opts.behaviour?.[s.name] })), ...(opts.servers ?? [])];
    const served = specs.map((spec) =>
      spec.zones.map((o) => {
        const z = zones.get(canon(o));
        if (!z) throw new Error(`${spec.name}: no zone ${o}`);
        return z;
      }),
    );
    // Every server shares the port, so 0 (each its own) would not make one world: pick one instead.
    const ports = opts.port ? [opts.port] : Array.from({ length: 20 }, () => 20000 + Math.floor(Math.random() * 40000));
    let failure: unknown;
    for (const port of ports) {
      const started = await Promise.allSettled(specs.map((spec, i) => AuthServer.start({ ...spec, port, zones: served[i]! })));
      const up = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const down = started.find((r) => r.status === "rejected");
      if (!down) {
        const dir = mkdtempSync(join(tmpdir(), "bunbound-world-"));
        const hints = join(dir, "root.hints");
        writeRootHints(hints, up.filter((s) => s.zones.some((z) => z.origin === "")));
        return new Hierarchy(port, up, dir, hints);
      }
      for (const s of up) s.close();
      failure = (down as PromiseRejectedResult).reason;
    }
    throw failure;
  }

  server(name: string): AuthServer {
    const s = this.servers.get(canon(name));
    if (!s) throw new Error(`no server ${name}`);
    return s;
  }

  /** The root servers, as the hints file names them. */
  get roots(): AuthServer[] {
    return [...this.servers.values()].filter((s) => s.zones.some((z) => z.origin === ""));
  }

  /** Queries received by every server since the start or the last reset(). */
  get queries(): number {
    let n = 0;
    for (const s of this.servers.values()) n += s.queries;
    return n;
  }

  /** Every server's log, in order of arrival. */
  get log(): LogEntry[] {
    return [...this.servers.values()].flatMap((s) => s.log).sort((a, b) => a.seq - b.seq);
  }

  reset(): void {
    for (const s of this.servers.values()) s.reset();
  }

  close(): void {
    for (const s of this.servers.values()) s.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
