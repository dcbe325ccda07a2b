import { describe, expect, test } from "bun:test";
import type { ClientStore } from "../../src/clients/store";
import type { StoreOp } from "../../src/clients/store-protocol";
import { ClientTracker } from "../../src/clients/tracker";
import { viaOf } from "../../src/clients/queue";
import { Transport } from "../../src/metrics/querystats";
import { TaskManager } from "../../src/lifecycle/tasks";
import { toWire } from "../../src/wire/name";
import { defaults } from "../helpers/pipeline";

/** A store stand-in that records batches. */
function fakeStore() {
  const ops: StoreOp[] = [];
  return { ops, store: { request: async (op: StoreOp) => (ops.push(op), op.op === "known" ? [] : {}) } as unknown as ClientStore };
}
const name = toWire("a.lan");
const UDP = viaOf(Transport.UDP);
const opts = { ...defaults.clients, high_queue: 100, low_queue: 100, batch_size: 100, batch_ms: 100, max_clients: 1000, rediscover_after_ms: 60_000 };

describe("client tracker", () => {
  test("a new client gets a placeholder row and one discovery job; its later updates go to the high queue once named", async () => {
    const { store, ops } = fakeStore();
    const jobs: Array<[string, boolean]> = [];
    const t = new ClientTracker(opts, store, (ip, known) => (jobs.push([ip, known]), true));
    for (let i = 0; i < 3; i++) t.queue.post("10.0.0.1", 1000 + i, name, 0, name.length, 1, 0, UDP);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.1", false]]);
    await t.flush();
    const batch = ops.find((o) => o.op === "batch") as Extract<StoreOp, { op: "batch" }>;
    expect(batch.clients).toEqual([{ ip: "10.0.0.1", first: 1000, last: 1002, count: 3, qname: "a.lan.", qtype: 1, rcode: 0, transport: "udp", transports: 1, discovering: 1 }]);
    t.discovered({ ip: "10.0.0.1", name: "laptop", source: "ptr", tried: ["ptr"], unreachable: false, ms: 3 });
    t.queue.post("10.0.0.1", 2000, name, 0, name.length, 1, 0, UDP);
    expect(t.queue.depthHigh).toBe(1);
  });

  test("an idle loop sleeps until something is posted: no polling of an empty queue; a post or a discovered name is written at once; stop is prompt", async () => {
    const { store, ops } = fakeStore();
    const t = new ClientTracker(opts, store, () => true);
    let drains = 0;
    const drain = t.drain.bind(t);
    t.drain = (max: number) => (drains++, drain(max));
    const tm = new TaskManager();
    t.start(tm);
    await Bun.sleep(400);
    // Polling every 10 ms would be ~40 drains by now; the loop drains once, then sleeps (IDLE_CHECK_MS = 1 s).
    expect(drains).toBeLessThanOrEqual(2);
    const before = drains;
    t.queue.post("10.0.0.9", Date.now(), name, 0, name.length, 1, 0, UDP);
    await Bun.sleep(30);
    expect(drains).toBeGreaterThan(before);
    const batches = () => ops.filter((o) => o.op === "batch") as Array<Extract<StoreOp, { op: "batch" }>>;
    expect(batches().flatMap((b) => b.clients.map((c) => c.ip))).toEqual(["10.0.0.9"]); // written without waiting for a poll
    await Bun.sleep(200); // the batch interval passes; nothing pending: idle again
    t.discovered({ ip: "10.0.0.9", name: "printer", source: "mdns", tried: ["mdns"], unreachable: false, ms: 2 });
    await Bun.sleep(30);
    expect(batches().flatMap((b) => b.names.map((n) => n.name))).toEqual(["printer"]);
    const t0 = performance.now();
    expect(await tm.stopAll(2000)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(200); // the abort ends the idle sleep
  });

  test("a known client seen again after rediscover_after_ms is discovered again, with priority", () => {
    const { store } = fakeStore();
    const jobs: Array<[string, boolean]> = [];
    const t = new ClientTracker(opts, store, (ip, known) => (jobs.push([ip, known]), true));
    t.queue.post("10.0.0.2", Date.now(), name, 0, name.length, 1, 0, UDP);
    t.drain(100);
    t.discovered({ ip: "10.0.0.2", name: null, source: null, tried: ["ptr"], unreachable: true, ms: 3 });
    t.queue.post("10.0.0.2", Date.now() + 1000, name, 0, name.length, 1, 0, UDP);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.2", false]]); // too soon
    void t.flush();
    t.queue.post("10.0.0.2", Date.now() + 61_000, name, 0, name.length, 1, 0, UDP);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.2", false], ["10.0.0.2", true]]);
    expect(t.counters.rediscoveries).toBe(1);
  });

  test("the store is not asked anything until the first client arrives; then known clients are read before its batch", async () => {
    const { store, ops } = fakeStore();
    const t = new ClientTracker(opts, store, () => true);
    const tm = new TaskManager();
    t.start(tm);
    await Bun.sleep(50);
    expect(ops).toEqual([]);
    t.queue.post("10.0.0.5", Date.now(), name, 0, name.length, 1, 0, UDP);
    for (let i = 0; i < 100 && !ops.some((o) => o.op === "batch"); i++) await Bun.sleep(5);
    expect(ops.map((o) => o.op)).toEqual(["known", "batch"]);
    await tm.stopAll(2000);
  });
});
