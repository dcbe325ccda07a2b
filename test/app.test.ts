// App-level lifecycle checks that need the whole wiring but not a separate process.
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeQuery, udpAsk } from "./helpers/dns";
import { startApp } from "./helpers/app";
import { sleep } from "../src/lifecycle/tasks";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

test("shutdown right after queries still stores their clients: the tracker's last batch lands before the store closes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-app-"));
  const app = await startApp({ data_dir: dir }, (c) => {
    c.clients.enabled = true;
    c.clients.batch_ms = 60_000; // nothing is written before shutdown unless the final flush does it
    c.discovery.enabled = false;
  });
  for (let i = 0; i < 200 && !app.store!.ready; i++) await sleep(10); // store open
  for (let i = 0; i < 5; i++) expect(await udpAsk(app.port, makeQuery("localhost"))).not.toBeNull();
  await app.shutdown();
  const db = new Database(join(dir, "clients.db"), { readonly: true });
  cleanup.push(() => db.close());
  const row = db.query("SELECT ip, queries FROM clients").get() as { ip: string; queries: number } | null;
  expect(row).toEqual({ ip: "127.0.0.1", queries: 5 });
});

test("the live feed builds no snapshot while nobody watches, and does again once someone does", async () => {
  const app = await startApp({ http: "127.0.0.1:0" }, (c) => {
    c.clients.enabled = false;
    c.discovery.enabled = false;
  });
  cleanup.push(() => app.shutdown());
  for (let i = 0; i < 20; i++) expect(await udpAsk(app.port, makeQuery("localhost"))).not.toBeNull();
  await sleep(1300); // at least one tick of the 1 s feed
  expect(app.live.count).toBe(0);
  expect(app.live.last).toBeNull();
  expect(app.observer.domains.size).toBe(0); // the query log was not sampled
  const r = await fetch(`http://${app.httpAddress}/api/events`);
  const reader = r.body!.getReader();
  let text = "";
  const t0 = Date.now();
  while (!text.includes("data: ") && Date.now() - t0 < 3000) {
    for (let i = 0; i < 5; i++) await udpAsk(app.port, makeQuery("localhost"));
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  expect(text).toContain("data: ");
  const snap = JSON.parse(text.slice(text.indexOf("data: ") + 6).split("\n\n")[0]!);
  expect(snap).toHaveProperty("qps");
  expect(app.live.last).not.toBeNull();
  // only queries since the previous (skipped) second are counted as top domains, not the 20 before it
  expect(snap.topDomains[0].name).toBe("localhost.");
  expect(snap.topDomains[0].count).toBeLessThan(20);
});
