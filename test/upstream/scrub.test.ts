// What a forwarder relays is scrubbed to the zone the question was sent for, before the cache or a client sees it.
import { afterEach, describe, expect, test } from "bun:test";
import type * as packet from "dns-packet";
import { UpstreamCounters } from "../../src/metrics/counters";
import type { Forwarder } from "../../src/upstream/forwarder";
import { openExchanges } from "../../src/upstream/transport";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { decode, makeQuery } from "../helpers/dns";
import { makeForwarder, makePool } from "../helpers/pipeline";
import { StandIn } from "../helpers/upstream";

const standIns: StandIn[] = [];
afterEach(() => {
  for (const s of standIns.splice(0)) s.close();
});

const a = (name: string, data: string) => ({ name, type: "A", class: "IN", ttl: 300, data }) as packet.Answer;
const ns = (name: string, data: string) => ({ name, type: "NS", class: "IN", ttl: 300, data }) as packet.Answer;

/** An upstream that answers every question with its own record plus the injected ones. */
async function poisoner() {
  const s = await StandIn.start({
    shape: (name) => ({
      answers: [a(name, "192.0.2.1"), a("victim.other-zone", "6.6.6.6")],
      authorities: [ns("other-zone", "ns.evil"), ns("corp.example", "ns1.corp.example")],
    }),
  });
  standIns.push(s);
  return s;
}

async function forward(f: Forwarder, name: string) {
  const bytes = makeQuery(name);
  const q = new QueryInfo();
  parseQuery(bytes, bytes.length, q);
  return f.forward(bytes, q, Date.now() + 1000, new AbortController().signal);
}

describe("scrubbing relayed answers", () => {
  test("a forward zone's upstream cannot put records about another zone into the answer", async () => {
    const up = await poisoner();
    const { pool } = makePool([], {}, [{ zone: "corp.example", upstreams: [up.address] }]);
    const counters = new UpstreamCounters();
    const f = makeForwarder([], { pool }, counters);
    const r = await forward(f, "www.corp.example");
    const d = decode(r!.resp);
    expect(d.answers.map((x) => `${x.name} ${x.data}`)).toEqual(["www.corp.example 192.0.2.1"]);
    expect(d.authorities.map((x) => `${x.name} ${x.data}`)).toEqual(["corp.example ns1.corp.example"]);
    expect({ records: counters.scrubbedRecords, responses: counters.scrubbedResponses }).toEqual({ records: 2, responses: 1 });
    // The scan is of the scrubbed bytes: its TTL offsets point at the records that are left.
    expect(r!.scan.ttlOffsets.length).toBe(2);
    for (const off of r!.scan.ttlOffsets) expect((r!.resp[off + 2]! << 8) | r!.resp[off + 3]!).toBe(300);
    expect(openExchanges).toEqual({ udp: 0, tcp: 0 });
  });

  test("the default upstreams answer for the root, yet records beside the question's chain still go", async () => {
    const up = await poisoner();
    const counters = new UpstreamCounters();
    const f = makeForwarder([up.address], {}, counters);
    const d = decode((await forward(f, "www.example.com"))!.resp);
    expect(d.answers.map((x) => x.name)).toEqual(["www.example.com"]);
    expect(d.authorities).toEqual([]);
    expect(counters.scrubbedRecords).toBe(3);
  });

  test("a clean answer is relayed untouched and counts nothing", async () => {
    const up = await StandIn.start();
    standIns.push(up);
    const { pool } = makePool([], {}, [{ zone: "corp.example", upstreams: [up.address] }]);
    const counters = new UpstreamCounters();
    await forward(makeForwarder([], { pool }, counters), "clean.corp.example");
    expect({ records: counters.scrubbedRecords, responses: counters.scrubbedResponses }).toEqual({ records: 0, responses: 0 });
  });
});
