import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeavyLane, type LaneOptions } from "../../src/jobs/lane";
import { TaskManager } from "../../src/lifecycle/tasks";
import { ZoneSnapshot } from "../../src/zones/snapshot";
import { fixture } from "../helpers/zones";
import { defaults } from "../helpers/pipeline";

const lanes: HeavyLane[] = [];
afterEach(async () => {
  for (const l of lanes.splice(0)) await l.stop();
});
function lane(maxQueue = 8, jobTimeoutMs = 20_000) {
  const l = new HeavyLane({ jobs: { ...defaults.jobs, max_queue: maxQueue, job_timeout_ms: jobTimeoutMs } });
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

const scripted = new URL("./scripted-worker.ts", import.meta.url);
const job = (zone = "a.lan") => ({ kind: "axfr", zone, id: 1, question: new Uint8Array(0) }) as const;
/** A lane on the scripted worker, its own task manager (fast backoff) and a clock the test moves. */
function scriptedLane(over: Partial<LaneOptions["jobs"]> = {}) {
  const clock = { t: 0 };
  const tasks = new TaskManager({ initialMs: 10, maxMs: 50, resetAfterMs: 60_000 });
  const l = new HeavyLane({ jobs: { ...defaults.jobs, max_queue: 8, job_timeout_ms: 5000, idle_ms: 30, ...over }, tasks, now: () => clock.t }, scripted);
  lanes.push(l);
  return { l, tasks, clock };
}
/** Waits (a few ms at a time) until `ok`, up to `ms`. */
async function until(ok: () => boolean, ms = 2000): Promise<void> {
  for (const end = performance.now() + ms; !ok() && performance.now() < end; ) await Bun.sleep(5);
}

describe("heavy lane worker: started by work, let go when idle", () => {
  test("no worker is started until the first job is submitted", async () => {
    const { l, tasks } = scriptedLane();
    await Bun.sleep(50);
    expect(l.workerAlive).toBe(false);
    expect(tasks.byCategory().jobs).toBeUndefined();
    expect((await l.submit(job())).ok).toBe(true);
    expect(l.workerAlive).toBe(true);
    expect(l.counters.workerStarts).toBe(1);
    expect(tasks.byCategory().jobs).toBe(1);
  });

  test("the worker is let go once the idle period has passed on the lane's clock, and not before", async () => {
    const { l, tasks, clock } = scriptedLane();
    await l.submit(job());
    await Bun.sleep(100); // more than idleMs of real time, but the clock has not moved
    expect(l.workerAlive).toBe(true);
    clock.t += 30;
    await until(() => !l.workerAlive);
    expect(l.workerAlive).toBe(false);
    expect(l.counters.idleStops).toBe(1);
    expect(tasks.list().map((t) => t.name)).not.toContain("heavy-lane-worker");
  });

  test("a job that runs longer than the idle period is not cut short", async () => {
    const { l, clock } = scriptedLane();
    const slow = l.submit(job("slow-150.lan"));
    await Bun.sleep(40);
    clock.t += 1000;
    const r = await slow;
    expect(r.ok).toBe(true);
    expect(l.counters.idleStops).toBe(0);
  });

  test("a job after the idle stop starts a new worker and completes", async () => {
    const { l, clock } = scriptedLane();
    await l.submit(job());
    clock.t += 30;
    await until(() => !l.workerAlive);
    const r = await l.submit(job("b.lan"));
    expect(r.ok).toBe(true);
    expect(l.counters.workerStarts).toBe(2);
    expect(l.counters.completed).toBe(2);
  });

  test("a crashed worker fails its job and is replaced with backoff; the queued job behind it completes", async () => {
    const { l, tasks } = scriptedLane();
    const crash = l.submit(job("crash.lan"));
    const after = l.submit(job("b.lan"));
    const c = await crash;
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.error).toContain("crashed");
    expect((await after).ok).toBe(true);
    expect(l.counters.workerRestarts).toBe(1);
    expect(tasks.list().find((t) => t.name === "heavy-lane-worker")?.restarts).toBe(1);
  });

  test("shutdown through the task manager stops the worker; none is left, and the lane then stops cleanly", async () => {
    const { l, tasks } = scriptedLane();
    await l.submit(job());
    expect(l.workerAlive).toBe(true);
    expect(await tasks.stopAll(2000)).toEqual([]);
    expect(l.workerAlive).toBe(false);
    expect(tasks.byCategory()).toEqual({});
    await l.stop();
    expect((await l.submit(job())).ok).toBe(false);
  });

  test("stop() alone stops a lane's worker, with or without a task manager given", async () => {
    const own = lane();
    expect((await own.submit(load())).ok).toBe(true);
    expect(own.workerAlive).toBe(true);
    await own.stop();
    expect(own.workerAlive).toBe(false);
    const { l } = scriptedLane();
    await l.submit(job());
    await l.stop();
    expect(l.workerAlive).toBe(false);
  });
});
