import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "../../src/app";
import { loadConfig, ConfigError } from "../../src/config/load";
import { decode, makeQuery, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { StandIn } from "../helpers/upstream";
import { parsePrometheus } from "../helpers/prometheus";

let app: App & { port: number };
let up: StandIn;
let base: string;
const TOKEN = "0123456789abcdef-token";

beforeAll(async () => {
  up = await StandIn.start();
  app = await startApp({ upstream: [up.address], http: "127.0.0.1:0", record: ["a.lan 60 A 10.0.0.1"] }, (c) => {
    c.http_token = TOKEN;
    c.data_dir = `/tmp/bunbound-api-${process.pid}`;
  });
  base = `http://${app.httpAddress}`;
  for (let i = 0; i < 3; i++) await udpAsk(app.port, makeQuery("a.lan"));
  await udpAsk(app.port, makeQuery("www.example.org"));
  await udpAsk(app.port, makeQuery("www.example.org"));
});
afterAll(async () => {
  await app.shutdown();
  up.close();
});

const get = async (path: string, init?: RequestInit) => {
  const r = await fetch(base + path, init);
  const type = r.headers.get("content-type") ?? "";
  return { status: r.status, type, body: type.includes("json") ? ((await r.json()) as any) : await r.text() };
};

describe("HTTP API", () => {
  test("/metrics is valid Prometheus text with the bunbound_* families", async () => {
    const r = await get("/metrics");
    expect(r.status).toBe(200);
    expect(r.type).toContain("text/plain; version=0.0.4");
    const { types, samples } = parsePrometheus(r.body);
    for (const [name, type] of types) {
      expect(name).toMatch(/^bunbound_[a-z0-9_]+$/);
      if (type === "counter") expect(name).toMatch(/_total$/);
    }
    for (const family of ["bunbound_queries_total", "bunbound_query_duration_seconds", "bunbound_cache_hits_total", "bunbound_upstream_breaker_state", "bunbound_ring_slots_in_use", "bunbound_tcp_connections", "bunbound_jobs_total", "bunbound_client_queue_depth", "bunbound_discovery_total", "bunbound_tasks", "bunbound_process_resident_memory_bytes"])
      expect(types.has(family)).toBe(true);
    const a = samples.find((s) => s.name === "bunbound_queries_total" && s.labels.qtype === "A" && s.labels.transport === "udp" && s.labels.rcode === "NOERROR");
    expect(a!.value).toBeGreaterThanOrEqual(5);
    expect(samples.find((s) => s.name === "bunbound_cache_hits_total")!.value).toBe(1);
  });

  test("/healthz and /readyz", async () => {
    expect((await get("/healthz")).body.status).toBe("ok");
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, reasons: [] });
  });

  test("metrics groups: queue, discovery, workers, cache, upstreams", async () => {
    expect((await get("/api/metrics/cache")).body.hits).toBe(1);
    expect((await get("/api/metrics/upstreams")).body.servers[0].upstream).toBe(up.address);
    const workers = (await get("/api/metrics/workers")).body;
    expect(workers.tasks["discovery-workers"]).toBe(1); // started for the one new client, not all four
    expect(workers.threads).toMatchObject({ nice: 10, unsupported: null }); // background threads below the query thread
    expect((await get("/api/metrics/queue")).body.queue).toBeDefined();
    expect((await get("/api/metrics/discovery")).body.breaker).toBe("closed");
    expect((await get("/api/metrics/nope")).status).toBe(404);
  });

  test("the query log is bounded and newest first", async () => {
    expect((await get("/api/querylog?limit=2")).body.queries.length).toBe(2);
    const all = (await get("/api/querylog?limit=50")).body.queries as Array<{ qname: string; time: string }>;
    expect(all.find((q) => q.qname === "www.example.org.")).toMatchObject({ client: "127.0.0.1", qtype: "A", rcode: "NOERROR", transport: "udp" });
    expect([...all].sort((a, b) => b.time.localeCompare(a.time))).toEqual(all); // newest first
    expect((await get("/api/querylog?limit=0")).status).toBe(400);
    expect((await get("/api/querylog?limit=abc")).status).toBe(400);
  });

  test("mutating endpoints need the bearer token", async () => {
    expect((await get("/api/cache/flush", { method: "POST" })).status).toBe(401);
    expect((await get("/api/cache/flush", { method: "POST", headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await get("/api/cache/flush?name=www.example.org", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.body.flushed).toBe(1);
    expect(app.cache.entries).toBe(0);
    expect((await get("/api/cache/flush?name=bad%20name", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(400);
    expect((await get("/api/cache/flush")).status).toBe(405);
  });

  test("unknown paths and wrong methods get a JSON reason", async () => {
    const r = await get("/nope");
    expect(r.status).toBe(404);
    expect(r.body.error).toContain("/nope");
    expect((await get("/metrics", { method: "DELETE" })).status).toBe(405);
  });

  test("the dashboard and its assets are served from the binary's embedded files", async () => {
    const page = await get("/");
    expect(page.type).toContain("text/html");
    expect(page.body).toContain("/assets/uplot.js");
    expect((await get("/assets/uplot.js")).body).toContain("uPlot");
    expect((await get("/assets/app.js")).body).toContain("EventSource");
  });

  test("live updates arrive by Server-Sent Events about once a second", async () => {
    const r = await fetch(base + "/api/events");
    expect(r.headers.get("content-type")).toBe("text/event-stream");
    const reader = r.body!.getReader();
    const events: any[] = [];
    const t0 = Date.now();
    let text = "";
    while (events.length < 2 && Date.now() - t0 < 5000) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      const parts = text.split("\n\n");
      text = parts.pop()!;
      for (const p of parts) if (p.startsWith("data: ")) events.push(JSON.parse(p.slice(6)));
    }
    await reader.cancel();
    expect(events.length).toBe(2);
    expect(events[1]).toHaveProperty("qps");
    expect(events[1].upstreams[0].breaker).toBe("closed");
    expect(events[1].tasks.http).toBe(1);
  });

  test("a non-loopback HTTP listener without a token is refused at start", () => {
    let err: unknown;
    try {
      loadConfig({ http: "0.0.0.0:8053" }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]!.path).toBe("http_token");
  });

  test("answers still work while all this is read", async () => {
    expect(decode((await udpAsk(app.port, makeQuery("a.lan")))!).answers[0]!.data).toBe("10.0.0.1");
  });
});
