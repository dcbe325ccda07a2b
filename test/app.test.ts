// App-level lifecycle checks that need the whole wiring but not a separate process.
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeQuery, udpAsk } from "./helpers/dns";
import { logLines, startApp } from "./helpers/app";
import { loadConfig } from "../src/config/load";
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

test("a reload applies what it can and keeps the settings that need a restart, naming them", async () => {
  const app = await startApp({}, (c) => {
    c.clients.enabled = false;
    c.discovery.enabled = false;
  });
  cleanup.push(() => app.shutdown());
  const before = app.config;
  const next = loadConfig({ listen: ["127.0.0.1:1"], http: "off", upstream: [], record: ["reloaded.lan 60 A 192.0.2.7"] }, {});
  next.background_nice = 3;
  next.processes = 2;
  next.log_level = before.log_level;
  next.ring.strict = true; // as startApp runs it: not a change
  const warned = logLines.length;
  await app.reload(next);
  // applied: the new record answers
  const answer = await udpAsk(app.port, makeQuery("reloaded.lan"));
  expect(answer).not.toBeNull();
  expect(answer![3]! & 0x0f).toBe(0); // NOERROR
  expect((answer![6]! << 8) | answer![7]!).toBe(1); // one answer
  // kept until a restart: the running values stay, and the warning names every field that differs
  for (const k of ["listen", "processes", "background_nice"] as const) expect(app.config[k]).toEqual(before[k]);
  expect(app.config.records).toEqual(next.records);
  const warning = logLines.slice(warned).find((l) => l.includes("only after a restart"));
  expect(JSON.parse(warning!).fields).toEqual(["listen", "processes", "background_nice"]);
});

test("a hosts file changed to something unreadable keeps the last good local data answering", async () => {
  const { writeFileSync, utimesSync } = await import("node:fs");
  const { decode } = await import("./helpers/dns");
  const dir = mkdtempSync(join(tmpdir(), "bunbound-app-"));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, "10.0.0.7 nas.lan\n");
  const app = await startApp({ data_dir: dir }, (c) => {
    c.hosts = [hosts];
    c.jobs.watch_interval_ms = 0; // checked by hand below
  });
  cleanup.push(() => app.shutdown());
  const ask = async () => decode((await udpAsk(app.port, makeQuery("nas.lan")))!).answers.map((a) => a.data);
  expect(await ask()).toEqual(["10.0.0.7"]);
  writeFileSync(hosts, "not-an-address nas.lan\n");
  utimesSync(hosts, new Date(), new Date(Date.now() + 5000));
  app.hosts.check();
  expect(await ask()).toEqual(["10.0.0.7"]);
  expect(logLines.some((l) => l.includes("hosts file not reloaded"))).toBe(true);
  writeFileSync(hosts, "10.0.0.8 nas.lan\n");
  utimesSync(hosts, new Date(), new Date(Date.now() + 10_000));
  app.hosts.check();
  expect(await ask()).toEqual(["10.0.0.8"]);
});
