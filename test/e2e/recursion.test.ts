// Full recursion from the root in a real bunbound (mode = "recursive"), against the small internet on loopback of
// helpers/hierarchy.ts: a root, TLDs and leaf zones on 127.53.x.y, every server on the port the world picked
// (recursion.port). Each case is asked by a client over UDP and over TCP; the servers' own logs show what the
// iterator sent them.
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addrFor, decode, makeQuery, tcpAsk, udpAsk, type Decoded } from "../helpers/dns";
import { Hierarchy } from "../helpers/hierarchy";
import { startBunbound, type Running } from "../helpers/proc";
import { StandIn } from "../helpers/upstream";

setDefaultTimeout(20_000);

let world: Hierarchy;
let b: Running;

async function start(extra = ""): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "bunbound-rec-"));
  const cfg = join(dir, "bunbound.toml");
  writeFileSync(
    cfg,
    `mode = "recursive"\nroot_hints = "${world.hints}"\ndata_dir = "${dir}/data"\n[dnssec]\nvalidate = false\n` +
      `[recursion]\nport = ${world.port}\n${extra}\n[clients]\nenabled = false\n[discovery]\nenabled = false\n`,
  );
  const r = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-level", "debug"]);
  return r;
}

beforeAll(async () => {
  world = await Hierarchy.start();
  b = await start();
});
afterAll(async () => {
  await b?.stop("SIGKILL");
  world?.close();
});

async function flush(r: Running = b): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${r.httpPort}/api/cache/flush`, { method: "POST" });
  expect(res.status).toBe(200);
}

type Transport = "udp" | "tcp";
const TRANSPORTS: Transport[] = ["udp", "tcp"];

async function ask(name: string, type = "A", via: Transport = "udp", r: Running = b): Promise<Decoded & { raw: Uint8Array }> {
  const q = makeQuery(name, type, { edns: 1232 });
  const raw = via === "udp" ? await udpAsk(r.udpPort, q, 5000) : await tcpAsk(r.udpPort, q);
  if (!raw) throw new Error(`no answer to ${name} ${type} over ${via}`);
  return { ...decode(raw), raw };
}

const data = (d: Decoded, type?: string) => d.answers.filter((a) => !type || a.type === type).map((a) => (typeof a.data === "string" ? a.data : a.data));
/** The EDE (RFC 8914) of an answer: INFO-CODE and EXTRA-TEXT, or null. */
function edeOf(d: Decoded): { code: number; text: string } | null {
  const opt = d.additionals.find((a) => a.type === "OPT") as { options?: Array<{ code: number; data?: Buffer }> } | undefined;
  const o = opt?.options?.find((x) => x.code === 15);
  if (!o?.data) return null;
  return { code: o.data.readUInt16BE(0), text: o.data.subarray(2).toString("utf8") };
}
const flags = (raw: Uint8Array) => ({ aa: (raw[2]! & 0x04) !== 0, ra: (raw[3]! & 0x80) !== 0 });

beforeEach(() => world.reset());

describe.each(TRANSPORTS)("answers from the root down, asked over %s", (via) => {
  beforeEach(() => flush());

  test("A and AAAA of a name in a zone delegated with glue: the data, RA set, AA clear", async () => {
    const a = await ask("www.example.com", "A", via);
    expect(a.rcode).toBe("NOERROR");
    expect(data(a, "A")).toEqual(["192.0.2.1"]);
    expect(flags(a.raw)).toEqual({ aa: false, ra: true });
    const aaaa = await ask("www.example.com", "AAAA", via);
    expect(data(aaaa, "AAAA")).toEqual(["2001:db8::1"]);
  });

  test("a zone whose NS name has no glue and lives in another TLD", async () => {
    const a = await ask("www.example.net", "A", via);
    expect(data(a, "A")).toEqual(["192.0.2.2"]);
  });

  test("a CNAME into another zone is followed there, and the whole chain answered", async () => {
    const a = await ask("alias.example.com", "A", via);
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers.map((r) => [r.name, r.type, r.data])).toEqual([
      ["alias.example.com", "CNAME", "www.example.net"],
      ["www.example.net", "A", "192.0.2.2"],
    ]);
  });

  test("a CNAME chain inside one zone comes whole from one server", async () => {
    const a = await ask("chain.example.com", "A", via);
    expect(a.answers.map((r) => [r.name, r.type, r.data])).toEqual([
      ["chain.example.com", "CNAME", "web.example.com"],
      ["web.example.com", "CNAME", "www.example.com"],
      ["www.example.com", "A", "192.0.2.1"],
    ]);
    expect(world.log.filter((e) => e.server === "ns1.example.com").length).toBe(1);
  });

  test("a DNAME (RFC 6672): the DNAME, the CNAME it makes, and the target's answer from the other zone", async () => {
    const a = await ask("x.dname.example.com", "A", via);
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers.map((r) => [r.name, r.type])).toEqual([
      ["dname.example.com", "DNAME"],
      ["x.dname.example.com", "CNAME"],
      ["x.example.net", "A"],
    ]);
    expect(data(a, "A")).toEqual(["192.0.2.3"]);
  });

  test("NXDOMAIN carries the zone's SOA; NODATA too", async () => {
    const nx = await ask("nope.example.com", "A", via);
    expect(nx.rcode).toBe("NXDOMAIN");
    expect(nx.authorities.map((r) => [r.name, r.type])).toEqual([["example.com", "SOA"]]);
    const nodata = await ask("www.example.com", "MX", via);
    expect(nodata.rcode).toBe("NOERROR");
    expect(nodata.answers).toEqual([]);
    expect(nodata.authorities.map((r) => [r.name, r.type])).toEqual([["example.com", "SOA"]]);
  });

  test("an empty non-terminal is NODATA, not NXDOMAIN", async () => {
    const a = await ask("b.example.com", "A", via);
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers).toEqual([]);
  });

  test("a CNAME loop is SERVFAIL (RFC 1034 3.6.2, as Unbound answers), with an EDE saying so", async () => {
    const a = await ask("loop1.example.com", "A", via);
    expect(a.rcode).toBe("SERVFAIL");
    expect(edeOf(a)?.text).toContain("CNAME loop");
  });
});

describe("servers that misbehave", () => {
  beforeEach(() => flush());

  test("a glue-less NS name in another TLD is resolved through that TLD, then its zone is asked", async () => {
    const fresh = await start();
    try {
      expect(data(await ask("www.example.net", "A", "udp", fresh), "A")).toEqual(["192.0.2.2"]);
      const order = world.log.filter((e) => e.qname !== ".").map((e) => `${e.server} ${e.qname.toLowerCase()} ${e.qtype}`);
      expect(order).toContain("ns1.dns-host.org ns.dns-host.org A");
      expect(order.indexOf("ns1.dns-host.org ns.dns-host.org A")).toBeLessThan(order.indexOf("ns.dns-host.org www.example.net A"));
    } finally {
      await fresh.stop("SIGKILL");
    }
  });

  test("one of two servers refuses: the other answers, and the refusing one is not asked again for its zone", async () => {
    for (let i = 0; i < 3; i++) {
      await flush();
      expect(data(await ask("www.lame.com"), "A")).toEqual(["192.0.2.11"]);
    }
    expect(world.server("ns1.lame.com").queries).toBeLessThanOrEqual(1);
  });

  test("every server lame (REFUSED, SERVFAIL, an upward referral): SERVFAIL with EDE 22 No Reachable Authority", async () => {
    const a = await ask("www.alllame.com");
    expect(a.rcode).toBe("SERVFAIL");
    expect(edeOf(a)?.code).toBe(22);
    expect(edeOf(a)?.text).toContain("alllame.com");
  });

  test("a server that never answers: the other one does, and once learnt the silent one is left alone", async () => {
    for (let i = 0; i < 4; i++) {
      await flush();
      expect(data(await ask("www.slow.com"), "A")).toEqual(["192.0.2.8"]);
    }
    expect(world.server("ns1.slow.com").queries).toBeLessThanOrEqual(1);
  });

  test("a server that answers FORMERR to EDNS is asked again without it, and from then on without it", async () => {
    expect(data(await ask("www.noedns.com"), "A")).toEqual(["192.0.2.12"]);
    const log = world.log.filter((e) => e.server === "ns1.noedns.com");
    expect(log.map((e) => e.edns)).toEqual([true, false]);
    await flush();
    world.reset();
    expect(data(await ask("www.noedns.com"), "A")).toEqual(["192.0.2.12"]);
    expect(world.log.filter((e) => e.server === "ns1.noedns.com").map((e) => e.edns)).toEqual([false]);
  });

  test("a truncated answer is asked again over TCP", async () => {
    expect(data(await ask("www.tc.com"), "A")).toEqual(["192.0.2.13"]);
    expect(world.log.filter((e) => e.server === "ns1.tc.com").map((e) => e.transport)).toEqual(["udp", "tcp"]);
  });

  test("records outside the server's zone are neither answered nor kept: the real example.com data is", async () => {
    const fresh = await start();
    try {
      const oob = await ask("www.oob.com", "A", "udp", fresh);
      expect(data(oob)).toEqual(["192.0.2.6"]);
      expect(oob.answers.every((r) => r.name === "www.oob.com")).toBe(true);
      expect(data(await ask("www.example.com", "A", "udp", fresh), "A")).toEqual(["192.0.2.1"]);
    } finally {
      await fresh.stop("SIGKILL");
    }
  });

  test("a forged answer from another address is ignored: the real one is used", async () => {
    const a = await ask("www.spoof.com");
    expect(data(a, "A")).toEqual(["192.0.2.7"]);
  });

  test("a big answer: TC to a UDP client, whole over TCP", async () => {
    const udp = await ask("big.example.com", "TXT", "udp");
    expect(udp.flag_tc).toBe(true);
    const tcp = await ask("big.example.com", "TXT", "tcp");
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers.length).toBe(20);
  });
});

describe("limits against loops and amplification", () => {
  beforeEach(() => flush());

  test("a referral loop (loop.com's NS in loop.net and back) ends in SERVFAIL with an EDE, after few queries", async () => {
    const a = await ask("www.loop.com");
    expect(a.rcode).toBe("SERVFAIL");
    expect(edeOf(a)).not.toBeNull();
    expect(world.queries).toBeLessThan(30);
  });

  test("a delegation to 50 glue-less NS names (NXNSAttack): at most max_ns_lookups of them are looked up", async () => {
    const a = await ask("www.manyns.com");
    expect(a.rcode).toBe("SERVFAIL");
    expect(edeOf(a)?.text).toContain("max_ns_lookups");
    const nxns = world.log.filter((e) => e.server === "ns1.nxns.org");
    expect(new Set(nxns.map((e) => e.qname.toLowerCase())).size).toBeLessThanOrEqual(4);
  });

  test("max_queries caps what one question may send: past it SERVFAIL, the EDE naming the setting", async () => {
    const tight = await start("max_queries = 4");
    try {
      const a = await ask("www.example.net", "A", "udp", tight);
      expect(a.rcode).toBe("SERVFAIL");
      expect(edeOf(a)?.text).toContain("max_queries");
      expect(world.log.filter((e) => e.qname !== ".").length).toBeLessThanOrEqual(4); // the root priming aside
    } finally {
      await tight.stop("SIGKILL");
    }
  });
});

describe("QNAME minimisation, coalescing, deadlines", () => {
  beforeEach(() => flush());

  test("each server sees only the labels it needs (RFC 9156): the root is asked for com., com. for deep.com.", async () => {
    const fresh = await start();
    try {
      world.reset();
      expect(data(await ask("a.b.c.deep.com", "A", "udp", fresh), "A")).toEqual(["192.0.2.14"]);
    } finally {
      await fresh.stop("SIGKILL");
    }
    const seen = (server: string) => world.log.filter((e) => e.server === server).map((e) => e.qname.toLowerCase());
    const roots = [...seen("a.root-servers.test"), ...seen("b.root-servers.test")].filter((n) => n !== ".");
    expect(roots).toEqual(["com"]);
    expect([...seen("a.nic.com"), ...seen("b.nic.com")]).toEqual(["deep.com"]);
    expect(seen("ns1.deep.com")).toEqual(["c.deep.com"]);
    expect(seen("ns1.c.deep.com")).toEqual(["b.c.deep.com"]);
    expect(seen("ns1.b.c.deep.com")).toEqual(["a.b.c.deep.com"]);
  });

  test("with qname_minimisation off the full name goes to every server", async () => {
    const full = await start("qname_minimisation = false");
    try {
      expect(data(await ask("a.b.c.deep.com", "A", "udp", full), "A")).toEqual(["192.0.2.14"]);
      const names = world.log.filter((e) => e.qname !== ".").map((e) => e.qname.toLowerCase());
      expect(new Set(names)).toEqual(new Set(["a.b.c.deep.com"]));
    } finally {
      await full.stop("SIGKILL");
    }
  });

  test("20 clients asking the same name at once: one resolution", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => ask("www.example.com")));
    for (const a of answers) expect(data(a, "A")).toEqual(["192.0.2.1"]);
    expect(world.log.filter((e) => e.server === "ns1.example.com").length).toBe(1);
  });

  test("two names needing the same glue-less NS name at once: its address is looked up once", async () => {
    const fresh = await start();
    try {
      world.reset();
      const [a, x] = await Promise.all([ask("www.example.net", "A", "udp", fresh), ask("x.example.net", "A", "udp", fresh)]);
      expect(data(a, "A")).toEqual(["192.0.2.2"]);
      expect(data(x, "A")).toEqual(["192.0.2.3"]);
      const lookups = world.log.filter((e) => e.server === "ns1.dns-host.org" && e.qname.toLowerCase() === "ns.dns-host.org" && e.qtype === "A");
      expect(lookups.length).toBe(1);
    } finally {
      await fresh.stop("SIGKILL");
    }
  });

  test("servers that never answer: SERVFAIL by the client's deadline, and nothing is sent after it", async () => {
    const fresh = await start("");
    try {
      world.server("ns1.slow.com").behaviour.silent = true;
      world.server("ns2.slow.com").behaviour.silent = true;
      const t0 = performance.now();
      const a = await ask("www.slow.com", "A", "udp", fresh);
      const took = performance.now() - t0;
      expect(a.rcode).toBe("SERVFAIL");
      expect(took).toBeLessThan(3500);
      const after = world.queries;
      await Bun.sleep(1500);
      expect(world.queries).toBe(after);
    } finally {
      world.server("ns1.slow.com").behaviour.silent = true;
      world.server("ns2.slow.com").behaviour.silent = false;
      await fresh.stop("SIGKILL");
    }
  });
});

describe("what the iterator did, shown", () => {
  test("GET /api/resolve traces one resolution: each exchange with its server, zone, question and result", async () => {
    const res = await fetch(`http://127.0.0.1:${b.httpPort}/api/resolve?name=alias.example.com&type=A`);
    expect(res.status).toBe(200);
    const t = (await res.json()) as { rcode: string; answer: string[]; exchanges: Array<{ server: string; zone: string; qname: string; result: string }> };
    expect(t.rcode).toBe("NOERROR");
    expect(t.answer).toEqual([expect.stringMatching(/^alias\.example\.com\. \d+ CNAME www\.example\.net\.$/), expect.stringMatching(/^www\.example\.net\. \d+ A 192\.0\.2\.2$/)]);
    const last = t.exchanges.at(-1)!;
    expect(last).toMatchObject({ zone: "example.net.", qname: "www.example.net.", result: "answer" });
    expect(last.server).toBe(`127.53.11.1:${world.port}`);
  });

  test("/api/resolve refuses a bad name or type with 400", async () => {
    expect((await fetch(`http://127.0.0.1:${b.httpPort}/api/resolve?name=a..b`)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${b.httpPort}/api/resolve?name=a.b&type=NOPE`)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${b.httpPort}/api/resolve`)).status).toBe(400);
  });

  test("--log-level debug logs every exchange", async () => {
    await flush();
    const from = b.logs.length;
    await ask("www.example.com");
    const line = await b.waitLog("recursion exchange", 2000, from);
    expect(line).toMatchObject({ zone: expect.any(String), server: expect.any(String), result: expect.any(String) });
  });

  test("/metrics counts outgoing queries by server", async () => {
    const text = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    expect(text).toMatch(new RegExp(`bunbound_recursion_server_queries_total\\{server="127\\.53\\.10\\.1:${world.port}"\\} [1-9]`));
    expect(text).toMatch(/bunbound_recursion_queries_total [1-9]/);
  });
});

describe("zones not asked from the root, and the cache in recursive mode", () => {
  test("a [[stub]] zone is resolved starting at its servers, without recursion desired; the root is not asked for it", async () => {
    const r = await start(`\n[[stub]]\nzone = "example.com"\nservers = ["127.53.10.1:${world.port}"]`);
    try {
      world.reset();
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual(["192.0.2.1"]);
      const asked = world.log.filter((e) => e.qname !== ".");
      expect(asked.map((e) => `${e.server} ${e.qname.toLowerCase()} rd=${e.rd}`)).toEqual(["ns1.example.com www.example.com rd=false"]);
    } finally {
      await r.stop("SIGKILL");
    }
  });

  test("a [[forward]] zone still goes to its upstreams (conditional forwarding); the rest is resolved", async () => {
    const up = await StandIn.start();
    const r = await start(`\n[[forward]]\nzone = "corp.example"\nupstreams = ["${up.address}"]`);
    try {
      expect(data(await ask("app.corp.example", "A", "udp", r), "A")).toEqual([addrFor("app.corp.example")]);
      expect(up.count()).toBe(1);
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual(["192.0.2.1"]);
      expect(up.count()).toBe(1);
    } finally {
      await r.stop("SIGKILL");
      up.close();
    }
  });

  test("serve-stale: once the data expired and its server stopped answering, the stale answer is given (RFC 8767)", async () => {
    const r = await start(`\n[cache]\nmax_ttl = 1\nstale_client_timeout_ms = 300`);
    const server = world.server("ns1.example.com");
    try {
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual(["192.0.2.1"]);
      server.behaviour.silent = true;
      await Bun.sleep(1500);
      const stale = await ask("www.example.com", "A", "udp", r);
      expect(data(stale, "A")).toEqual(["192.0.2.1"]);
      expect(stale.answers[0]!.ttl).toBe(30); // stale_answer_ttl
    } finally {
      server.behaviour.silent = false;
      await r.stop("SIGKILL");
    }
  });

  test("recursion.randomize_case: servers see 0x20-mixed names, and answers that echo them are taken", async () => {
    const r = await start("randomize_case = true");
    try {
      world.reset();
      expect(data(await ask("abcdefgh.wild.example.com", "A", "udp", r), "A")).toEqual(["192.0.2.9"]);
      const names = world.log.filter((e) => e.qname !== ".").map((e) => e.qname);
      expect(names.some((n) => n !== n.toLowerCase())).toBe(true);
    } finally {
      await r.stop("SIGKILL");
    }
  });
});

describe("switching modes by reload", () => {
  test("forward -> recursive -> forward with SIGHUP: each mode answers from its own source", async () => {
    const up = await StandIn.start();
    const dir = mkdtempSync(join(tmpdir(), "bunbound-rec-mode-"));
    const cfg = join(dir, "bunbound.toml");
    const forward = `upstreams = ["${up.address}"]\ndata_dir = "${dir}/data"\nroot_hints = "${world.hints}"\n[dnssec]\nvalidate = false\n[recursion]\nport = ${world.port}\n[clients]\nenabled = false\n[discovery]\nenabled = false\n`;
    writeFileSync(cfg, forward);
    const r = await startBunbound(["--config", cfg, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
    try {
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual([addrFor("www.example.com")]);
      writeFileSync(cfg, `mode = "recursive"\n${forward}`);
      let from = r.logs.length;
      r.proc.kill("SIGHUP");
      await r.waitLog("configuration reloaded", 5000, from);
      await flush(r);
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual(["192.0.2.1"]);
      writeFileSync(cfg, forward);
      from = r.logs.length;
      r.proc.kill("SIGHUP");
      await r.waitLog("configuration reloaded", 5000, from);
      await flush(r);
      expect(data(await ask("www.example.com", "A", "udp", r), "A")).toEqual([addrFor("www.example.com")]);
      expect((await fetch(`http://127.0.0.1:${r.httpPort}/api/resolve?name=www.example.com`)).status).toBe(409);
    } finally {
      await r.stop("SIGKILL");
      up.close();
    }
  });
});

