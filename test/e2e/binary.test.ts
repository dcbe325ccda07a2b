// The single-file binary: built with `bun build --compile`, run with no Bun on PATH, answers over UDP and
// TCP, exits 0 on SIGTERM.
import { mmsgUnsupported } from "../../src/server/mmsg";
import { sleep } from "../../src/lifecycle/tasks";
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, makeQuery, tcpAsk, udpAsk } from "../helpers/dns";
import { ROOT, startBunbound } from "../helpers/proc";

setDefaultTimeout(120_000);
const dir = mkdtempSync(join(tmpdir(), "bunbound-bin-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the compiled binary answers over UDP and TCP, runs its workers, serves its dashboard, exits 0 on SIGTERM, without Bun on PATH", async () => {
  const out = join(dir, "bunbound");
  // The same entrypoints as `bun run build` (the workers are extra ones), read from package.json.
  const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { scripts: { build: string } };
  const entries = pkg.scripts.build.split(/\s+/).filter((w) => w.endsWith(".ts")).map((f) => join(ROOT, f));
  expect(entries.length).toBeGreaterThanOrEqual(4);
  const build = Bun.spawnSync(["bun", "build", "--compile", ...entries, "--outfile", out], { cwd: ROOT, stderr: "pipe" });
  expect(build.exitCode).toBe(0);
  const zone = join(dir, "bin.zone");
  writeFileSync(zone, "$ORIGIN zone.bin.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 10.8.8.8\n");
  const b = await startBunbound(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--record", "bin.lan 60 A 10.9.9.9", "--zone", `zone.bin=${zone}`, "--data-dir", dir], {
    cmd: [out],
    cwd: dir,
    env: { PATH: "/nonexistent" },
  });
  try {
    expect(decode((await udpAsk(b.udpPort, makeQuery("bin.lan")))!).answers[0]!.data).toBe("10.9.9.9");
    expect(decode((await tcpAsk(b.udpPort, makeQuery("localhost", "AAAA")))!).answers[0]!.data).toBe("::1");
    // loaded by the heavy lane's worker inside the binary
    expect(decode((await udpAsk(b.udpPort, makeQuery("ns.zone.bin")))!).answers[0]!.data).toBe("10.8.8.8");
    // the client store's worker inside the binary recorded us
    await b.waitLog("client store migrated", 10_000);
    // the mmsg backend's watcher worker inside the binary wakes the parked receive loop
    const started = b.logs.find((l) => l.msg === "bunbound started")!;
    if (mmsgUnsupported() === null) {
      expect(started.udpBackend).toBe("mmsg");
      await sleep(300); // idle: the loop parks after 50 ms
      expect(decode((await udpAsk(b.udpPort, makeQuery("bin.lan")))!).answers[0]!.data).toBe("10.9.9.9");
      expect(b.logs.filter((l) => /watcher/.test(String(l.msg)))).toEqual([]);
    }
    // the dashboard's files are embedded
    const page = await fetch(`http://127.0.0.1:${b.httpPort}/`);
    expect(await page.text()).toContain("bunbound");
    expect(await (await fetch(`http://127.0.0.1:${b.httpPort}/assets/uplot.js`)).text()).toContain("uPlot");
  } finally {
    expect(await b.stop("SIGTERM")).toBe(0);
  }

  // --processes from the binary: it starts itself again (no Bun, no script path) as a serving process.
  const p = await startBunbound(["--listen", "127.0.0.1:0", "--http", "off", "--processes", "2", "--data-dir", join(dir, "p")], {
    cmd: [out],
    cwd: dir,
    env: { PATH: "/nonexistent" },
  });
  try {
    const serving = await p.waitLog(/bunbound started/, 10_000, p.logs.findIndex((l) => l.msg === "bunbound started") + 1);
    expect(serving.role).toBe("serve");
    for (let i = 0; i < 10; i++) expect(decode((await udpAsk(p.udpPort, makeQuery("localhost")))!).answers[0]!.data).toBe("127.0.0.1");
  } finally {
    expect(await p.stop("SIGTERM")).toBe(0);
  }
});
