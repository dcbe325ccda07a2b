// The reference validators pointed at a signed world: Unbound 1.17 as a validating full resolver (root hints
// and the test root's trust anchor), and how a verdict is read off dig's and delv's output, so that any
// resolver under test (bunbound's validator too) is asked the same way.
import { rmSync } from "node:fs";
import { startUnbound, type Server } from "../../conformance/servers";
import { expect } from "bun:test";
import type { Case, Verdict } from "./plan";
import { which } from "./sign";

export type Resolver = Server;

/**
 * Unbound validating from the world's root (module-config "validator iterator", root hints and the test root's
 * trust anchor, QNAME minimisation on as by default), on 127.0.0.1 and a free port, EDE on, each case decided by
 * its own proofs (no aggressive NSEC from an earlier one). `extra` lines go into its server clause. Its directory
 * is removed when it stops.
 */
export async function startValidatingUnbound(world: { hints: string; anchorFile: string }, extra: string[] = []): Promise<Resolver> {
  if (!which("unbound")) throw new Error("unbound is not installed (apt-get install -y unbound)");
  const unbound = await startUnbound({ mode: "validate", rootHints: world.hints, trustAnchorFile: world.anchorFile, qnameMinimisation: true, extra });
  return {
    ...unbound,
    async stop() {
      await unbound.stop();
      rmSync(unbound.dir, { recursive: true, force: true });
    },
  };
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

/** An answer line without its TTL: two resolvers fetch at different moments. */
const withoutTtl = (line: string) => line.split(" ").filter((_, i) => i !== 1).join(" ");
const data = (a: DigAnswer) => a.answer.filter((l) => !/\sRRSIG\s/.test(l)).map(withoutTtl);

/**
 * One case asked of the resolver under test (`ours`) and of the reference validator (`ref`): the reference gives
 * the case's verdict (or the one the case notes for it); ours gives the case's verdict and rcode, the case's EDE
 * when bogus, and otherwise the reference's data.
 */
export function expectCase(c: Case, ours: DigAnswer, ref: DigAnswer): void {
  expect([c.name, verdictOf(ref)]).toEqual([c.name, c.unbound ?? c.verdict]);
  expect([c.name, verdictOf(ours), ours.status]).toEqual([c.name, c.verdict, c.verdict === "bogus" ? "SERVFAIL" : c.rcode]);
  if (c.verdict === "bogus" && c.ede !== undefined) expect([c.name, ours.ede]).toEqual([c.name, [c.ede]]);
  if (c.verdict !== "bogus") expect(data(ours)).toEqual(data(ref));
}
