// The reference validators pointed at a signed world: Unbound 1.17 as a validating full resolver (root hints
// and the test root's trust anchor), and how a verdict is read off dig's and delv's output, so that any
// resolver under test (bunbound's validator too) is asked the same way.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { udpAsk } from "../dns";
import { buildQuery } from "../../conformance/query";
import { freePort } from "../../conformance/servers";
import type { Verdict } from "./plan";
import { which } from "./sign";

export interface Resolver {
  port: number;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

/** Unbound processes still running: killed when the test process exits, however it ends. */
const live = new Set<import("bun").Subprocess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

const readOr = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

/**
 * Unbound validating from the world's root (module-config "validator iterator"), on 127.0.0.1 and a free port,
 * EDE on. The world's servers are on 127/8, which Unbound will not ask unless told (do-not-query-localhost).
 */
export async function startValidatingUnbound(world: { hints: string; anchorFile: string }, extra: string[] = []): Promise<Resolver> {
  const unbound = which("unbound");
  if (!unbound) throw new Error("unbound is not installed (apt-get install -y unbound)");
  const dir = mkdtempSync(join(tmpdir(), "signed-world-unbound-"));
  const port = await freePort();
  const conf = join(dir, "unbound.conf");
  const logFile = join(dir, "unbound.log");
  writeFileSync(
    conf,
    [
      "server:",
      `  interface: 127.0.0.1@${port}`,
      `  port: ${port}`,
      "  do-ip4: yes",
      "  do-ip6: no",
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      `  logfile: "${logFile}"`,
      "  use-syslog: no",
      "  log-time-ascii: yes",
      "  verbosity: 1",
      "  val-log-level: 2",
      "  num-threads: 1",
      "  so-reuseport: no",
      "  access-control: 127.0.0.0/8 allow",
      "  do-not-query-localhost: no",
      `  root-hints: "${world.hints}"`,
      `  trust-anchor-file: "${world.anchorFile}"`,
      '  module-config: "validator iterator"',
      // Each case is decided by its own proofs, not by NSEC records cached from an earlier one.
      "  aggressive-nsec: no",
      "  prefetch: no",
      "  ede: yes",
      ...extra.map((l) => `  ${l}`),
      "remote-control:",
      "  control-enable: no",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn([unbound, "-d", "-c", conf], { stdin: "ignore", stdout: Bun.file(join(dir, "unbound.out")), stderr: Bun.file(join(dir, "unbound.err")) });
  live.add(proc);
  const log = () => `${readOr(logFile)}${readOr(join(dir, "unbound.err"))}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      if (!(await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]))) proc.kill("SIGKILL");
    }
    await proc.exited;
    live.delete(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  // localhost is a built-in local zone: it answers without asking the world.
  for (const until = Date.now() + 10_000; ; ) {
    const r = await udpAsk(port, buildQuery("localhost", "A", { rd: true }), 300);
    if (r && (r[3]! & 0x0f) === 0) return { port, dir, log, stop };
    if (proc.exitCode !== null || Date.now() > until) {
      const why = `unbound ${proc.exitCode !== null ? `exited (${proc.exitCode})` : `did not answer on ${port}`} while starting:\n${log()}`;
      await stop();
      throw new Error(why);
    }
    await Bun.sleep(50);
  }
}

/** A command's output within a deadline; code -1 when it was killed at the deadline. */
async function run(cmd: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code: p.signalCode ? -1 : code, out: `${stdout}${stderr}` };
}

export interface DigAnswer {
  status: string;
  flags: string[];
  /** RFC 8914 info codes of the OPT record. */
  ede: number[];
  /** Answer-section lines, whitespace squeezed. */
  answer: string[];
  out: string;
}

/** dig +dnssec (DO=1, RD=1) at a resolver on 127.0.0.1. */
export async function dig(port: number, name: string, type: string, more: string[] = []): Promise<DigAnswer> {
  const r = await run(["dig", "@127.0.0.1", "-p", String(port), "+dnssec", "+time=8", "+tries=1", ...more, name, type], 10_000);
  const status = /status: (\w+)/.exec(r.out)?.[1] ?? (r.code === 0 ? "?" : "TIMEOUT");
  const flags = (/;; flags: ([^;]*);/.exec(r.out)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  const ede = [...r.out.matchAll(/; EDE: (\d+)/g)].map((m) => Number(m[1]));
  const lines = r.out.split("\n");
  const from = lines.findIndex((l) => l.startsWith(";; ANSWER SECTION:"));
  const answer = from < 0 ? [] : lines.slice(from + 1, lines.findIndex((l, i) => i > from && !l.trim())).map((l) => l.trim().split(/\s+/).join(" "));
  return { status, flags, ede, answer, out: r.out };
}

/** SERVFAIL is bogus (RFC 4035 5.5), AD=1 secure, any other answer insecure. */
export function verdictOf(a: DigAnswer): Verdict {
  if (a.status === "SERVFAIL") return "bogus";
  return a.flags.includes("ad") ? "secure" : "insecure";
}

/**
 * delv's own validation from the test root's trust anchor, asking the resolver at `port` with CD=1 (so that a
 * validating resolver hands it bogus data too); null when delv's output says none of the known outcomes.
 */
export async function delv(port: number, delvAnchorFile: string, name: string, type: string): Promise<{ verdict: Verdict | null; out: string }> {
  const r = await run(["delv", "@127.0.0.1", "-p", String(port), "-a", delvAnchorFile, "+root=.", "+cdflag", "+nottl", name, type], 15_000);
  const verdict = /; (negative response, )?fully validated/.test(r.out)
    ? "secure"
    : /; (negative response, )?unsigned answer/.test(r.out)
      ? "insecure"
      : /resolution failed|validation failed|broken trust chain|insecurity proof failed/.test(r.out)
        ? "bogus"
        : null;
  return { verdict, out: r.out };
}
