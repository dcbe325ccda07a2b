// mitata micro-benchmarks of the cheap path's pieces: `bun run bench`.
import { bench, group, run, summary } from "mitata";
import * as packet from "dns-packet";
import { Ring } from "../src/server/ring";
import { parseQuery, QueryInfo } from "../src/wire/query";
import { hashName } from "../src/wire/name";
import { makePipeline } from "../test/helpers/pipeline";
import { exchange, response } from "../test/helpers/responses";

function query(name: string, type: string, edns: boolean): Uint8Array {
  return new Uint8Array(
    packet.encode({
      type: "query",
      id: 4321,
      flags: packet.RECURSION_DESIRED,
      questions: [{ name, type: type as packet.RecordType, class: "IN" }],
      additionals: edns ? [{ type: "OPT", name: ".", udpPayloadSize: 1232, options: [] } as never] : [],
    }),
  );
}

const plain = query("h42.bench.test", "A", false);
const withEdns = query("H42.Bench.Test", "AAAA", true);
const q = new QueryInfo();
const records = Array.from({ length: 1000 }, (_, i) => [
  `h${i}.bench.test 300 A 10.0.${i >> 8}.${i & 255}`,
  `h${i}.bench.test 300 AAAA fd00::${i.toString(16)}`,
]).flat();
const { pipeline } = makePipeline(records);
// A cache with one entry, answered through the same path a hit takes.
const cached = makePipeline([], ["127.0.0.1:9"]);
{
  const name = "www.example.com";
  const resp = response(name, "A", { answers: [{ name, type: "A", class: "IN", ttl: 300, data: "192.0.2.1" }], edns: true });
  const x = exchange(name, "A", resp);
  cached.cache.insert(x.query, x.q, x.resp, x.scan);
}
const hitQuery = query("WWW.example.com", "A", true);
const ring = new Ring(4096, 4096);
const slot = new Uint8Array(4096);

group("wire", () => {
  summary(() => {
    bench("parseQuery (A, no EDNS)", () => parseQuery(plain, plain.length, q));
    bench("parseQuery (AAAA, EDNS, mixed case)", () => parseQuery(withEdns, withEdns.length, q));
    bench("dns-packet decode (for comparison)", () => packet.decode(Buffer.from(withEdns)));
  });
  bench("hashName", () => hashName(plain, 12, 28));
});

group("cheap path", () => {
  bench("local answer in place (copy query into slot + answerNow)", () => {
    slot.set(withEdns);
    return pipeline.answerNow(slot, withEdns.length, q, true);
  });
  bench("cache hit in place (copy query into slot + answerNow)", () => {
    slot.set(hitQuery);
    return cached.pipeline.answerNow(slot, hitQuery.length, q, true);
  });
  bench("ring acquire + payload + release", () => {
    const h = ring.acquire();
    ring.payload(h)[0] = 1;
    ring.release(h);
  });
});

await run();
