// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core, against a running
// bunbound with traffic flowing. Needs /usr/bin/chromium (`apt-get install -y chromium`); skipped, with a
// message, when it is missing. Screenshots go to test-output/.
/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeQuery, udpAsk } from "../helpers/dns";
import { Hierarchy } from "../helpers/hierarchy";
import { ROOT, startBunbound, type Running } from "../helpers/proc";
import { StandIn } from "../helpers/upstream";

setDefaultTimeout(90_000);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`skipping the browser test: ${CHROMIUM} not found (apt-get install -y chromium)`);
const OUT = join(ROOT, "test-output");

let b: Running;
let up: StandIn;
let stop = false;
let traffic: Promise<void>;

beforeAll(async () => {
  if (!haveChromium) return;
  up = await StandIn.start({ silent: true });
  const dir = mkdtempSync(join(tmpdir(), "bunbound-dash-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(cfg, `upstreams = ["${up.address}"]\ndata_dir = "${dir}/data"\nrecords = ["a.lan 60 A 10.0.0.1", "b.lan 60 A 10.0.0.2"]\n[timeouts]\nquery_ms = 300\nupstream_ms = 100\n[upstream]\nbreaker_failures = 5\nbreaker_open_ms = 600000\n` +
    // No check of whether the upstream returns DNSSEC data: its unanswered attempts would count toward the
    // breaker this test trips with queries of its own.
    `[dnssec]\nvalidate = false\n`);
  b = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
  traffic = (async () => {
    while (!stop) {
      await udpAsk(b.udpPort, makeQuery(Math.random() < 0.7 ? "a.lan" : "b.lan"), 500);
      await Bun.sleep(5);
    }
  })();
});

afterAll(async () => {
  stop = true;
  await traffic;
  await b?.stop();
  up?.close();
});

describe("dashboard", () => {
  test.skipIf(!haveChromium)("loads with no console errors, its charts get new points, and the breaker panel shows a tripped upstream", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${b.httpPort}/`);
      await page.waitForFunction(() => (window as any).bunboundCharts?.qps.points >= 3, null, { timeout: 15_000 });
      const before = await page.evaluate(() => (window as any).bunboundCharts.qps.points);
      await page.waitForFunction((n) => (window as any).bunboundCharts.qps.points > n, before, { timeout: 5000 });
      expect(Number((await page.textContent("#qps"))!.replace(/,/g, ""))).toBeGreaterThan(0);
      expect(await page.getAttribute("[data-testid=upstream-breaker]", "data-state")).toBe("closed");
      expect(await page.locator("#recent tr").count()).toBeGreaterThan(0);
      expect(await page.textContent("#recent")).toContain("udp"); // each query with the transport it came by
      expect(await page.textContent("[data-testid=transports]")).toMatch(/udp\s*[1-9]/); // queries by transport
      expect(await page.textContent("#domains")).toContain("a.lan.");
      expect(await page.isHidden("#recursion-section")).toBe(true); // forward mode: no authoritative servers
      // Top clients, each with the transports it has used.
      await page.waitForFunction(() => /127\.0\.0\.1\s*\S*\s*udp/.test(document.querySelector("#clients")?.textContent ?? ""), null, { timeout: 10_000 });

      // Trip the upstream's breaker: names only the (silent) upstream could answer, until five attempts fail.
      for (let i = 0; i < 4; i++) await udpAsk(b.udpPort, makeQuery(`trip${i}.example`), 1000);
      await page.waitForSelector("[data-testid=upstream-breaker][data-state=open]", { timeout: 10_000 });

      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, "dashboard-laptop.png"), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0); // phone width: no sideways scrolling
      await page.screenshot({ path: join(OUT, "dashboard-phone.png"), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe("dashboard in recursive mode", () => {
  test.skipIf(!haveChromium)("shows the authoritative servers asked, with their RTT and queries, and the queries sent per question", async () => {
    const world = await Hierarchy.start();
    const dir = mkdtempSync(join(tmpdir(), "bunbound-dash-rec-"));
    const cfg = join(dir, "bunbound.toml");
    writeFileSync(cfg, `mode = "recursive"\nroot_hints = "${world.hints}"\ndata_dir = "${dir}/data"\n[dnssec]\nvalidate = false\n[recursion]\nport = ${world.port}\n[discovery]\nenabled = false\n`);
    const r = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
    try {
      for (const name of ["www.example.com", "www.example.net", "alias.example.com"]) expect(await udpAsk(r.udpPort, makeQuery(name), 3000)).not.toBeNull();
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${r.httpPort}/`);
      await page.waitForSelector("#recursion-section:not([hidden])", { timeout: 10_000 });
      await page.waitForFunction((p) => document.querySelector("#recursion-servers")?.textContent?.includes(`127.53.10.1:${p}`), world.port, { timeout: 10_000 });
      expect(await page.textContent("[data-testid=recursion]")).toMatch(/questions\s*[1-9].*queries sent\s*[1-9]/s);
      expect(await page.locator("#recursion-servers tr").count()).toBeGreaterThanOrEqual(4);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await r.stop();
      world.close();
    }
  });
});
