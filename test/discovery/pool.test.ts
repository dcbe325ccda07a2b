import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscoveryPool } from "../../src/discovery/pool";
import type { DiscoveryResult } from "../../src/discovery/methods";
import { TaskManager } from "../../src/lifecycle/tasks";

const dir = mkdtempSync(join(tmpdir(), "bunbound-pool-"));
const leases = join(dir, "dnsmasq.leases");
writeFileSync(leases, ["50", "51", "52"].map((n) => `1700000000 aa:bb:cc:dd:ee:${n} 192.168.1.${n} host${n} *`).join("\n") + "\n");
const tm = new TaskManager();
afterAll(() => tm.stopAll(2000));

describe("discovery pool dispatcher", () => {
  test("jobs held back by the rate limit are offered again until done; with nothing queued the dispatcher sleeps instead of ticking", async () => {
    const results: DiscoveryResult[] = [];
    const pool = new DiscoveryPool(
      {
        workers: 1,
        queueSize: 16,
        rate: 10,
        burst: 1,
        breakerFailures: 5,
        breakerOpenMs: 30_000,
        methods: { methods: ["dhcp"], timeoutMs: { ptr: 100, netbios: 100, mdns: 100, dhcp: 100 }, dns: { host: "127.0.0.1", port: 9 }, netbiosPort: 9, mdnsPort: 9, leases: [{ format: "dnsmasq", file: leases }] },
      },
      (r) => results.push(r),
    );
    let dispatches = 0;
    const dispatch = pool.dispatch.bind(pool);
    pool.dispatch = () => (dispatches++, dispatch());
    pool.start(tm);
    for (let i = 0; i < 50 && pool.liveWorkers === 0; i++) await Bun.sleep(20);
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
