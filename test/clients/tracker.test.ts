import { describe, expect, test } from "bun:test";
import type { ClientStore } from "../../src/clients/store";
import type { StoreOp } from "../../src/clients/store-protocol";
import { ClientTracker } from "../../src/clients/tracker";
import { toWire } from "../../src/wire/name";

/** A store stand-in that records batches. */
function fakeStore() {
  const ops: StoreOp[] = [];
  return { ops, store: { request: async (op: StoreOp) => (ops.push(op), op.op === "known" ? [] : {}) } as unknown as ClientStore };
}
const name = toWire("a.lan");
const opts = { highQueue: 100, lowQueue: 100, lowShare: 0.25, batchSize: 100, batchMs: 100, maxClients: 1000, rediscoverMs: 60_000 };

describe("client tracker", () => {
  test("a new client gets a placeholder row and one discovery job; its later updates go to the high queue once named", async () => {
    const { store, ops } = fakeStore();
    const jobs: Array<[string, boolean]> = [];
    const t = new ClientTracker(opts, store, (ip, known) => (jobs.push([ip, known]), true));
    for (let i = 0; i < 3; i++) t.queue.post("10.0.0.1", 1000 + i, name, 0, name.length, 1, 0);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.1", false]]);
    await t.flush();
    const batch = ops.find((o) => o.op === "batch") as Extract<StoreOp, { op: "batch" }>;
    expect(batch.clients).toEqual([{ ip: "10.0.0.1", first: 1000, last: 1002, count: 3, qname: "a.lan.", qtype: 1, rcode: 0, discovering: 1 }]);
    t.discovered({ ip: "10.0.0.1", name: "laptop", source: "ptr", tried: ["ptr"], unreachable: false, ms: 3 });
    t.queue.post("10.0.0.1", 2000, name, 0, name.length, 1, 0);
    expect(t.queue.depthHigh).toBe(1);
  });

  test("a known client seen again after rediscover_after_ms is discovered again, with priority", () => {
    const { store } = fakeStore();
    const jobs: Array<[string, boolean]> = [];
    const t = new ClientTracker(opts, store, (ip, known) => (jobs.push([ip, known]), true));
    t.queue.post("10.0.0.2", Date.now(), name, 0, name.length, 1, 0);
    t.drain(100);
    t.discovered({ ip: "10.0.0.2", name: null, source: null, tried: ["ptr"], unreachable: true, ms: 3 });
    t.queue.post("10.0.0.2", Date.now() + 1000, name, 0, name.length, 1, 0);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.2", false]]); // too soon
    void t.flush();
    t.queue.post("10.0.0.2", Date.now() + 61_000, name, 0, name.length, 1, 0);
    t.drain(100);
    expect(jobs).toEqual([["10.0.0.2", false], ["10.0.0.2", true]]);
    expect(t.counters.rediscoveries).toBe(1);
  });
});
