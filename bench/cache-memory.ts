// RSS with N cached entries (issue 7: target < 300 MB for 1,000,000): fills a PacketCache with distinct A
// answers the way the pipeline does (insert of a scanned upstream response) and reports memory.
// Usage: N=1000000 bun bench/cache-memory.ts
import * as packet from "dns-packet";
import { PacketCache } from "../src/cache/cache";
import { configSchema } from "../src/config/schema";
import { CacheCounters } from "../src/metrics/counters";
import { QueryInfo, parseQuery } from "../src/wire/query";
import { scanResponse } from "../src/wire/scan";

const N = Number(process.env.N ?? 1_000_000);
const settings = { ...configSchema.parse({}).cache, max_entries: N, max_bytes: 8 * 1024 ** 3 };
const cache = new PacketCache(() => settings, new CacheCounters());
const q = new QueryInfo();
const mb = (b: number) => Math.round(b / 1024 / 1024);
Bun.gc(true);
const before = process.memoryUsage().rss;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const name = `host${i}.example.com`;
  const query = new Uint8Array(packet.encode({ type: "query", id: 1, questions: [{ name, type: "A", class: "IN" }] }));
  parseQuery(query, query.length, q);
  const resp = new Uint8Array(
    packet.encode({ type: "response", id: 1, flags: 0x8180, questions: [{ name, type: "A", class: "IN" }], answers: [{ name, type: "A", class: "IN", ttl: 3600, data: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] }),
  );
  cache.insert(query, q, resp, scanResponse(resp, resp.length));
}
Bun.gc(true);
const after = process.memoryUsage().rss;
console.log(`${cache.entries} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS ${mb(before)} MB → ${mb(after)} MB (+${mb(after - before)} MB, ${Math.round((after - before) / cache.entries)} bytes/entry); cache accounts ${mb(cache.sizeBytes)} MB`);
