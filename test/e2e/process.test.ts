// Whole-process tests: a real bunbound, started as a user would, with a stand-in upstream on loopback.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../src/lifecycle/tasks";
import { addrFor, decode, makeQuery, tcpAsk, udpAsk } from "../helpers/dns";
import { ROOT, startBunbound, type Running } from "../helpers/proc";
import { StandIn } from "../helpers/upstream";

setDefaultTimeout(30_000);
const dir = mkdtempSync(join(tmpdir(), "bunbound-e2e-"));
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function upstream(opts: Parameters<typeof StandIn.start>[0] = {}) {
  const s = await StandIn.start(opts);
  cleanup.push(() => s.close());
  return s;
}
async function bunbound(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const r = await startBunbound(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", ...args], { env });
  cleanup.push(() => r.stop("SIGKILL"));
  return r;
}

describe("bunbound as a process", () => {
  test("answers local names, forwards the rest over UDP and TCP, serves /healthz", async () => {
    const up = await upstream();
    const b = await bunbound(["--upstream", up.address, "--record", "a.lan 60 A 10.0.0.5"]);
    expect(decode((await udpAsk(b.udpPort, makeQuery("localhost")))!).answers![0]!.data).toBe("127.0.0.1");
    expect(decode((await udpAsk(b.udpPort, makeQuery("a.lan")))!).answers![0]!.data).toBe("10.0.0.5");
    expect(decode((await udpAsk(b.udpPort, makeQuery("www.example.org")))!).answers![0]!.data).toBe(addrFor("www.example.org"));
    expect(decode((await tcpAsk(b.udpPort, makeQuery("tcp.example.org")))!).answers![0]!.data).toBe(addrFor("tcp.example.org"));
    expect(decode((await udpAsk(b.udpPort, makeQuery("x.test")))!).rcode).toBe("NXDOMAIN");
    expect(up.received.map((r) => r.name)).toEqual(["www.example.org", "tcp.example.org"]);
    const health = (await (await fetch(`http://127.0.0.1:${b.httpPort}/healthz`)).json()) as Record<string, unknown>;
    expect(health.status).toBe("ok");
    const nf = await fetch(`http://127.0.0.1:${b.httpPort}/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: string }).error).toContain("/nope");
  });

  test("repeated questions are answered from the cache, and the cache survives a reload", async () => {
    const up = await upstream();
    const b = await bunbound(["--upstream", up.address]);
    for (let i = 0; i < 5; i++) expect(decode((await udpAsk(b.udpPort, makeQuery("cached.example")))!).answers[0]!.data).toBe(addrFor("cached.example"));
    const mark = b.logs.length;
    b.proc.kill("SIGHUP");
    await b.waitLog("configuration reloaded", 5000, mark);
    expect(decode((await tcpAsk(b.udpPort, makeQuery("CACHED.example")))!).answers[0]!.data).toBe(addrFor("cached.example"));
    expect(up.count()).toBe(1);
    const h = (await (await fetch(`http://127.0.0.1:${b.httpPort}/healthz`)).json()) as any;
    expect(h.cache.hits).toBe(5);
    expect(h.cache.entries).toBe(1);
    expect(h.upstream.servers[0].queries).toBe(1 + up.probes.length); // and the start's check for DNSSEC data
    expect(up.probes.length).toBe(1); // not asked again by the reload: same upstreams
    expect(h.upstream.servers[0].breaker).toBe("closed");
  });

  test("a truncated upstream answer is fetched again over TCP", async () => {
    const up = await upstream({ truncateUdp: true });
    const b = await bunbound(["--upstream", up.address]);
    const r = decode((await udpAsk(b.udpPort, makeQuery("tc.example", "A", { edns: 1232 })))!);
    expect(r.flag_tc).toBe(false);
    expect(r.answers![0]!.data).toBe(addrFor("tc.example"));
    expect(up.count("tcp")).toBe(1);
  });

  test("an unreachable upstream gives SERVFAIL by the deadline, with nothing left pending", async () => {
    const up = await upstream({ silent: true });
    const f = join(dir, "deadline.toml");
    writeFileSync(f, "[timeouts]\nquery_ms = 600\nupstream_ms = 250\n");
    const b = await bunbound(["--config", f, "--upstream", up.address]);
    // The first misses wait for the start's DNSSEC check of the upstream; this one is to have its whole deadline.
    await b.waitLog(/did not answer the DNSSEC check/, 5000);
    const t0 = Date.now();
    const r = await udpAsk(b.udpPort, makeQuery("gone.example"), 3000);
    const ms = Date.now() - t0;
    expect(decode(r!).rcode).toBe("SERVFAIL");
    expect(ms).toBeGreaterThanOrEqual(550);
    expect(ms).toBeLessThan(1200);
    expect(up.count()).toBeGreaterThanOrEqual(2); // retried within the deadline
    const h = (await (await fetch(`http://127.0.0.1:${b.httpPort}/healthz`)).json()) as any;
    expect(h.inflight).toBe(0);
    expect(h.upstream.open).toEqual({ udp: 0, tcp: 0 });
    expect(h.ring.udp.inUse).toBe(0);
  });

  test("spoofed upstream answers are ignored", async () => {
    const up = await upstream({ spoof: ["wrong-id", "wrong-question", "wrong-port"] });
    const b = await bunbound(["--upstream", up.address]);
    const r = decode((await udpAsk(b.udpPort, makeQuery("spoof.example")))!);
    expect(r.answers!.map((a) => a.data)).toEqual([addrFor("spoof.example")]);
  });

  test("SIGHUP applies a good config and keeps the old one when the new one is bad", async () => {
    const f = join(dir, "reload.toml");
    writeFileSync(f, 'records = ["r.lan 60 A 10.1.1.1"]\n');
    const b = await bunbound(["--config", f]);
    expect(decode((await udpAsk(b.udpPort, makeQuery("r.lan")))!).answers![0]!.data).toBe("10.1.1.1");
    writeFileSync(f, 'records = ["r.lan 60 A 10.2.2.2"]\n');
    let mark = b.logs.length;
    b.proc.kill("SIGHUP");
    await b.waitLog("configuration reloaded", 5000, mark);
    expect(decode((await udpAsk(b.udpPort, makeQuery("r.lan")))!).answers![0]!.data).toBe("10.2.2.2");
    writeFileSync(f, 'records = ["r.lan 60 A not-an-ip"]\n');
    mark = b.logs.length;
    b.proc.kill("SIGHUP");
    const rejected = await b.waitLog(/reload rejected/, 5000, mark);
    expect(JSON.stringify(rejected.problems)).toContain("records[0]");
    expect(decode((await udpAsk(b.udpPort, makeQuery("r.lan")))!).answers![0]!.data).toBe("10.2.2.2");
  });

  test("SIGTERM drains in-flight queries, then exits 0", async () => {
    const up = await upstream({ delayMs: (name) => (name === "drain.example" ? 400 : 0) });
    const b = await bunbound(["--upstream", up.address]);
    const pending = udpAsk(b.udpPort, makeQuery("drain.example"), 3000);
    await sleep(100);
    b.proc.kill("SIGTERM");
    const r = await pending;
    expect(decode(r!).answers![0]!.data).toBe(addrFor("drain.example"));
    expect(await b.proc.exited).toBe(0);
    expect(b.logs.some((l) => l.msg === "stopped")).toBe(true);
  });

  test("repeated and mixed signals never throw, hang or double-close", async () => {
    const up = await upstream({ delayMs: (name) => (name === "busy.example" ? 300 : 0) });
    const b = await bunbound(["--upstream", up.address]);
    const pending = udpAsk(b.udpPort, makeQuery("busy.example"), 3000);
    await sleep(50);
    for (const s of ["SIGHUP", "SIGTERM", "SIGINT", "SIGHUP", "SIGTERM", "SIGTERM"] as const) b.proc.kill(s);
    expect(decode((await pending)!).rcode).toBe("NOERROR");
    expect(await b.proc.exited).toBe(0);
    expect(b.logs.filter((l) => l.level === "error")).toEqual([]);
    expect(b.logs.filter((l) => l.msg === "stopped").length).toBe(1);
  });

  test("with no config file it starts on the defaults and answers localhost (no internet needed)", async () => {
    const r = await startBunbound([], { cwd: dir });
    cleanup.push(() => r.stop("SIGKILL"));
    expect(r.udpPort).toBe(5300);
    const a = decode((await udpAsk(5300, makeQuery("localhost")))!);
    expect(a.answers![0]!.data).toBe("127.0.0.1");
    const v6 = decode((await udpAsk(5300, makeQuery("localhost", "AAAA"), 2000, "::1"))!);
    expect(v6.answers![0]!.data).toBe("::1");
    const h = await fetch("http://127.0.0.1:8053/healthz");
    expect(h.status).toBe(200);
    expect(await r.stop()).toBe(0);
  });
});

describe("bad configuration", () => {
  async function run(args: string[]) {
    const p = Bun.spawn(["bun", join(ROOT, "src/cli.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    return { code, out, err };
  }
  test("a bad file names the field and the problem and exits 2", async () => {
    const f = join(dir, "bad.toml");
    writeFileSync(f, '[tcp]\nmax_connections = -1\n');
    const r = await run(["--config", f]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("tcp.max_connections");
    expect(r.err).toContain(f);
  });
  test("a bad flag exits 2 with the reason", async () => {
    const r = await run(["--listen", "localhost:53"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("listen[0]");
    const u = await run(["--bogus"]);
    expect(u.code).toBe(2);
    expect(u.err).toContain("--bogus");
  });
  test("--help and --version print and exit 0", async () => {
    const h = await run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("--upstream");
    const v = await run(["--version"]);
    expect(v.out).toMatch(/^bunbound \d+\.\d+\.\d+/);
  });
});
