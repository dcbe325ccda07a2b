// A forward zone's answer whose CNAME leaves the zone: the target is asked for on its own (local data, served
// zones, cache, its own route), never taken from the forward zone's server, and the answers are joined.
import { afterEach, describe, expect, test } from "bun:test";
import { Outcome, QueryInfo, type Pipeline } from "../../src/pipeline";
import { addrFor, decode, makeQuery } from "../helpers/dns";
import { makePipeline, makePool } from "../helpers/pipeline";
import { soa } from "../helpers/responses";
import { StandIn, type StandInOptions } from "../helpers/upstream";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
async function standIn(opts: StandInOptions = {}) {
  const s = await StandIn.start(opts);
  cleanup.push(() => s.close());
  return s;
}

async function ask(p: Pipeline, name: string, type = "A") {
  const bytes = makeQuery(name, type);
  const slot = new Uint8Array(4096);
  slot.set(bytes);
  const q = new QueryInfo();
  let n = p.answerNow(slot, bytes.length, q, true);
  const sync = n !== Outcome.PENDING;
  if (!sync) n = await p.resolve(slot, new QueryInfo().copyFrom(q), true, Date.now() + 1500);
  return { msg: decode(slot.subarray(0, n)), sync };
}
const rrs = (m: ReturnType<typeof decode>) => m.answers.map((a) => `${a.name} ${a.type} ${a.data}`);

/** corp.example's server: www CNAME app.saas.example, with a forged A for the target beside it. */
const corpShape: StandInOptions["shape"] = (name) => {
  if (name === "www.corp.example")
    return {
      answers: [
        { name, type: "CNAME", class: "IN", ttl: 300, data: "app.saas.example" },
        { name: "app.saas.example", type: "A", class: "IN", ttl: 300, data: "6.6.6.6" },
      ],
    };
  if (name === "loop.corp.example") return { answers: [{ name, type: "CNAME", class: "IN", ttl: 300, data: "back.other.example" }] };
  if (name === "local.corp.example") return { answers: [{ name, type: "CNAME", class: "IN", ttl: 300, data: "printer.lan" }] };
  if (name === "gone.corp.example") return { answers: [{ name, type: "CNAME", class: "IN", ttl: 300, data: "nx.saas.example" }] };
  return undefined;
};

async function setup(defaultOpts: StandInOptions = {}) {
  const corp = await standIn({ shape: corpShape });
  const world = await standIn(defaultOpts);
  const { pool } = makePool([world.address], {}, [{ zone: "corp.example", upstreams: [corp.address] }]);
  const parts = makePipeline(["printer.lan 60 A 10.0.0.9"], [], { forwarder: { pool } });
  return { ...parts, corp, world };
}

describe("CNAME chains that leave a forward zone", () => {
  test("the target is asked of its own route; the forged record beside the CNAME is not used", async () => {
    const { pipeline, world } = await setup();
    const { msg } = await ask(pipeline, "www.corp.example");
    expect(rrs(msg)).toEqual(["www.corp.example CNAME app.saas.example", `app.saas.example A ${addrFor("app.saas.example")}`]);
    expect(world.received.map((r) => r.name)).toEqual(["app.saas.example"]);
  });
  test("the joined answer is cached whole", async () => {
    const { pipeline, corp, world } = await setup();
    await ask(pipeline, "www.corp.example");
    const again = await ask(pipeline, "www.corp.example");
    expect(again.sync).toBe(true);
    expect(rrs(again.msg)).toHaveLength(2);
    expect(corp.count() + world.count()).toBe(2);
  });
  test("a target in local data is answered from it", async () => {
    const { pipeline, world } = await setup();
    expect(rrs((await ask(pipeline, "local.corp.example")).msg)).toEqual(["local.corp.example CNAME printer.lan", "printer.lan A 10.0.0.9"]);
    expect(world.count()).toBe(0);
  });
  test("a target that does not exist makes the answer NXDOMAIN with the target's SOA (RFC 6604)", async () => {
    const { pipeline } = await setup({ shape: (n) => (n === "nx.saas.example" ? { rcode: "NXDOMAIN", answers: [], authorities: [soa("saas.example", 300, 60)] } : undefined) });
    const { msg } = await ask(pipeline, "gone.corp.example");
    expect(msg.rcode).toBe("NXDOMAIN");
    expect(rrs(msg)).toEqual(["gone.corp.example CNAME nx.saas.example"]);
    expect(msg.authorities.map((a) => `${a.name} ${a.type}`)).toEqual(["saas.example SOA"]);
  });
  test("a loop across zones ends after each name was asked once", async () => {
    const { pipeline, corp, world } = await setup({
      shape: (n) => (n === "back.other.example" ? { answers: [{ name: n, type: "CNAME", class: "IN", ttl: 300, data: "loop.corp.example" }] } : undefined),
    });
    const { msg } = await ask(pipeline, "loop.corp.example");
    expect(rrs(msg)).toEqual(["loop.corp.example CNAME back.other.example", "back.other.example CNAME loop.corp.example"]);
    expect(corp.received.filter((r) => r.name === "loop.corp.example").length).toBe(1);
    expect(world.count()).toBe(1);
  });
  test("a target whose upstream is silent ends in SERVFAIL", async () => {
    const { pipeline } = await setup({ silent: true });
    expect((await ask(pipeline, "www.corp.example")).msg.rcode).toBe("SERVFAIL");
  });
});
