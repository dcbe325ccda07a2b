// The loopback world's stand-ins asked as a resolver asks them (dig +norec, and raw sockets where dig cannot
// show it): referrals with glue, authoritative and negative answers, and each misbehaving server doing what it
// was told to. One world for the file; tests that start and stop worlds use their own.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as packet from "dns-packet";
import { AuthServer, BOGUS, Hierarchy, MANY_NS, parseRecords, writeRootHints, Zone, ZONES } from "./hierarchy";
import { missing, run } from "./tls";

setDefaultTimeout(20_000);

const noDig = missing(["dig"], "apt-get install -y bind9-dnsutils").length > 0;

let world: Hierarchy;
beforeAll(async () => {
  world = await Hierarchy.start();
});
afterAll(() => world?.close());

interface Dig {
  code: number;
  out: string;
  status: string;
  flags: string[];
  question: string;
  answer: string[];
  authority: string[];
  additional: string[];
  /** The answer carried an OPT record. */
  opt: boolean;
}

/** dig +norec at one server of the world; sections as "NAME TTL IN TYPE DATA" lines, whitespace squeezed. */
async function dig(server: string, ...args: string[]): Promise<Dig> {
  const r = await run(["dig", `@${world.server(server).address}`, "-p", String(world.port), "+norec", "+time=2", "+tries=1", ...args]);
  const lines = r.stdout.split("\n");
  const section = (title: string): string[] => {
    const start = lines.findIndex((l) => l.startsWith(`;; ${title} SECTION:`));
    if (start < 0) return [];
    const end = lines.findIndex((l, i) => i > start && l.trim() === "");
    return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.split(/\s+/).join(" "));
  };
  return {
    code: r.code,
    out: r.stdout,
    status: /status: (\w+)/.exec(r.stdout)?.[1] ?? "",
    flags: /;; flags:([^;]*);/.exec(r.stdout)?.[1]?.trim().split(/\s+/) ?? [],
    question: section("QUESTION")[0] ?? "",
    answer: section("ANSWER"),
    authority: section("AUTHORITY"),
    additional: section("ADDITIONAL"),
    opt: r.stdout.includes("OPT PSEUDOSECTION"),
  };
}

const query = (name: string, type = "A", id = 4242): Uint8Array =>
  new Uint8Array(packet.encode({ type: "query", id, flags: 0, questions: [{ name, type: type as packet.RecordType, class: "IN" }] }));

/** Sends one query from a socket that is not connected, and keeps every datagram back (from any address) until `want` came or `ms` passed. */
async function collect(address: string, msg: Uint8Array, want: number, ms = 1000, port = world.port): Promise<Array<{ from: string; reply: packet.Packet; at: number }>> {
  const got: Array<{ from: string; reply: packet.Packet; at: number }> = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    binaryType: "uint8array",
    socket: {
      data: (_s, data, _port, from) => {
        got.push({ from, reply: packet.decode(Buffer.from(data)), at: performance.now() });
        if (got.length >= want) done();
      },
      error: () => {},
    },
  });
  const timer = setTimeout(done, ms);
  sock.send(msg, port, address);
  await finished;
  clearTimeout(timer);
  sock.close();
  return got;
}

const aData = (p: packet.Packet): string[] => (p.answers ?? []).flatMap((a) => (a.type === "A" ? [a.data] : []));

describe("the root servers", () => {
  test.skipIf(noDig)("the root refers com. to its servers with their addresses as glue, not authoritatively", async () => {
    const r = await dig("a.root-servers.test", "www.example.com", "A");
    expect(r.status).toBe("NOERROR");
    expect(r.flags).not.toContain("aa");
    expect(r.answer).toEqual([]);
    expect(r.authority).toEqual(["com. 172800 IN NS a.nic.com.", "com. 172800 IN NS b.nic.com."]);
    expect(r.additional).toEqual(["a.nic.com. 172800 IN A 127.53.1.1", "b.nic.com. 172800 IN A 127.53.1.2"]);
  });

  test.skipIf(noDig)("the root answers the priming query authoritatively, with the root servers' addresses", async () => {
    const r = await dig("b.root-servers.test", ".", "NS");
    expect(r.flags).toContain("aa");
    expect(r.answer).toEqual([". 518400 IN NS a.root-servers.test.", ". 518400 IN NS b.root-servers.test."]);
    expect(r.additional).toEqual(["a.root-servers.test. 518400 IN A 127.53.0.1", "b.root-servers.test. 518400 IN A 127.53.0.2"]);
  });

  test.skipIf(noDig)("the root servers' own names are answered by the root servers, which serve test. too", async () => {
    const r = await dig("a.root-servers.test", "b.root-servers.test", "A");
    expect(r.flags).toContain("aa");
    expect(r.answer).toEqual(["b.root-servers.test. 3600 IN A 127.53.0.2"]);
  });
});

describe("an authoritative zone: example.com.", () => {
  test.skipIf(noDig)("www A is answered with aa and no recursion offered", async () => {
    const r = await dig("ns1.example.com", "www.example.com", "A");
    expect(r.status).toBe("NOERROR");
    expect(r.flags).toContain("aa");
    expect(r.flags).not.toContain("ra");
    expect(r.answer).toEqual(["www.example.com. 3600 IN A 192.0.2.1"]);
    expect(r.opt).toBe(true);
  });

  test.skipIf(noDig)("the question comes back as sent, 0x20 case kept, and the log keeps it so", async () => {
    const server = world.server("ns1.example.com");
    server.reset();
    const r = await dig("ns1.example.com", "WwW.eXaMpLe.CoM", "AAAA");
    expect(r.question).toBe(";WwW.eXaMpLe.CoM. IN AAAA");
    // The answer's owner points at the question, as real servers compress it, so it carries the same case.
    expect(r.answer).toEqual(["WwW.eXaMpLe.CoM. 3600 IN AAAA 2001:db8::1"]);
    expect(server.log).toMatchObject([{ server: "ns1.example.com", qname: "WwW.eXaMpLe.CoM", qtype: "AAAA", transport: "udp", edns: true, do: false, rd: false }]);
    expect(server.queries).toBe(1);
  });

  test.skipIf(noDig)("a name that does not exist is NXDOMAIN with the SOA at the negative TTL", async () => {
    const r = await dig("ns1.example.com", "nope.example.com", "A");
    expect(r.status).toBe("NXDOMAIN");
    expect(r.flags).toContain("aa");
    expect(r.answer).toEqual([]);
    expect(r.authority).toEqual(["example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300"]);
  });

  test.skipIf(noDig)("a type the name lacks, and an empty non-terminal, are NODATA with the SOA", async () => {
    for (const [name, type] of [["www.example.com", "MX"], ["b.example.com", "A"]] as const) {
      const r = await dig("ns1.example.com", name, type);
      expect(r.status).toBe("NOERROR");
      expect(r.answer).toEqual([]);
      expect(r.authority).toHaveLength(1);
      expect(r.authority[0]).toStartWith("example.com. 300 IN SOA ");
    }
  });

  test.skipIf(noDig)("a CNAME chain inside the zone is followed to the data", async () => {
    const r = await dig("ns1.example.com", "chain.example.com", "A");
    expect(r.answer).toEqual(["chain.example.com. 3600 IN CNAME web.example.com.", "web.example.com. 3600 IN CNAME www.example.com.", "www.example.com. 3600 IN A 192.0.2.1"]);
  });

  test.skipIf(noDig)("a CNAME loop ends after each record once; a CNAME out of the zone is not followed", async () => {
    const loop = await dig("ns1.example.com", "loop1.example.com", "A");
    expect(loop.status).toBe("NOERROR");
    expect(loop.answer).toEqual(["loop1.example.com. 3600 IN CNAME loop2.example.com.", "loop2.example.com. 3600 IN CNAME loop1.example.com."]);
    const alias = await dig("ns1.example.com", "alias.example.com", "A");
    expect(alias.answer).toEqual(["alias.example.com. 3600 IN CNAME www.example.net."]);
  });

  test.skipIf(noDig)("a name below the DNAME gets the DNAME and the CNAME made from it", async () => {
    const r = await dig("ns1.example.com", "x.dname.example.com", "A");
    expect(r.status).toBe("NOERROR");
    expect(r.answer).toEqual(["dname.example.com. 3600 IN DNAME example.net.", "x.dname.example.com. 3600 IN CNAME x.example.net."]);
  });

  test.skipIf(noDig)("a wildcard answers for a name below it, with the name asked as owner", async () => {
    const r = await dig("ns1.example.com", "any.wild.example.com", "A");
    expect(r.answer).toEqual(["any.wild.example.com. 3600 IN A 192.0.2.9"]);
  });

  test.skipIf(noDig)("an answer larger than the client's UDP size goes out truncated; TCP carries all of it", async () => {
    const plain = await dig("ns1.example.com", "medium.example.com", "TXT", "+noedns", "+ignore");
    expect(plain.flags).toContain("tc");
    expect(plain.answer).toEqual([]);
    const edns = await dig("ns1.example.com", "medium.example.com", "TXT");
    expect(edns.flags).not.toContain("tc");
    expect(edns.answer).toHaveLength(6);
    const big = await dig("ns1.example.com", "big.example.com", "TXT", "+ignore");
    expect(big.flags).toContain("tc");
    expect(big.opt).toBe(true);
    const tcp = await dig("ns1.example.com", "big.example.com", "TXT", "+tcp");
    expect(tcp.answer).toHaveLength(20);
  });
});

describe("delegations", () => {
  test.skipIf(noDig)("net. refers example.net. to a name under org. and has no glue for it", async () => {
    const r = await dig("a.nic.net", "www.example.net", "A");
    expect(r.flags).not.toContain("aa");
    expect(r.authority).toEqual(["example.net. 172800 IN NS ns.dns-host.org."]);
    expect(r.additional).toEqual([]);
    const host = await dig("ns1.dns-host.org", "ns.dns-host.org", "A");
    expect(host.answer).toEqual(["ns.dns-host.org. 3600 IN A 127.53.11.1"]);
  });

  test.skipIf(noDig)("com. and net. refer loop.com. and loop.net. to each other, glue-less", async () => {
    const com = await dig("a.nic.com", "www.loop.com", "A");
    expect(com.authority).toEqual(["loop.com. 172800 IN NS ns.loop.net."]);
    const net = await dig("a.nic.net", "ns.loop.net", "A");
    expect(net.authority).toEqual(["loop.net. 172800 IN NS ns.loop.com."]);
    expect([...com.additional, ...net.additional]).toEqual([]);
  });

  test.skipIf(noDig)("manyns.com. has fifty NS names, none of which exists in nxns.org.", async () => {
    const r = await dig("b.nic.com", "www.manyns.com", "A");
    expect(r.authority).toHaveLength(MANY_NS.length);
    expect(r.authority.map((l) => l.split(" ")[4])).toEqual(MANY_NS.map((n) => `${n}.`));
    const ns = await dig("ns1.nxns.org", MANY_NS[6]!, "A");
    expect(ns.status).toBe("NXDOMAIN");
  });

  test.skipIf(noDig)("a.b.c.deep.com. is reached through three zone cuts", async () => {
    const deep = await dig("ns1.deep.com", "a.b.c.deep.com", "A");
    expect(deep.authority).toEqual(["c.deep.com. 3600 IN NS ns1.c.deep.com."]);
    expect(deep.additional).toEqual(["ns1.c.deep.com. 3600 IN A 127.53.20.2"]);
    const c = await dig("ns1.c.deep.com", "a.b.c.deep.com", "A");
    expect(c.authority).toEqual(["b.c.deep.com. 3600 IN NS ns1.b.c.deep.com."]);
    const b = await dig("ns1.b.c.deep.com", "a.b.c.deep.com", "A");
    expect(b.flags).toContain("aa");
    expect(b.answer).toEqual(["a.b.c.deep.com. 3600 IN A 192.0.2.14"]);
  });

  test.skipIf(noDig)("the DS of a delegation is answered by the parent, authoritatively (NODATA here)", async () => {
    const r = await dig("a.nic.com", "example.com", "DS");
    expect(r.flags).toContain("aa");
    expect(r.answer).toEqual([]);
    expect(r.authority[0]).toStartWith("com. 900 IN SOA a.nic.com. ");
  });

  test.skipIf(noDig)("a name no zone of the server holds is REFUSED", async () => {
    const r = await dig("ns1.example.com", "www.example.org", "A");
    expect(r.status).toBe("REFUSED");
    expect(r.flags).not.toContain("aa");
  });
});

describe("servers that misbehave", () => {
  test.skipIf(noDig)("lame.com.'s lame server REFUSEs while the other answers", async () => {
    expect((await dig("ns1.lame.com", "www.lame.com", "A")).status).toBe("REFUSED");
    expect((await dig("ns2.lame.com", "www.lame.com", "A")).answer).toEqual(["www.lame.com. 3600 IN A 192.0.2.11"]);
  });

  test.skipIf(noDig)("every alllame.com. server is lame: REFUSED, SERVFAIL, and an upward referral to the root", async () => {
    expect((await dig("ns1.alllame.com", "www.alllame.com", "A")).status).toBe("REFUSED");
    expect((await dig("ns2.alllame.com", "www.alllame.com", "A")).status).toBe("SERVFAIL");
    const up = await dig("ns3.alllame.com", "www.alllame.com", "A");
    expect(up.status).toBe("NOERROR");
    expect(up.flags).not.toContain("aa");
    expect(up.answer).toEqual([]);
    expect(up.authority).toEqual([". 518400 IN NS a.root-servers.test.", ". 518400 IN NS b.root-servers.test."]);
  });

  test.skipIf(noDig)("the EDNS-intolerant server returns FORMERR without OPT to EDNS and answers without it", async () => {
    const edns = await dig("ns1.noedns.com", "www.noedns.com", "A", "+nocookie");
    expect(edns.status).toBe("FORMERR");
    expect(edns.opt).toBe(false);
    const plain = await dig("ns1.noedns.com", "www.noedns.com", "A", "+noedns");
    expect(plain.status).toBe("NOERROR");
    expect(plain.answer).toEqual(["www.noedns.com. 3600 IN A 192.0.2.12"]);
  });

  test.skipIf(noDig)("the truncating server sets TC over UDP and answers over TCP", async () => {
    const udp = await dig("ns1.tc.com", "www.tc.com", "A", "+ignore");
    expect(udp.flags).toContain("tc");
    expect(udp.answer).toEqual([]);
    const tcp = await dig("ns1.tc.com", "www.tc.com", "A", "+tcp");
    expect(tcp.flags).not.toContain("tc");
    expect(tcp.answer).toEqual(["www.tc.com. 3600 IN A 192.0.2.13"]);
  });

  test.skipIf(noDig)("the silent server logs the query and never answers, over UDP or TCP", async () => {
    const server = world.server("ns1.slow.com");
    server.reset();
    const udp = await dig("ns1.slow.com", "www.slow.com", "A", "+time=1");
    expect(udp.code).toBe(9);
    expect(udp.out).toContain("timed out");
    const tcp = await dig("ns1.slow.com", "www.slow.com", "A", "+time=1", "+tcp");
    expect(tcp.code).toBe(9);
    expect(server.log.map((e) => e.transport)).toEqual(["udp", "tcp"]);
    expect((await dig("ns2.slow.com", "www.slow.com", "A")).answer).toEqual(["www.slow.com. 3600 IN A 192.0.2.8"]);
  });

  test.skipIf(noDig)("oob.com.'s server adds records for names it does not serve to every section", async () => {
    const r = await dig("ns1.oob.com", "www.oob.com", "A");
    expect(r.answer).toEqual(["www.oob.com. 3600 IN A 192.0.2.6", `www.example.com. 300 IN A ${BOGUS}`]);
    expect(r.authority).toEqual(["example.com. 300 IN NS ns1.oob.com."]);
    expect(r.additional).toEqual([`ns1.example.com. 300 IN A ${BOGUS}`]);
  });

  test("the spoofer's forgery, from the wrong address, reaches a socket that is not connected before the real answer", async () => {
    const got = await collect(world.server("ns1.spoof.com").address, query("www.spoof.com", "A", 777), 2);
    expect(got.map((g) => g.from)).toEqual(["127.53.66.1", "127.53.19.1"]);
    const [forged, real] = got.map((g) => g.reply) as [packet.Packet, packet.Packet];
    expect(forged.id).toBe(777);
    expect(forged.questions).toEqual(real.questions!);
    expect((forged.flags! & packet.AUTHORITATIVE_ANSWER) !== 0).toBe(true);
    expect(aData(forged)).toEqual([BOGUS]);
    expect(real.id).toBe(777);
    expect(aData(real)).toEqual(["192.0.2.7"]);
  });

  test.skipIf(noDig)("dig, whose socket is connected to the server, only sees the spoofer's real answer", async () => {
    const r = await dig("ns1.spoof.com", "www.spoof.com", "A");
    expect(r.answer).toEqual(["www.spoof.com. 3600 IN A 192.0.2.7"]);
  });

  test("delayMs holds the answer back; close() drops it and frees the address", async () => {
    const zones = [ZONES["example.com."]!];
    const slow = await AuthServer.start({ address: "127.53.99.1", port: world.port, zones, delayMs: 300 });
    const t0 = performance.now();
    const got = await collect("127.53.99.1", query("www.example.com"), 1, 2000);
    expect(got).toHaveLength(1);
    expect(got[0]!.at - t0).toBeGreaterThanOrEqual(290);
    expect(aData(got[0]!.reply)).toEqual(["192.0.2.1"]);
    const pending = collect("127.53.99.1", query("www.example.com"), 1, 600);
    await Bun.sleep(50);
    slow.close();
    slow.close();
    expect(await pending).toEqual([]);
    const again = await AuthServer.start({ address: "127.53.99.1", port: world.port, zones });
    again.close();
  });
});

describe("the world", () => {
  test("starts within a second, writes the root hints, and close() frees the port for the next world", async () => {
    const t0 = performance.now();
    const w = await Hierarchy.start();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(w.port).toBeGreaterThanOrEqual(20000);
    expect(w.port).toBeLessThanOrEqual(60000);
    const hints = parseRecords(readFileSync(w.hints, "utf8"));
    expect(hints.map((r) => `${r.name || "."} ${r.type} ${r.data}`)).toEqual([
      ". NS a.root-servers.test",
      "a.root-servers.test A 127.53.0.1",
      ". NS b.root-servers.test",
      "b.root-servers.test A 127.53.0.2",
    ]);
    expect(w.roots.map((s) => s.address)).toEqual(["127.53.0.1", "127.53.0.2"]);
    const port = w.port;
    w.close();
    w.close();
    const again = await Hierarchy.start({ port });
    expect(again.port).toBe(port);
    again.close();
  });

  test("a world on a port already taken fails to start, naming the server", async () => {
    await expect(Hierarchy.start({ port: world.port })).rejects.toThrow(/127\.53\.\d+\.\d+:\d+/);
  });

  test("zone overrides and behaviour changes apply to the standard servers", async () => {
    const w = await Hierarchy.start({
      zones: { "example.com.": "@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\nns1 A 127.53.10.1\nwww A 192.0.2.99" },
      behaviour: { "ns1.example.com": { delayMs: 1 } },
    });
    try {
      expect(w.server("ns1.example.com").behaviour.delayMs).toBe(1);
      const got = await collect("127.53.10.1", query("www.example.com"), 1, 1000, w.port);
      expect(got.map((g) => aData(g.reply))).toEqual([["192.0.2.99"]]);
    } finally {
      w.close();
    }
    await expect(Hierarchy.start({ behaviour: { "ns9.nowhere": {} } })).rejects.toThrow(/ns9\.nowhere/);
  });

  test("queries and logs add up across servers, in order of arrival, and reset() clears them", async () => {
    world.reset();
    await collect("127.53.0.1", query("www.example.com"), 1);
    await collect("127.53.1.2", query("www.example.com"), 1);
    await collect("127.53.10.1", query("www.example.com"), 1);
    expect(world.queries).toBe(3);
    expect(world.log.map((e) => e.server)).toEqual(["a.root-servers.test", "b.nic.com", "ns1.example.com"]);
    world.reset();
    expect(world.queries).toBe(0);
    expect(world.log).toEqual([]);
  });

  test("writeRootHints writes the named.root shape", () => {
    const path = join(mkdtempSync(join(tmpdir(), "bunbound-hints-")), "root.hints");
    writeRootHints(path, [{ name: "x.root.test.", address: "127.53.0.9" }]);
    const lines = readFileSync(path, "utf8").split("\n").filter((l) => l && !l.startsWith(";")).map((l) => l.split(/\s+/).join(" "));
    expect(lines).toEqual([". 3600000 NS x.root.test.", "x.root.test. 3600000 A 127.53.0.9"]);
  });

  test("a bad zone line fails the parse, naming the line", () => {
    expect(() => Zone.parse("$ORIGIN x.test.\n@ SOA ns h 1 2 3 4 5\nwww A 300.1.1.1\n")).toThrow(/line 3: bad IPv4/);
    expect(() => Zone.parse("$ORIGIN x.test.\nwww A 192.0.2.1\n")).toThrow(/exactly one SOA/);
  });
});
