// Heavy-lane isolation bench (issue 4): cheap-path queries/s and p50/p99 latency with the heavy lane idle, then
// while it reloads a 500,000-record zone, serves an AXFR of it, and re-signs a 50,000-record signed zone.
// bunbound pinned to CPU 1; this load generator (and the AXFR client) on CPU 0.
// Usage: RATE=20000 SECONDS=10 bun bench/isolation.ts      Needs: taskset (util-linux), dig (bind9-dnsutils)
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as packet from "dns-packet";

const RATE = Number(process.env.RATE ?? 20_000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const BIG = Number(process.env.BIG ?? 500_000);
const SIGNED = Number(process.env.SIGNED ?? 50_000);
const root = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "bunbound-isolation-"));

function zone(name: string, n: number): string {
  const lines = [`$ORIGIN ${name}.`, "$TTL 300", "@ SOA ns hostmaster 1 3600 600 86400 60", "@ NS ns", "ns A 10.0.0.1"];
  for (let i = 0; i < n; i++) lines.push(`h${i} A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return lines.join("\n") + "\n";
}
writeFileSync(join(dir, "big.zone"), zone("big.lan", BIG));
writeFileSync(join(dir, "signed.zone"), zone("signed.lan", SIGNED));
const records = Array.from({ length: 1000 }, (_, i) => [`'c${i}.cheap.lan 300 A 10.1.${i >> 8}.${i & 255}'`, `'c${i}.cheap.lan 300 AAAA fd00::${i.toString(16)}'`]).flat();
writeFileSync(
  join(dir, "bunbound.toml"),
  `listen = ["127.0.0.1:5320"]\nhttp = "127.0.0.1:8320"\nupstreams = []\nlog_level = "warn"\ndata_dir = "${dir}/data"\nrecords = [${records.join(",")}]\n` +
    `[jobs]\nwatch_interval_ms = 0\n[[zone]]\nname = "big.lan"\nfile = "${dir}/big.zone"\n[[zone]]\nname = "signed.lan"\nfile = "${dir}/signed.zone"\ndnssec = true\n`,
);
const server = Bun.spawn(["taskset", "-c", "1", "bun", join(root, "src/cli.ts"), "--config", join(dir, "bunbound.toml")], { stderr: "inherit" });
process.on("exit", () => server.kill());
const t0 = performance.now();
for (;;) {
  try {
    const h = (await (await fetch("http://127.0.0.1:8320/healthz")).json()) as { zones: Array<{ serial: number | null }> };
    if (h.zones.every((z) => z.serial !== null)) break;
  } catch {}
  await Bun.sleep(200);
}
console.log(`zones loaded and signed in ${((performance.now() - t0) / 1000).toFixed(1)} s (big ${BIG}, signed ${SIGNED} records)`);

const queries = Array.from({ length: 2000 }, (_, i) =>
  new Uint8Array(packet.encode({ type: "query", id: 0, flags: packet.RECURSION_DESIRED, questions: [{ name: `c${i >> 1}.cheap.lan`, type: i & 1 ? "AAAA" : "A", class: "IN" }] })),
);

/** Offers RATE q/s for `seconds`; returns answered q/s, p50, p99 (µs) and lost. */
async function load(seconds: number) {
  const sent = new Float64Array(65536);
  const lat: number[] = [];
  let answered = 0;
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_s, d) {
        const id = (d[0]! << 8) | d[1]!;
        if (sent[id]! > 0) {
          lat.push(performance.now() - sent[id]!);
          sent[id] = 0;
          answered++;
        }
      },
    },
  });
  let id = 0;
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * RATE);
    while (n < due) {
      const q = queries[n % queries.length]!;
      id = (id + 1) & 0xffff;
      q[0] = id >> 8;
      q[1] = id & 255;
      sent[id] = performance.now();
      sock.send(q, 5320, "127.0.0.1");
      n++;
    }
    await Bun.sleep(1);
  }
  await Bun.sleep(500);
  sock.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((lat[Math.floor(lat.length * p)] ?? 0) * 1000);
  return { qps: Math.round(answered / seconds), p50: pct(0.5), p99: pct(0.99), lost: n - answered };
}

let heavy = true;
async function heavyLoop() {
  let rounds = 0;
  while (heavy) {
    const post = (zone: string) => fetch(`http://127.0.0.1:8320/api/zones/${zone}/reload`, { method: "POST" }).catch((e) => console.error(`reload ${zone}: ${e}`));
    const jobs = [
      post("big.lan"),
      post("signed.lan"),
      Bun.spawn(["taskset", "-c", "0", "dig", "@127.0.0.1", "-p", "5320", "big.lan", "AXFR", "+onesoa"], { stdout: "ignore" }).exited,
    ];
    await Promise.all(jobs);
    rounds++;
  }
  return rounds;
}

await load(2); // warm-up
const idle = await load(SECONDS);
const bg = heavyLoop();
await Bun.sleep(300);
const busy = await load(SECONDS);
heavy = false;
const rounds = await bg;
const h = (await (await fetch("http://127.0.0.1:8320/healthz")).json()) as { jobs: Record<string, number> };
server.kill();
console.log(`offered ${RATE} q/s of A/AAAA from local data, ${SECONDS} s per phase; heavy rounds completed: ${rounds}; lane: ${JSON.stringify(h.jobs)}`);
console.log("| phase | answered q/s | p50 µs | p99 µs | lost |");
console.log("|---|---|---|---|---|");
console.log(`| heavy lane idle | ${idle.qps} | ${idle.p50} | ${idle.p99} | ${idle.lost} |`);
console.log(`| reload 500k + AXFR + re-sign 50k | ${busy.qps} | ${busy.p50} | ${busy.p99} | ${busy.lost} |`);
console.log(`throughput ${(busy.qps / idle.qps * 100).toFixed(1)}% of idle (target >= 90%), p99 ${(busy.p99 / idle.p99).toFixed(2)}x idle (target <= 2x)`);
process.exit(0);
