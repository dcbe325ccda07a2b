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
