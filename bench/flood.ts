// Memory under a flood of misses: bunbound and Unbound side by side, each forwarding flood.example to an upstream
// that never answers, sent COUNT distinct misses within about a second. Prints each server's RSS before the flood
// and at its peak while the misses wait, the misses it held at the peak (bunbound's pending table), and the cost
// per waiting miss. Then asks a local name to check the server still answers.
//   COUNT=20000 PENDING="2048 20000" bun bench/flood.ts
// PENDING: bunbound runs, one per pending.max_queries value. Needs unbound (Debian) for the reference run.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const COUNT = Number(process.env.COUNT ?? 20000);
const PENDING = (process.env.PENDING ?? "2048 20000").split(/\s+/).filter(Boolean).map(Number);
const root = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "bunbound-flood-"));

const silent = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {}, error() {} } });

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

function query(id: number, name: string): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
  return new Uint8Array([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

async function answers(port: number, name: string): Promise<boolean> {
  let got = false;
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => void (got = true), error() {} } });
  s.send(query(1, name), port, "127.0.0.1");
  for (let i = 0; i < 50 && !got; i++) await Bun.sleep(20);
  s.close();
  return got;
}

async function waitUp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) if (await answers(port, "up.lan")) return;
  throw new Error(`server on ${port} did not answer`);
}

async function flood(label: string, proc: import("bun").Subprocess, port: number, held: () => Promise<number | null>) {
  await waitUp(port);
  await Bun.sleep(1000);
  const before = rss(proc.pid);
  const sock = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data() {}, error() {} } });
  for (let i = 0; i < COUNT; i++) {
    sock.send(query(i & 0xffff, `m${i}.flood.example`), port, "127.0.0.1");
    if (i % 200 === 199) await Bun.sleep(10);
  }
  let peak = before;
  let heldAtPeak: number | null = null;
  for (let t = 0; t < 15; t++) {
    await Bun.sleep(200);
    const r = rss(proc.pid);
    if (r >= peak) {
      peak = r;
      heldAtPeak = await held();
    }
  }
  sock.close();
  const ok = await answers(port, "up.lan");
  const perMiss = heldAtPeak === null ? "n/a" : (((peak - before) * 1024) / Math.max(1, heldAtPeak)).toFixed(1);
  console.log(
    `${label.padEnd(34)} rss_before_mb=${before.toFixed(1)} rss_peak_mb=${peak.toFixed(1)} misses_waiting=${heldAtPeak ?? "n/a"} ` +
      `kb_per_waiting_miss=${perMiss} answers_after=${ok}`,
  );
  proc.kill("SIGKILL");
  await proc.exited;
}

const port = (i: number) => 25300 + i;

if (Bun.which("unbound") || Bun.which("unbound", { PATH: "/usr/sbin" })) {
  const conf = join(dir, "unbound.conf");
  writeFileSync(
    conf,
    `server:\n  interface: 127.0.0.1@${port(0)}\n  port: ${port(0)}\n  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: ""\n  username: ""\n  chroot: ""\n  pidfile: ""\n  do-not-query-localhost: no\n  module-config: "iterator"\n  local-data: "up.lan. 60 IN A 10.0.0.1"\n  so-rcvbuf: 4m\nforward-zone:\n  name: "flood.example."\n  forward-addr: 127.0.0.1@${silent.port}\n`,
  );
  const proc = Bun.spawn([Bun.which("unbound", { PATH: "/usr/sbin:/usr/bin" })!, "-d", "-c", conf], { stdout: "ignore", stderr: "ignore" });
  await flood("unbound (num-queries-per-thread 1024)", proc, port(0), async () => null);
}

for (const [i, max] of PENDING.entries()) {
  const conf = join(dir, `bunbound-${max}.toml`);
  writeFileSync(
    conf,
    `listen = ["127.0.0.1:${port(i + 1)}"]\nhttp = "127.0.0.1:${port(i + 1) + 1000}"\nupstreams = []\ndata_dir = "${dir}/data-${max}"\nrecords = ["up.lan 60 A 10.0.0.1"]\n` +
      `[timeouts]\nquery_ms = 5000\nupstream_ms = 5000\n[udp]\nreceive_buffer_bytes = 4194304\n[pending]\nmax_queries = ${max}\n` +
      `[[forward]]\nzone = "flood.example"\nupstreams = ["127.0.0.1:${silent.port}"]\n`,
  );
  const proc = Bun.spawn(["bun", join(root, "src/cli.ts"), "--config", conf], { stdout: "ignore", stderr: "ignore" });
  const held = async () => {
    try {
      const h = (await (await fetch(`http://127.0.0.1:${port(i + 1) + 1000}/healthz`)).json()) as { pending?: { waiting: number }; memory: { heapUsed: number } };
      if (process.env.HEAP) console.log(`  heap_used_mb=${(h.memory.heapUsed / 1048576).toFixed(1)} pending=${h.pending?.waiting}`);
      return h.pending?.waiting ?? null;
    } catch {
      return null;
    }
  };
  await flood(`bunbound pending=${max}`, proc, port(i + 1), held);
}
silent.close();
