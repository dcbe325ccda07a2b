// The whole cheap path in one process, without the kernel: `bun bench/path.ts` (or `bun run bench:path`).
// Datagrams from a fake mmsg socket (same receive/send code shapes: 64-datagram batches, client addresses as
// cached strings) go through UdpServer.onDatagram → Pipeline.answerNow → the answer hook the app installs
// (query stats, query log, client-update queue) → the send batch, and the client tracker drains the queue as
// it does in the server. Prints user-space ns per query: the part of bunbound's cost that is JavaScript.
// The end-to-end figures (kernel included) come from bench/e2e.sh; this one is precise enough to judge a
// change of 50 ns, which e2e runs on a noisy VM cannot.
import * as packet from "dns-packet";
import { defaults, makePipeline } from "../test/helpers/pipeline";
import { UdpServer } from "../src/server/udp";
import { Ring } from "../src/server/ring";
import { ServerCounters } from "../src/metrics/counters";
import { Observer } from "../src/metrics/observer";
import { answerHook } from "../src/app";
import { ClientTracker } from "../src/clients/tracker";
import type { ClientStore } from "../src/clients/store";
import type { DatagramSocket } from "../src/server/datagram";
import { Requests } from "../src/server/request";

const NAMES = 1000;
const TYPES = ["A", "AAAA", "TXT"] as const;
const records = Array.from({ length: NAMES }, (_, i) => [
  `h${i}.bench.test 300 A 10.0.${i >> 8}.${i & 255}`,
  `h${i}.bench.test 300 AAAA fd00::${i.toString(16)}`,
  `h${i}.bench.test 300 TXT "bench record ${i}"`,
]).flat();
const { pipeline } = makePipeline(records);
const ring = new Ring(4096, 4096);
const counters = new ServerCounters();
const requests = new Requests(pipeline, counters, 4096, () => ({ config: defaults, limit: null }));
const udp = new UdpServer("127.0.0.1", 0, ring, requests, counters);
const observer = new Observer();
const store = { request: async () => [] } as unknown as ClientStore;
const tracker = new ClientTracker(
  { ...defaults.clients, high_queue: 16384, low_queue: 4096, low_share: 0.2, batch_size: 512 },
  store,
  null,
);

// The app's own hook (or only the part the mode names).
const mode = process.argv[2] ?? "full";
const part = (name: string) => mode === "full" || mode === name;
if (mode !== "bare") requests.onAnswered = answerHook(part("stats") ? observer.stats : null, part("qlog") ? observer.log : null, part("queue") ? tracker.queue : null);

// Queries as dnsperf sends them: 1000 names × A/AAAA/TXT, RD set, no EDNS; 16 client ports per address.
const CLIENTS = Number(process.argv[3] ?? 1);
const addresses = Array.from({ length: CLIENTS }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const queries = Array.from({ length: NAMES * 3 }, (_, i) =>
  new Uint8Array(packet.encode({ type: "query", id: i & 0xffff, flags: packet.RECURSION_DESIRED, questions: [{ name: `h${i % NAMES}.bench.test`, type: TYPES[i % 3]!, class: "IN" }] })),
);
const rbuf = new Uint8Array(64 * 2048);
let sent = 0;
const sock: DatagramSocket = {
  port: 0,
  closed: false,
  flushesBatches: true,
  send: () => undefined,
  sendBatch: (b) => {
    sent += b.count;
    return b.count;
  },
  close: () => undefined,
};
const u = udp as unknown as { onDatagram: (s: DatagramSocket, d: Uint8Array, off: number, len: number, port: number, address: string) => void; flushBatch: () => void };
const BATCH = 8; // about what one recvmmsg brings at 50k q/s
// In the server the kernel runs between two batches (receive, send, the client's wake-up) and evicts much of
// what the last batch left in the CPU caches; TRASH_KB=N reads N KiB of unrelated memory between batches to
// get the same effect here, so layouts that chase pointers through the heap pay what they pay in the server.
const TRASH = new Uint8Array(Number(process.env.TRASH_KB ?? 0) * 1024);
let trashSum = 0; // a global the reads feed, so they are not optimised away
function trash(): void {
  for (let i = 0; i < TRASH.length; i += 64) trashSum += TRASH[i]!;
}

function run(n: number): number {
  const t0 = performance.now();
  let k = 0;
  for (let i = 0; i < n; i += BATCH) {
    // a "recvmmsg": the datagrams land in one receive buffer, handed over as views like MmsgSocket.receive does
    for (let j = 0; j < BATCH; j++, k++) {
      const q = queries[k % queries.length]!;
      rbuf.set(q, j * 2048);
      u.onDatagram(sock, rbuf, j * 2048, q.length, 40000 + (k & 15), addresses[k % CLIENTS]!);
    }
    u.flushBatch();
    if (TRASH.length > 0) trash();
    if ((i & 511) === 0) tracker.drain(2048); // the tracker's 1 ms loop, about every 500 queries at 50k q/s
  }
  tracker.drain(1 << 30);
  return ((performance.now() - t0) * 1e6) / n;
}

const N = 1_000_000;
run(N); // warm-up: JIT tiers
const figures: number[] = [];
for (let r = 0; r < 7; r++) figures.push(run(N));
figures.sort((a, b) => a - b);
const median = figures[3]!;
console.log(
  `bench/path.ts ${mode}, ${CLIENTS} client(s)${TRASH.length ? `, ${TRASH.length >> 10} KiB read between batches (included)` : ""}: ${median.toFixed(0)} ns/query, median of 7 × ${N} (min ${figures[0]!.toFixed(0)}, max ${figures[6]!.toFixed(0)}); answered ${sent}, tracked ${tracker.queue.counters.processed}`,
);
if (TRASH.length > 0) {
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) trash();
  console.log(`  of which reading ${TRASH.length >> 10} KiB between batches alone: ${(((performance.now() - t0) * 1e6) / N).toFixed(0)} ns/query`);
}
