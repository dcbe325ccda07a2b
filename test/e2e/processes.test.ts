// `processes = N` in real processes: N bunbounds answer on one UDP+TCP port (SO_REUSEPORT), each with its own
// cache; the primary sums their counters into /metrics, gets their clients for its store, sends them cache
// flushes, restarts one that dies, and takes them all down on SIGTERM.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dgram from "node:dgram";
import { sleep } from "../../src/lifecycle/tasks";
import { decode, makeQuery, tcpAsk, udpAsk } from "../helpers/dns";
import { startBunbound, type Running } from "../helpers/proc";
import { until } from "../helpers/wait";
import { parsePrometheus } from "../helpers/prometheus";

setDefaultTimeout(90_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(processes: number, toml = "", upstreams = "[]"): Promise<Running & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-procs-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `upstreams = ${upstreams}\ndata_dir = "${dir}/data"\nprocesses = ${processes}\nrecords = ["a.lan 60 A 10.0.0.1"]\n[discovery]\nenabled = false\n${toml}`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  cleanup.push(() => b.stop("SIGKILL"));
  return Object.assign(b, { dir });
}

/** One query from a fresh socket (a new source port, so the kernel may pick any process), from `source`. */
const askFrom = (port: number, name: string, source = "127.0.0.1", type = "A") => udpAsk(port, makeQuery(name, type), 2000, "127.0.0.1", source);

const api = async (b: Running, path: string) => (await fetch(`http://127.0.0.1:${b.httpPort}${path}`)).json() as Promise<any>;
const metrics = async (b: Running) => {
  const { samples } = parsePrometheus(await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text());
  return {
    /** The sample with this name and these labels (all of them matching), or undefined. */
    value: (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value,
  };
};

const servingStarted = (b: Running) => b.logs.filter((l) => l.msg === "bunbound started" && l.role === "serve").length;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("processes = N", () => {
  test("three processes share the UDP and TCP port; every one answers; /metrics sums them; clients reach the primary's store", async () => {
    const b = await server(3, "[clients]\nbatch_ms = 50\n");
    await until(async () => servingStarted(b), (n) => n === 2);
    const workers = await until(() => api(b, "/api/metrics/workers"), (w) => w.processes?.every((p: any) => p.state === "running"), 15_000);
    expect(workers.processes.length).toBe(2);
    const pids = new Set<number>([b.proc.pid, ...workers.processes.map((p: any) => p.pid)]);
    expect(pids.size).toBe(3);
    // Serving processes' log lines (same stderr) say which process they come from.
    const tags = b.logs.filter((l) => l.msg === "bunbound started" && l.role === "serve").map((l) => l.process).sort();
    expect(tags).toEqual([1, 2]);

    const N = 90;
    for (let i = 0; i < N; i++) {
      const r = await askFrom(b.udpPort, "a.lan", `127.0.0.${2 + (i % 3)}`);
      expect(r).not.toBeNull();
      expect(decode(r!).answers[0]!.data).toBe("10.0.0.1");
    }
    for (let i = 0; i < 12; i++) expect(decode((await tcpAsk(b.udpPort, makeQuery("a.lan")))!).answers[0]!.data).toBe("10.0.0.1");

    // Each serving process reports once a second; the primary's /metrics is the sum over all three.
    const m = await until(() => metrics(b), (m) => m.value("bunbound_queries_received_total", { transport: "udp" }) === N && m.value("bunbound_queries_received_total", { transport: "tcp" }) === 12);
    expect(m.value("bunbound_queries_received_total", { transport: "udp" })).toBe(N);
    expect(m.value("bunbound_queries_received_total", { transport: "tcp" })).toBe(12);
    expect(m.value("bunbound_processes")).toBe(3);
    const perProcess = (await api(b, "/api/metrics/workers")).processes as Array<{ queries: number }>;
    const primaryShare = N + 12 - perProcess.reduce((n, p) => n + p.queries, 0);
    // The kernel spread 90 fresh source ports over three sockets: each process answered some.
    for (const p of perProcess) expect(p.queries).toBeGreaterThan(0);
    expect(primaryShare).toBeGreaterThan(0);

    // Clients seen by serving processes are forwarded to the primary's tracker and stored once.
    const clients = await until(() => api(b, "/api/clients?sort=queries&limit=10"), (r) => r.total >= 3 && r.clients.filter((c: any) => c.ip !== "127.0.0.1").reduce((n: number, c: any) => n + c.queries, 0) === N);
    const byIp = Object.fromEntries(clients.clients.map((c: any) => [c.ip, c.queries]));
    expect(byIp["127.0.0.2"]).toBe(N / 3);
    expect(byIp["127.0.0.3"]).toBe(N / 3);
    expect(byIp["127.0.0.4"]).toBe(N / 3);
  });

  test("client updates are stored or counted as dropped, wherever they were dropped: none is lost unaccounted", async () => {
    // Tiny queues and a burst: serving processes drop on their forwarding queues, the primary maybe on its own.
    const b = await server(3, "[clients]\nhigh_queue = 16\nlow_queue = 16\n");
    await until(() => api(b, "/api/metrics/workers"), (w) => w.processes?.every((p: any) => p.state === "running"), 15_000);
    const N = 600;
    // Each from its own address: one client's consecutive queries would fold into one queue entry and not fill it.
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => askFrom(b.udpPort, "a.lan", `127.1.${i >> 6}.${1 + (i & 63)}`)));
    expect(answers.every((a) => a !== null)).toBe(true);
    const dropped = async () => (await metrics(b)).value("bunbound_client_updates_dropped_total", { priority: "low" })! + (await metrics(b)).value("bunbound_client_updates_dropped_total", { priority: "high" })!;
    const stored = async () => ((await api(b, "/api/clients?limit=1000")).clients as Array<{ queries: number }>).reduce((n, c) => n + c.queries, 0);
    const total = await until(async () => (await stored()) + (await dropped()), (n) => n === N);
    expect(total).toBe(N);
    expect(await dropped()).toBeGreaterThan(0);
  });

  test("caches are per process, and a flush through the API empties all of them", async () => {
    // A stand-in upstream answering every A question with one A record, other types with no data.
    const up = dgram.createSocket("udp4");
    await new Promise<void>((r) => up.bind(0, "127.0.0.1", () => r()));
    up.on("message", (msg, rinfo) => {
      const q = decode(new Uint8Array(msg));
      const a = q.questions[0]!.type === "A";
      const resp = makeQuery(q.questions[0]!.name, q.questions[0]!.type, { id: q.id });
      const out = Buffer.from(resp);
      out[2] = 0x81;
      out[3] = 0x80; // QR, RD, RA
      out[7] = a ? 1 : 0; // ANCOUNT
      const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
      up.send(a ? Buffer.concat([out, rr]) : out, rinfo.port, rinfo.address);
    });
    cleanup.push(() => up.close());
    const b = await server(2, "", `["127.0.0.1:${up.address().port}"]`);
    await until(async () => servingStarted(b), (n) => n === 1);
    for (let i = 0; i < 40; i++) expect(decode((await askFrom(b.udpPort, `n${i % 5}.example`))!).answers[0]!.data).toBe("192.0.2.1");
    const filled = await until(() => metrics(b), (m) => m.value("bunbound_queries_received_total", { transport: "udp" }) === 40);
    // Five names, two processes, nothing shared: between 5 and 10 entries overall, each process its own.
    const entries = filled.value("bunbound_cache_entries")!;
    expect(entries).toBeGreaterThanOrEqual(5);
    expect(entries).toBeLessThanOrEqual(10);
    const flushed = await fetch(`http://127.0.0.1:${b.httpPort}/api/cache/flush`, { method: "POST" });
    expect(flushed.status).toBe(200);
    const after = await until(() => metrics(b), (m) => m.value("bunbound_cache_entries") === 0);
    expect(after.value("bunbound_cache_entries")).toBe(0);
  });

  test("a signed zone is served with one DNSSEC key by every process (the primary makes it before they start)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-procs-zone-"));
    const zone = join(dir, "signed.zone");
    writeFileSync(zone, "$ORIGIN signed.lan.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 10.8.8.8\n");
    const b = await server(3, `[[zone]]\nname = "signed.lan"\nfile = "${zone}"\ndnssec = true\n`);
    await until(async () => servingStarted(b), (n) => n === 2);
    const keys = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = decode((await askFrom(b.udpPort, "signed.lan", "127.0.0.1", "DNSKEY"))!);
      expect(r.answers.length).toBeGreaterThan(0);
      keys.add(JSON.stringify(r.answers.map((a) => (a.data as { key: Uint8Array }).key.toString())));
    }
    expect(keys.size).toBe(1);
  });

  test("a serving process that dies is started again; SIGTERM to the primary stops every process", async () => {
    const b = await server(2);
    const first = await until(() => api(b, "/api/metrics/workers"), (w) => w.processes?.[0]?.state === "running");
    const pid = first.processes[0].pid as number;
    process.kill(pid, "SIGKILL");
    const again = await until(() => api(b, "/api/metrics/workers"), (w) => w.processes[0].state === "running" && w.processes[0].pid !== pid);
    expect(again.processes[0].starts).toBe(2);
    expect(again.processes[0].lastExit).not.toBe(0);
    const m = await until(() => metrics(b), (m) => m.value("bunbound_serving_process_starts_total", { process: "1" }) === 2);
    expect(m.value("bunbound_serving_process_starts_total", { process: "1" })).toBe(2);
    for (let i = 0; i < 20; i++) expect(await askFrom(b.udpPort, "a.lan")).not.toBeNull();

    const newPid = again.processes[0].pid as number;
    expect(await b.stop("SIGTERM")).toBe(0);
    await until(async () => alive(newPid), (a) => !a, 10_000);
    expect(alive(newPid)).toBe(false);
  });

  test("serving processes whose primary is killed outright stop by themselves", async () => {
    const b = await server(3);
    const w = await until(() => api(b, "/api/metrics/workers"), (w) => w.processes?.every((p: any) => p.state === "running"), 15_000);
    const pids = w.processes.map((p: any) => p.pid as number);
    expect(pids.every(alive)).toBe(true);
    await b.stop("SIGKILL");
    await until(async () => pids.some(alive), (a) => !a, 15_000);
    expect(pids.filter(alive)).toEqual([]);
  });

  test("a port already taken is refused at start instead of silently shared", async () => {
    const holder = dgram.createSocket({ type: "udp4" });
    await new Promise<void>((r) => holder.bind(0, "127.0.0.1", () => r()));
    cleanup.push(() => holder.close());
    const dir = mkdtempSync(join(tmpdir(), "bunbound-procs-"));
    const proc = Bun.spawn(["bun", join(import.meta.dir, "../../src/cli.ts"), "--processes", "2", "--listen", `127.0.0.1:${holder.address().port}`, "--http", "off", "--data-dir", dir], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).not.toBe(0);
    expect(await new Response(proc.stderr).text()).toContain("EADDRINUSE");
  });

  test("--processes must be a whole number from 1 to 64", async () => {
    const proc = Bun.spawn(["bun", join(import.meta.dir, "../../src/cli.ts"), "--processes", "0", "--http", "off"], { stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(2);
    expect(await new Response(proc.stderr).text()).toContain("processes");
  });
});
