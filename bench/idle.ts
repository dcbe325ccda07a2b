// Idle footprint: the RSS of a bunbound left idle for a while with the defaults, and of the same with each
// part turned off, against a bare Bun process (Bun.serve + Bun.udpSocket) and N empty Bun workers. Each
// variant is a fresh process, measured once it has been up IDLE seconds (VmRSS, RssAnon and RssFile from
// /proc/PID/status; threads from /proc/PID/task, where every Bun worker is a thread named "Worker").
// "clients-came" is the defaults after eight new clients asked one query each two seconds in (so the client
// store and discovery have had work), then nothing: with IDLE past the idle periods it shows what is let go.
//
// Usage: bun bench/idle.ts [IDLE_SECONDS=10] [variant …]      (variants: see VARIANTS below; default all)
//        REPEAT=3 (runs per variant; the median RSS run is printed, with the smallest and largest RSS)
//        ROOT=DIR (the bunbound tree to run; default this one, e.g. a `git archive` copy of another commit)
// Internal: bun bench/idle.ts --floor | --workers N           (the child processes it measures)
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(process.env.ROOT ?? join(import.meta.dir, ".."));
const self = import.meta.path;

interface Sample {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  threads: number;
  workers: number;
}

interface Variant {
  cmd: string[];
  /** Sent 2 s after start: one query to this port from each of eight new loopback addresses. */
  clientsTo?: number;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  const names = readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim());
  const mb = (k: number) => Math.round(k / 102.4) / 10;
  return { rssMb: mb(kb("VmRSS")), anonMb: mb(kb("RssAnon")), fileMb: mb(kb("RssFile")), threads: names.length, workers: names.filter((n) => n === "Worker").length };
}

function bunbound(toml: string, opts: { zone?: boolean; port?: number; record?: boolean } = {}): string[] {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-idle-"));
  const cfg = join(dir, "bunbound.toml");
  let extra = "";
  if (opts.zone) {
    const file = join(dir, "idle.lan.zone");
    writeFileSync(file, "$ORIGIN idle.lan.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 10.0.0.1\n");
    extra = `\n[[zone]]\nname = "idle.lan"\nfile = "${file}"\n`;
  }
  const records = opts.record ? 'records = ["idle.test.lan 60 A 10.0.0.1"]\n' : "";
  writeFileSync(cfg, `log_level = "warn"\n${records}${toml}${extra}`);
  const listen = `127.0.0.1:${opts.port ?? 0}`;
  return ["bun", join(root, "src/cli.ts"), "--config", cfg, "--listen", listen, "--http", "127.0.0.1:0", "--data-dir", join(dir, "data")];
}

async function freePort(): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const port = s.port;
  s.close();
  return port;
}

/** One A query for idle.test.lan from each of eight loopback addresses bunbound has not seen. */
async function newClients(port: number): Promise<void> {
  const q = new Uint8Array([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, ...Buffer.from("idle"), 4, ...Buffer.from("test"), 3, ...Buffer.from("lan"), 0, 0, 1, 0, 1]);
  for (let i = 2; i < 10; i++) {
    const s = await Bun.udpSocket({ hostname: `127.0.0.${i}`, port: 0 });
    s.send(q, port, "127.0.0.1");
    await Bun.sleep(20);
    s.close();
  }
}

const VARIANTS: Record<string, () => Promise<Variant>> = {
  defaults: async () => ({ cmd: bunbound("") }),
  "clients-came": async () => {
    const port = await freePort();
    return { cmd: bunbound("", { port, record: true }), clientsTo: port };
  },
  "one-zone": async () => ({ cmd: bunbound("", { zone: true }) }),
  "no-discovery": async () => ({ cmd: bunbound("[discovery]\nenabled = false\n") }),
  "no-clients": async () => ({ cmd: bunbound("[clients]\nenabled = false\n") }),
  "udp-bun": async () => ({ cmd: bunbound('[udp]\nbackend = "bun"\n') }),
  "bare-bunbound": async () => ({ cmd: bunbound('[clients]\nenabled = false\n[udp]\nbackend = "bun"\n') }),
  floor: async () => ({ cmd: ["bun", self, "--floor"] }),
  "workers-0": async () => ({ cmd: ["bun", self, "--workers", "0"] }),
  "workers-1": async () => ({ cmd: ["bun", self, "--workers", "1"] }),
  "workers-4": async () => ({ cmd: ["bun", self, "--workers", "4"] }),
  "workers-8": async () => ({ cmd: ["bun", self, "--workers", "8"] }),
};

async function measure(v: Variant, idleS: number): Promise<Sample> {
  const p = Bun.spawn(v.cmd, { stdout: "ignore", stderr: "inherit" });
  try {
    if (v.clientsTo !== undefined) {
      await Bun.sleep(2000);
      await newClients(v.clientsTo);
      await Bun.sleep(Math.max(0, idleS * 1000 - 2200));
    } else await Bun.sleep(idleS * 1000);
    if (p.exitCode !== null) throw new Error(`${v.cmd.join(" ")} exited with ${p.exitCode}`);
    return sample(p.pid);
  } finally {
    p.kill("SIGKILL");
    await p.exited;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const idleS = args[0] && /^\d+(\.\d+)?$/.test(args[0]) ? Number(args.shift()) : 10;
  const names = args.length ? args : Object.keys(VARIANTS);
  const repeat = Number(process.env.REPEAT ?? 3);
  console.log(`after ${idleS} s up, median of ${repeat} runs (MB)`);
  console.log(["variant".padEnd(14), "RSS".padStart(6), "min-max".padStart(12), "anon".padStart(6), "file".padStart(6), "threads".padStart(8), "workers".padStart(8)].join(" "));
  // The variants run one after another so that none competes with another for the CPU while starting.
  for (const name of names) {
    const v = VARIANTS[name];
    if (!v) throw new Error(`no variant ${name}; try ${Object.keys(VARIANTS).join(", ")}`);
    const runs: Sample[] = [];
    for (let i = 0; i < repeat; i++) runs.push(await measure(await v(), idleS));
    runs.sort((a, b) => a.rssMb - b.rssMb);
    const s = runs[runs.length >> 1]!;
    const range = `${runs[0]!.rssMb}-${runs.at(-1)!.rssMb}`;
    const cells = [s.rssMb, range, s.anonMb, s.fileMb].map((x) => String(x).padStart(x === range ? 12 : 6));
    console.log([name.padEnd(14), ...cells, String(s.threads).padStart(8), String(s.workers).padStart(8)].join(" "));
  }
}

if (process.argv[2] === "--floor") {
  // The floor: what any Bun DNS server pays before its first line of resolver code.
  Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
  await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  setInterval(() => {}, 1 << 30);
} else if (process.argv[2] === "--workers") {
  const n = Number(process.argv[3]);
  const url = URL.createObjectURL(new Blob(["self.onmessage = () => {};"], { type: "application/javascript" }));
  const workers = Array.from({ length: n }, () => new Worker(url));
  setInterval(() => workers.length, 1 << 30);
} else {
  await main();
}
