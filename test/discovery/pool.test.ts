import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscoveryPool, type PoolOptions } from "../../src/discovery/pool";
import type { DiscoveryResult } from "../../src/discovery/methods";
import { TaskManager } from "../../src/lifecycle/tasks";
import { defaults } from "../helpers/pipeline";

const dir = mkdtempSync(join(tmpdir(), "bunbound-pool-"));
const leases = join(dir, "dnsmasq.leases");
writeFileSync(leases, ["50", "51", "52"].map((n) => `1700000000 aa:bb:cc:dd:ee:${n} 192.168.1.${n} host${n} *`).join("\n") + "\n");
/** The dhcp method only, from the test's lease file; nothing else is asked (port 9 is the discard port). */
const settings: PoolOptions = {
  ...defaults.discovery,
  methods: ["dhcp"],
  ptr_timeout_ms: 100,
  netbios_timeout_ms: 100,
  mdns_timeout_ms: 100,
  netbios_port: 9,
  mdns_port: 9,
  leases: [{ format: "dnsmasq", file: leases }],
};
const DNS = { host: "127.0.0.1", port: 9 };
const tm = new TaskManager();
afterAll(() => tm.stopAll(2000));

describe("discovery pool dispatcher", () => {
  test("jobs held back by the rate limit are offered again until done; with nothing queued the dispatcher sleeps instead of ticking", async () => {
    const results: DiscoveryResult[] = [];
    const pool = new DiscoveryPool({ ...settings, workers: 1, queue_size: 16, rate: 10, burst: 1 }, DNS, (r) => results.push(r));
    let dispatches = 0;
    const dispatch = pool.dispatch.bind(pool);
    pool.dispatch = () => (dispatches++, dispatch());
    pool.start(tm);
    for (const n of ["50", "51", "52"]) expect(pool.submit(`192.168.1.${n}`, false)).toBe(true);
    // One token at a time, 10 a second: the second and third wait for the dispatcher's retries.
    for (let i = 0; i < 100 && results.length < 3; i++) await Bun.sleep(20);
    expect(results.map((r) => r.name).sort()).toEqual(["host50", "host51", "host52"]);
    expect(pool.metrics.rateLimited).toBeGreaterThan(0);
    expect(pool.depth).toBe(0);
    await Bun.sleep(100); // the last result's own dispatch call settles
    const idleFrom = dispatches;
    await Bun.sleep(500);
    // Ticking every 50 ms would be ~10 calls; an idle dispatcher makes none (its 1 s check has nothing to do).
    expect(dispatches - idleFrom).toBe(0);
    // A job held back while it slept wakes it: the second of these two waits for a retry.
    expect(pool.submit("192.168.1.50", false)).toBe(true);
    expect(pool.submit("192.168.1.51", false)).toBe(true);
    expect(pool.depth).toBe(1);
    for (let i = 0; i < 50 && results.length < 5; i++) await Bun.sleep(20);
    expect(results.length).toBe(5);
  });
});


/** A started pool with its own task manager and a clock the test moves. */
function pool(over: Partial<PoolOptions> = {}) {
  const clock = { t: 0 };
  const tasks = new TaskManager();
  const results: DiscoveryResult[] = [];
  const p = new DiscoveryPool({ ...settings, workers: 4, queue_size: 16, rate: 1000, burst: 100, breaker_failures: 50, idle_ms: 30, ...over }, DNS, (r) => results.push(r), () => clock.t);
  p.start(tasks);
  stops.push(() => tasks.stopAll(2000));
  return { p, tasks, clock, results };
}
const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const s of stops) await s();
});
async function until(ok: () => boolean, ms = 3000): Promise<void> {
  for (const end = performance.now() + ms; !ok() && performance.now() < end; ) await Bun.sleep(5);
}

describe("discovery workers: started by work, let go when idle", () => {
  test("no worker is started until the first job arrives; the dispatcher alone is a task", async () => {
    const { p, tasks, results } = pool();
    await Bun.sleep(50);
    expect(p.liveWorkers).toBe(0);
    expect(tasks.byCategory()).toEqual({ discovery: 1 });
    expect(p.submit("192.168.1.50", false)).toBe(true);
    await until(() => results.length === 1);
    expect(results[0]!.name).toBe("host50");
    expect(p.liveWorkers).toBe(1);
    expect(tasks.byCategory()["discovery-workers"]).toBe(1);
  });

  test("as many workers start as the queued work needs, never more than `workers`", async () => {
    const { p, results } = pool({ workers: 2 });
    for (const n of ["50", "51", "52"]) p.submit(`192.168.1.${n}`, false);
    expect(p.liveWorkers).toBe(2);
    expect(p.depth).toBe(1);
    await until(() => results.length === 3);
    expect(results.map((r) => r.name).sort()).toEqual(["host50", "host51", "host52"]);
    expect(p.metrics.workerStarts).toBe(2);
  });

  test("a job held back by the rate limit starts no worker", async () => {
    const { p } = pool({ rate: 0.001, burst: 1 });
    p.submit("192.168.1.50", false);
    p.submit("192.168.1.51", false);
    expect(p.liveWorkers).toBe(1);
    expect(p.depth).toBe(1);
  });

  test("an idle worker is let go once the idle period has passed on the pool's clock, and not before", async () => {
    const { p, tasks, clock, results } = pool();
    p.submit("192.168.1.50", false);
    await until(() => results.length === 1);
    await Bun.sleep(100); // more than idleMs of real time, but the clock has not moved
    expect(p.liveWorkers).toBe(1);
    clock.t += 30;
    await until(() => p.liveWorkers === 0);
    expect(p.liveWorkers).toBe(0);
    expect(p.metrics.idleStops).toBe(1);
    expect(tasks.byCategory()["discovery-workers"]).toBeUndefined();
  });

  test("a job after the idle stop starts a new worker and completes", async () => {
    const { p, clock, results } = pool();
    p.submit("192.168.1.50", false);
    await until(() => results.length === 1);
    clock.t += 30;
    await until(() => p.liveWorkers === 0);
    expect(p.submit("192.168.1.51", false)).toBe(true);
    await until(() => results.length === 2);
    expect(results[1]!.name).toBe("host51");
    expect(p.metrics.workerStarts).toBe(2);
  });

  test("shutdown stops every worker: none is left, and later jobs stay queued without starting one", async () => {
    const { p, tasks, results } = pool();
    for (const n of ["50", "51", "52"]) p.submit(`192.168.1.${n}`, false);
    await until(() => results.length === 3);
    expect(p.liveWorkers).toBe(3);
    expect(await tasks.stopAll(2000)).toEqual([]);
    expect(p.liveWorkers).toBe(0);
    expect(tasks.byCategory()).toEqual({});
    p.submit("192.168.1.50", false);
    expect(p.liveWorkers).toBe(0);
  });
});
