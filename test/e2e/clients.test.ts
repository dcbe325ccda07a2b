// Client tracking and discovery in a real bunbound: the store, the API, discovery end to end against
// loopback stand-ins, restart, and a new-client storm (seed 004) under steady load.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../src/lifecycle/tasks";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { MdnsResponder, NetbiosResponder } from "../helpers/lan";
import { startBunbound, type Running } from "../helpers/proc";
import { until } from "../helpers/wait";

setDefaultTimeout(90_000);
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(toml: string, dir = mkdtempSync(join(tmpdir(), "bunbound-clients-")), flags: string[] = []): Promise<Running & { dir: string }> {
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `upstreams = []\ndata_dir = "${dir}/data"\n${toml}`);
  const b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", ...flags]);
  cleanup.push(() => b.stop("SIGKILL"));
  return Object.assign(b, { dir });
}

/** One query from a given loopback source address. */
const askFrom = (source: string, port: number, name: string, timeoutMs = 2000) => udpAsk(port, makeQuery(name), timeoutMs, "127.0.0.1", source);

const api = async (b: Running, path: string) => {
  const r = await fetch(`http://127.0.0.1:${b.httpPort}${path}`);
  return { status: r.status, body: (await r.json()) as any };
};

describe("client tracking", () => {
  test("every client that queries is stored with counts, served by /api/clients (paged, sorted) and /api/clients/{ip}", async () => {
    const b = await server(`records = ["a.lan 60 A 10.0.0.1"]\n[discovery]\nenabled = false\n`);
    for (let i = 0; i < 3; i++) await askFrom("127.0.0.2", b.udpPort, "a.lan");
    await askFrom("127.0.0.3", b.udpPort, "a.lan");
    const list = await until(() => api(b, "/api/clients?sort=queries&limit=1"), (r) => r.body.total === 2);
    expect(list.body.total).toBe(2);
    expect(list.body.clients.map((c: any) => [c.ip, c.queries])).toEqual([["127.0.0.2", 3]]);
    const page2 = await api(b, "/api/clients?sort=queries&limit=1&page=2");
    expect(page2.body.clients[0].ip).toBe("127.0.0.3");
    const one = await api(b, "/api/clients/127.0.0.2");
    expect(one.body).toMatchObject({ ip: "127.0.0.2", queries: 3, last_qname: "a.lan.", last_qtype: 1, last_rcode: 0, last_transport: "udp", transports: ["udp"] });
    expect((await api(b, "/api/clients/127.9.9.9")).status).toBe(404);
    expect((await api(b, "/api/clients/not-an-ip")).status).toBe(400);
    expect((await api(b, "/api/clients?sort=bogus")).status).toBe(400);
    expect((await api(b, "/api/clients?limit=0")).status).toBe(400);
    expect((await api(b, "/api/clients?page=x")).status).toBe(400);
  });

  test.skipIf(!Bun.which("dig"))("a client's transports are tracked: the latest one, and every one it used (UDP, TCP, DoT)", async () => {
    const b = await server(`records = ["a.lan 60 A 10.0.0.1"]\n[discovery]\nenabled = false\n`, undefined, ["--listen-tls", "127.0.0.1:0"]);
    const tls = String((b.logs.find((l) => l.msg === "bunbound started")!.listenTls as string[])[0]);
    const tlsPort = tls.slice(tls.lastIndexOf(":") + 1);
    expect(await askFrom("127.0.0.5", b.udpPort, "a.lan")).not.toBeNull();
    const dig = async (...args: string[]) => {
      const p = Bun.spawn(["dig", "-b", "127.0.0.5", "@127.0.0.1", ...args, "a.lan", "A", "+short", "+tries=1", "+time=3"], { stdout: "pipe", stderr: "pipe" });
      expect((await new Response(p.stdout).text()).trim()).toBe("10.0.0.1");
      expect(await p.exited).toBe(0);
    };
    await dig("-p", String(b.udpPort), "+tcp");
    await dig("-p", tlsPort, "+tls");
    const c = await until(() => api(b, "/api/clients/127.0.0.5"), (r) => r.status === 200 && r.body.queries === 3);
    expect(c.body).toMatchObject({ queries: 3, last_transport: "tls", transports: ["udp", "tcp", "tls"] });
  });

  test("a new client gets a placeholder row at once and is named by discovery (PTR through bunbound, NetBIOS, mDNS)", async () => {
    const nb = await NetbiosResponder.start("WINBOX", "127.0.0.21");
    const md = await MdnsResponder.start("mac", "127.0.0.22");
    cleanup.push(() => nb.close(), () => md.close());
    const b = await server(
      `records = ["a.lan 60 A 10.0.0.1", "20.0.0.127.in-addr.arpa 60 PTR laptop.lan"]\n` +
        `[discovery]\nmethods = ["ptr", "netbios", "mdns"]\nnetbios_port = ${nb.port}\nmdns_port = ${md.port}\nptr_timeout_ms = 300\nnetbios_timeout_ms = 300\nmdns_timeout_ms = 300\n`,
    );
    for (const ip of ["127.0.0.20", "127.0.0.21", "127.0.0.22"]) expect(await askFrom(ip, b.udpPort, "a.lan")).not.toBeNull();
    const names = await until(
      () => Promise.all(["127.0.0.20", "127.0.0.21", "127.0.0.22"].map((ip) => api(b, `/api/clients/${ip}`))),
      (rs) => rs.every((r) => r.status === 200 && r.body.discovering === false),
    );
    expect(names.map((r) => r.body.names.map((n: any) => `${n.source}:${n.name}`))).toEqual([["ptr:laptop.lan"], ["netbios:winbox"], ["mdns:mac.local"]]);
    const d = (await api(b, "/api/metrics/discovery")).body;
    // (bunbound's own PTR lookups come from 127.0.0.1, a client too, which discovery names "localhost")
    expect(d.succeeded).toBeGreaterThanOrEqual(3);
    expect(d.byMethod.netbios.named).toBe(1);
    expect(d.byMethod.mdns.named).toBe(1);
    expect(d.latency.count).toBe(d.total);
    expect(d.latency.maxMs).toBeGreaterThanOrEqual(d.latency.minMs);
  });

  test("a restart keeps the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bunbound-clients-"));
    const toml = `records = ["a.lan 60 A 10.0.0.1"]\n[discovery]\nenabled = false\n`;
    const first = await server(toml, dir);
    await askFrom("127.0.0.30", first.udpPort, "a.lan");
    await until(() => api(first, "/api/clients/127.0.0.30"), (r) => r.status === 200);
    expect(await first.stop()).toBe(0);
    const second = await server(toml, dir);
    const r = await until(() => api(second, "/api/clients/127.0.0.30"), (x) => x.status === 200);
    expect(r.body.queries).toBe(1);
  });
});

describe("new-client storm (seed 004)", () => {
  test("5,000 new clients in a few seconds under steady load: answers keep coming, discovery stays within its rate, drops are counted, memory and workers stay bounded, all clients are stored", async () => {
    const b = await server(`records = ["a.lan 60 A 10.0.0.1"]\n[discovery]\nqueue_size = 200\nrate = 10\nburst = 20\nworkers = 4\nptr_timeout_ms = 200\nnetbios_timeout_ms = 200\nmdns_timeout_ms = 200\n`);
    const before = (await api(b, "/healthz")).body;
    let steadyOk = 0;
    let steadyFailed = 0;
    let stop = false;
    const steady = (async () => {
      while (!stop) {
        const r = await askFrom("127.0.0.1", b.udpPort, "a.lan", 1000);
        if (r && decode(r).answers[0]?.data === "10.0.0.1") steadyOk++;
        else steadyFailed++;
      }
    })();
    const t0 = Date.now();
    const sources = Array.from({ length: 5000 }, (_, i) => `127.1.${i >> 8}.${i & 255}`);
    let stormAnswered = 0;
    for (let i = 0; i < sources.length; i += 100) {
      const answers = await Promise.all(sources.slice(i, i + 100).map((s) => askFrom(s, b.udpPort, "a.lan", 3000)));
      stormAnswered += answers.filter((a) => a !== null).length;
    }
    const stormSeconds = (Date.now() - t0) / 1000;
    stop = true;
    await steady;
    expect(stormSeconds).toBeLessThan(30);
    expect(steadyFailed).toBe(0);
    expect(steadyOk).toBeGreaterThan(20);
    expect(stormAnswered).toBeGreaterThan(4950);

    // Let the tracker catch up with what was queued, then look.
    const q = (await until(() => api(b, "/api/metrics/queue"), (r) => r.body.queue.high + r.body.queue.low === 0 && r.body.queue.processed >= stormAnswered)).body.queue;
    const d = (await until(() => api(b, "/api/metrics/discovery"), (r) => r.body.submitted + r.body.dropped >= 5000)).body;
    const w = (await api(b, "/api/metrics/workers")).body;
    const elapsed = (Date.now() - t0) / 1000 + 1;
    expect(d.total).toBeLessThanOrEqual(20 + 10 * elapsed); // never faster than burst + rate × time
    expect(d.dropped).toBeGreaterThan(0); // the discovery queue (200) overflowed and said so
    expect(d.submitted + d.dropped).toBeGreaterThanOrEqual(5000);
    expect(q.enqueuedHigh + q.enqueuedLow + q.dropped).toBeGreaterThanOrEqual(stormAnswered + steadyOk);
    expect(d.workers).toBe(4);
    expect(w.tasks["discovery-workers"]).toBe(4);
    const h = (await api(b, "/healthz")).body;
    expect(h.memory.rss - before.memory.rss).toBeLessThan(200 * 1024 * 1024);
    const stored = await until(() => api(b, "/api/clients?limit=1"), (r) => r.body.total >= 5001, 20_000);
    expect(stored.body.total).toBe(5001);
  });
});
