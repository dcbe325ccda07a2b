// Reference servers for the conformance suite: NSD (authoritative) and Unbound (forwarding, validating or
// recursive) from Debian, each on a free loopback port with its config, pid and log files in a temporary
// directory, and bunbound itself through startBunbound. A start returns once the server has answered a query.
// The signed world (helpers/signed-world) starts its NSDs and its Unbound with the same pieces.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBunbound, type Running } from "../helpers/proc";
import { buildQuery, exchange } from "./query";

/** The binaries a suite needs that are not installed; warns once naming them (the suite then skips). */
export function missingTools(tools: string[], why: string): string[] {
  const missing = tools.filter((t) => !Bun.which(t) && !Bun.which(t, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }));
  if (missing.length) console.warn(`skipping ${why}: ${missing.join(", ")} not installed (apt-get install -y nsd unbound bind9-dnsutils ldnsutils)`);
  return missing;
}

function which(tool: string): string {
  return Bun.which(tool) ?? Bun.which(tool, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) ?? tool;
}

/** A port that is free for both UDP and TCP on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = tcp.port;
    try {
      const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port });
      udp.close();
      tcp.stop(true);
      return port;
    } catch {
      tcp.stop(true);
    }
  }
  throw new Error("no free UDP+TCP port on 127.0.0.1");
}

export interface Server {
  name: string;
  port: number;
  dir: string;
  /** The server's own log file (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Asks (name, type) over UDP until a NOERROR answer arrives; throws with the log when the process exits or time runs out. */
async function waitAnswers(proc: import("bun").Subprocess, port: number, name: string, type: string, what: string, log: () => string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) while starting:\n${log()}`);
    const r = await exchange("udp", port, buildQuery(name, type, { rd: true }), 300);
    if (r && (r[3]! & 0x0f) === 0) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not answer on port ${port} within ${timeoutMs} ms:\n${log()}`);
}

/** Reference servers still running: killed when the test process exits, whatever way it ends. */
const live = new Set<import("bun").Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** `proc`, killed when the test process exits if it is still running then. */
export function track(proc: import("bun").Subprocess): import("bun").Subprocess {
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  return proc;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. */
export async function stopProc(proc: import("bun").Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!done) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

/** A log file's text, or "(no log)". */
export const readOr = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "(no log)";
  }
};

/** Runs `start(port)` on fresh ports until one binds (another process may take a port between check and bind). */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start(await freePort());
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

export interface ZoneSpec {
  name: string;
  file: string;
}

/**
 * NSD 4.6 serving `zones` with minimal-responses (as close to bunbound's minimal answers as NSD goes: it still adds
 * in-zone addresses to NS answers), one server process, no chroot, no privilege drop, no remote control, no
 * database; AXFR allowed from 127.0.0.1. Returns once every zone's SOA answers NOERROR.
 */
export async function startNsd(zones: ZoneSpec[]): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "conformance-nsd-"));
  return await onFreePort(async (port) => {
    const conf = join(dir, "nsd.conf");
    writeFileSync(
      conf,
      nsdConfig({
        dir,
        address: `127.0.0.1@${port}`,
        port,
        verbosity: 2,
        server: ["minimal-responses: yes", "round-robin: no", "refuse-any: no"],
        zones,
        zone: ["provide-xfr: 127.0.0.1 NOKEY"],
      }),
    );
    const proc = track(Bun.spawn([which("nsd"), "-d", "-c", conf], { stdin: "ignore", stdout: Bun.file(join(dir, "nsd.out")), stderr: Bun.file(join(dir, "nsd.err")) }));
    const log = () => `${readOr(join(dir, "nsd.log"))}${readOr(join(dir, "nsd.err"))}`;
    try {
      for (const z of zones) await waitAnswers(proc, port, z.name, "SOA", `nsd (zone ${z.name})`, log);
    } catch (e) {
      await stopProc(proc);
      throw e;
    }
    return { name: "nsd", port, dir, log, stop: () => stopProc(proc) };
  });
}

/**
 * NSD 4.6's config serving `zones` on `address` (NSD's form: "127.0.0.1@5353" or an address) and `port`, its
 * files (zone list, pid, log nsd.log, xfrd state) in `dir`: one server process, no chroot, no privilege drop, no
 * database, no remote control, version hidden. `server` lines (unindented) go into the server clause, `zone`
 * lines into every zone's.
 */
export function nsdConfig(o: { dir: string; address: string; port: number; verbosity: number; server?: string[]; zones: ZoneSpec[]; zone?: string[] }): string {
  const indent = (lines: string[] = []) => lines.map((l) => `  ${l}`);
  return [
    "server:",
    `  ip-address: ${o.address}`,
    `  port: ${o.port}`,
    "  do-ip4: yes",
    "  do-ip6: no",
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${o.dir}"`,
    `  zonelistfile: "${o.dir}/zone.list"`,
    '  database: ""',
    `  pidfile: "${o.dir}/nsd.pid"`,
    `  logfile: "${o.dir}/nsd.log"`,
    `  xfrdfile: "${o.dir}/xfrd.state"`,
    `  xfrdir: "${o.dir}"`,
    "  server-count: 1",
    `  verbosity: ${o.verbosity}`,
    "  hide-version: yes",
    ...indent(o.server),
    "remote-control:",
    "  control-enable: no",
    ...o.zones.flatMap((z) => ["zone:", `  name: "${z.name}"`, `  zonefile: "${z.file}"`, ...indent(o.zone)]),
    "",
  ].join("\n");
}

export interface UnboundOptions {
  /**
   * "forward": module-config iterator, a forward-zone per zone. "validate": validator iterator, the trust anchor,
   * a stub-zone per zone (or, with rootHints, from that root). In both, every question reaches the servers under
   * test (no names synthesised from cached NSEC, no prefetch, no QNAME minimisation unless asked) and EDE is on.
   * "recursive": iterator from rootHints, with Unbound's defaults (QNAME minimisation on).
   */
  mode: "forward" | "validate" | "recursive";
  /** The zones and the loopback port of the server each forward-zone or stub-zone points at. */
  zones?: Array<{ zone: string; port: number }>;
  /** A root hints file (Unbound's root-hints): resolves from that root. */
  rootHints?: string;
  /** Zone-file lines (DNSKEY or DS) of the trust anchor, validating mode: written to a file in the server's directory. */
  trustAnchor?: string;
  /** An existing trust-anchor-file instead, validating mode. */
  trustAnchorFile?: string;
  useCapsForId?: boolean;
  /** qname-minimisation; on in recursive mode unless false, off in the others unless true. */
  qnameMinimisation?: boolean;
  /** More lines for the server clause (unindented), after the others. */
  extra?: string[];
}

/**
 * Unbound 1.17 as a plain forwarder, as a validating resolver (with stub zones or from root hints), or as a full
 * resolver from root hints; one thread, on 127.0.0.1, asking servers on 127/8 (do-not-query-localhost: no).
 */
export async function startUnbound(o: UnboundOptions): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), `conformance-unbound-${o.mode}-`));
  return await onFreePort(async (port) => {
    const conf = join(dir, "unbound.conf");
    const logFile = join(dir, "unbound.log");
    const lines = [
      "server:",
      `  interface: 127.0.0.1@${port}`,
      `  port: ${port}`,
      "  do-ip4: yes",
      "  do-ip6: no",
      "  do-udp: yes",
      "  do-tcp: yes",
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      `  logfile: "${logFile}"`,
      "  use-syslog: no",
      "  log-time-ascii: yes",
      "  verbosity: 1",
      "  num-threads: 1",
      "  so-reuseport: no",
      "  access-control: 127.0.0.0/8 allow",
      "  do-not-query-localhost: no",
      `  qname-minimisation: ${(o.qnameMinimisation ?? o.mode === "recursive") ? "yes" : "no"}`,
      `  module-config: "${o.mode === "validate" ? "validator iterator" : "iterator"}"`,
    ];
    if (o.mode !== "recursive") {
      // Every question reaches the server under test: no names synthesised from cached NSEC, no prefetch.
      lines.push("  aggressive-nsec: no", "  prefetch: no", "  ede: yes", `  use-caps-for-id: ${o.useCapsForId ? "yes" : "no"}`);
    }
    if (o.rootHints) lines.push(`  root-hints: "${o.rootHints}"`);
    if (o.mode === "validate") {
      let ta = o.trustAnchorFile;
      if (!ta) {
        ta = join(dir, "trust-anchor.key");
        writeFileSync(ta, `${o.trustAnchor ?? ""}\n`);
      }
      lines.push(`  trust-anchor-file: "${ta}"`, "  val-log-level: 2");
    }
    lines.push(...(o.extra ?? []).map((l) => `  ${l}`));
    const kind = o.mode === "forward" ? "forward" : "stub";
    lines.push(...(o.zones ?? []).flatMap((z) => [`${kind}-zone:`, `  name: "${z.zone}."`, `  ${kind}-addr: 127.0.0.1@${z.port}`]));
    lines.push("remote-control:", "  control-enable: no", "");
    writeFileSync(conf, lines.join("\n"));
    const proc = track(Bun.spawn([which("unbound"), "-d", "-c", conf], { stdin: "ignore", stdout: Bun.file(join(dir, "unbound.out")), stderr: Bun.file(join(dir, "unbound.err")) }));
    const log = () => `${readOr(logFile)}${readOr(join(dir, "unbound.err"))}`;
    try {
      // localhost is one of Unbound's built-in local zones: it answers without any upstream (or priming the root).
      await waitAnswers(proc, port, "localhost", "A", `unbound (${o.mode})`, log);
    } catch (e) {
      await stopProc(proc);
      throw e;
    }
    return { name: `unbound-${o.mode}${o.useCapsForId ? "-caps" : ""}`, port, dir, log, stop: () => stopProc(proc) };
  });
}

/**
 * Signs `file` for `origin` with ldns (one ECDSA P-256 key with the SEP flag, which then also signs the zone,
 * as bunbound's single key does; NSEC, not NSEC3). Returns the signed file's path.
 */
export function ldnsSign(dir: string, file: string, origin: string): string {
  const keygen = Bun.spawnSync([which("ldns-keygen"), "-a", "ECDSAP256SHA256", "-k", origin], { cwd: dir });
  const base = keygen.stdout.toString().trim();
  if (keygen.exitCode !== 0 || !base) throw new Error(`ldns-keygen failed: ${keygen.stderr.toString()}`);
  const sign = Bun.spawnSync([which("ldns-signzone"), "-o", origin, "-f", `${file}.signed`, file, base], { cwd: dir });
  if (sign.exitCode !== 0) throw new Error(`ldns-signzone failed: ${sign.stderr.toString()}`);
  return `${file}.signed`;
}

/**
 * bunbound with a TOML config body (`upstreams`, `[[zone]]`, ...), data_dir in a temporary directory. With
 * `zone`, returns once that zone is loaded (signed, when dnssec is on): its SOA answers NOERROR, not SERVFAIL.
 */
export async function startBunboundWith(toml: string, zone?: string, dir = mkdtempSync(join(tmpdir(), "conformance-bunbound-"))): Promise<Server & { running: Running }> {
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `data_dir = "${dir}/data"\n${toml}\n`);
  // CONFORMANCE_BUNBOUND runs another build (a compiled binary, or another checkout's src/cli.ts).
  const other = process.env.CONFORMANCE_BUNBOUND;
  const cmd = other ? (other.endsWith(".ts") ? ["bun", other] : [other]) : undefined;
  const running = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "off"], { cmd });
  const log = () => running.logs.slice(-20).map((l) => JSON.stringify(l)).join("\n");
  if (zone) {
    const until = Date.now() + 20_000;
    for (;;) {
      const r = await exchange("udp", running.udpPort, buildQuery(zone, "SOA"), 500);
      if (r && (r[3]! & 0xf) === 0) break;
      if (Date.now() > until || running.proc.exitCode !== null) {
        await running.stop("SIGKILL");
        throw new Error(`bunbound did not load ${zone}:\n${log()}`);
      }
      await Bun.sleep(50);
    }
  }
  return {
    name: "bunbound",
    port: running.udpPort,
    dir,
    running,
    log,
    async stop() {
      await running.stop("SIGTERM");
    },
  };
}

/**
 * Waits for every start; the ones that came up go into `into` (so afterAll stops them) even when another failed,
 * and the first failure is thrown.
 */
export async function startAll<T extends Server[]>(into: Server[], ...starts: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(starts);
  for (const s of settled) if (s.status === "fulfilled") into.push(s.value);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Server>).value) as T;
}
