import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientStore } from "../../src/clients/store";
import type { ClientRow } from "../../src/clients/store-protocol";
import { TaskManager } from "../../src/lifecycle/tasks";

const managers: TaskManager[] = [];
afterAll(async () => {
  for (const m of managers) await m.stopAll(2000);
});
/** A started store in a fresh directory, with its own task manager and a clock the test moves. */
function store(idleMs = 30) {
  const clock = { t: 0 };
  const tasks = new TaskManager({ initialMs: 10, maxMs: 50, resetAfterMs: 60_000 });
  managers.push(tasks);
  const s = new ClientStore(mkdtempSync(join(tmpdir(), "bunbound-store-")), { clients: { store_idle_ms: idleMs }, now: () => clock.t });
  s.start(tasks);
  return { s, tasks, clock };
}
async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = performance.now() + ms; !ok() && performance.now() < end; ) await Bun.sleep(5);
}
const row = (ip: string): ClientRow => ({ ip, first: 1, last: 2, count: 3, qname: "a.lan.", qtype: 1, rcode: 0, transport: "udp", transports: 1, discovering: 0 });
const total = async (s: ClientStore) => ((await s.request({ op: "list", offset: 0, limit: 10, sort: "ip" })) as { total: number }).total;

describe("client store: opened by the first request, closed when idle", () => {
  test("the store is not opened until the first request, which opens it and is answered", async () => {
    const { s, tasks } = store();
    await Bun.sleep(50);
    expect(s.isOpen).toBe(false);
    expect(s.ready).toBe(true);
    expect(tasks.list()).toEqual([]);
    expect(await total(s)).toBe(0);
    expect(s.isOpen).toBe(true);
    expect(s.opens).toBe(1);
    expect(tasks.byCategory().clients).toBe(1);
  });

  test("it is closed once the idle period has passed on its clock, and not before", async () => {
    const { s, tasks, clock } = store();
    await s.request({ op: "batch", clients: [row("10.0.0.1")], names: [] });
    await Bun.sleep(100); // more than idleMs of real time, but the clock has not moved
    expect(s.isOpen).toBe(true);
    clock.t += 30;
    await until(() => !s.isOpen);
    expect(s.isOpen).toBe(false);
    expect(s.idleCloses).toBe(1);
    expect(tasks.list()).toEqual([]);
  });

  test("a client keeps its latest transport and every transport it has used, across batches", async () => {
    const { s } = store();
    await s.request({ op: "batch", clients: [row("10.0.0.7")], names: [] });
    await s.request({ op: "batch", clients: [{ ...row("10.0.0.7"), transport: "https", transports: 0b1000 }], names: [] });
    await s.request({ op: "batch", clients: [{ ...row("10.0.0.7"), transport: "tls", transports: 0b0100 }], names: [] });
    expect(await s.request({ op: "get", ip: "10.0.0.7" })).toMatchObject({ queries: 9, last_transport: "tls", transports: ["udp", "tls", "https"] });
  });

  test("a request after the idle close opens it again and reads what was written before", async () => {
    const { s, clock } = store();
    await s.request({ op: "batch", clients: [row("10.0.0.1"), row("10.0.0.2")], names: [] });
    clock.t += 30;
    await until(() => !s.isOpen);
    expect(s.isOpen).toBe(false); // closed (a worker ends slowly on a loaded machine: until() waits up to 10 s)
    expect(await total(s)).toBe(2);
    expect(s.opens).toBe(2);
  });

  test("requests made back to back while it opens are all answered, in order", async () => {
    const { s } = store();
    const write = s.request({ op: "batch", clients: [row("10.0.0.7")], names: [] });
    const read = s.request({ op: "get", ip: "10.0.0.7" });
    await write;
    expect(await read).toMatchObject({ ip: "10.0.0.7", queries: 3 });
    expect(s.opens).toBe(1);
  });

  test("shutdown closes it: no worker is left and later requests fail with a reason", async () => {
    const { s, tasks } = store();
    await total(s);
    expect(await tasks.stopAll(2000)).toEqual([]);
    expect(s.isOpen).toBe(false);
    expect(s.ready).toBe(false);
    expect(tasks.byCategory()).toEqual({});
    expect(total(s)).rejects.toThrow("not running");
  });
});
