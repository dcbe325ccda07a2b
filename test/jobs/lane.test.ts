import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeavyLane } from "../../src/jobs/lane";
import { ZoneSnapshot } from "../../src/zones/snapshot";
import { fixture } from "../helpers/zones";

const lanes: HeavyLane[] = [];
afterEach(() => {
  for (const l of lanes.splice(0)) l.stop();
});
function lane(maxQueue = 8, jobTimeoutMs = 20_000) {
  const l = new HeavyLane({ maxQueue, jobTimeoutMs });
  lanes.push(l);
  return l;
}
const dir = mkdtempSync(join(tmpdir(), "bunbound-lane-"));
const load = (zone = "example.lan", file = fixture("example.lan.zone"), dnssec = false) =>
  ({ kind: "load", zone, file, dnssec, algorithm: 13, keyDir: join(dir, "keys"), validity: 86400 }) as const;

describe("heavy lane", () => {
  test("a zone is parsed and packed in the worker and arrives ready to serve", async () => {
    const r = await lane().submit(load());
    expect(r.ok).toBe(true);
    if (!r.ok || r.kind !== "load") return;
    const z = new ZoneSnapshot(r.zone);
    expect(z.p.serial).toBe(2024010101);
    expect(r.zone.records).toBeGreaterThan(20);
  });

  test("a broken file comes back as an error naming file:line", async () => {
    const r = await lane().submit(load("bad.lan", fixture("bad-type.zone")));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/bad-type\.zone:6: unknown type "BOGUS"/);
  });

  test("a newer reload of a zone supersedes one still queued", async () => {
    const l = lane();
    const first = l.submit(load());
    const queued = l.submit(load());
    const newest = l.submit(load());
    expect((await first).ok).toBe(true);
    const q = await queued;
    expect(q.ok).toBe(false);
    if (!q.ok) expect(q.error).toContain("superseded");
    expect((await newest).ok).toBe(true);
    expect(l.counters.superseded).toBe(1);
  });

  test("the queue is bounded: a job beyond it is refused, not queued", async () => {
    const l = lane(2);
    const jobs = ["a.lan", "b.lan", "c.lan", "d.lan"].map((z) => l.submit(load(z, fixture("bad-nosoa.zone"))));
    const results = await Promise.all(jobs);
    expect(results.filter((r) => !r.ok && r.error.includes("queue is full")).length).toBe(1);
    expect(l.counters.rejected).toBe(1);
  });

  test("a job that overruns its deadline fails and the worker is replaced", async () => {
    const big = join(dir, "big.zone");
    const lines = ["$ORIGIN big.lan.", "$TTL 60", "@ SOA ns h 1 2 3 4 5", "@ NS ns", "ns A 10.0.0.1"];
    for (let i = 0; i < 200_000; i++) lines.push(`h${i} A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    writeFileSync(big, lines.join("\n"));
    const l = lane(8, 500);
    const r = await l.submit(load("big.lan", big));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain("deadline");
    expect(l.counters.workerRestarts).toBe(1);
    // the same lane goes on with a fresh worker
    expect((await l.submit(load())).ok).toBe(true);
  });

  test("stop is idempotent and fails what was queued", async () => {
    const l = lane();
    const a = l.submit(load());
    const b = l.submit(load("other.lan"));
    l.stop();
    l.stop();
    expect((await a).ok).toBe(false);
    expect((await b).ok).toBe(false);
    const after = await l.submit(load());
    expect(after.ok).toBe(false);
  });
});
