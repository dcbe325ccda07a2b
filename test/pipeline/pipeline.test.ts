import { describe, expect, test } from "bun:test";
import { Outcome, Pipeline, QueryInfo } from "../../src/pipeline";
import { makePipeline } from "../helpers/pipeline";
import { LocalData } from "../../src/zones/local";
import { decode, makeQuery } from "../helpers/dns";

function pipeline(records: string[] = [], upstreams = 0) {
  return makePipeline(records, Array.from({ length: upstreams }, (_, i) => `127.0.0.1:${9 + i}`)).pipeline;
}

/** Runs a query through answerNow in a 4 KiB slot and decodes the answer. */
function ask(p: Pipeline, bytes: Uint8Array, udp = true) {
  const slot = new Uint8Array(4096);
  slot.set(bytes);
  const n = p.answerNow(slot, bytes.length, new QueryInfo(), udp);
  return { n, bytes: slot.slice(0, Math.max(0, n)), msg: n > 0 ? decode(slot.subarray(0, n)) : null };
}

describe("RFC 6761 special names are answered locally", () => {
  const p = pipeline();
  test("localhost A is 127.0.0.1 and AAAA is ::1, authoritative", () => {
    const a = ask(p, makeQuery("localhost", "A")).msg!;
    expect(a.answers![0]!.data).toBe("127.0.0.1");
    expect(a.flag_aa).toBe(true);
    expect(ask(p, makeQuery("LocalHost.", "AAAA")).msg!.answers![0]!.data).toBe("::1");
  });
  test("names under localhost resolve to loopback too", () => {
    expect(ask(p, makeQuery("app.localhost", "A")).msg!.answers![0]!.data).toBe("127.0.0.1");
  });
  test("reverse loopback names give localhost", () => {
    expect(ask(p, makeQuery("1.0.0.127.in-addr.arpa", "PTR")).msg!.answers![0]!.data).toBe("localhost");
    const v6 = "1." + "0.".repeat(31) + "ip6.arpa";
    expect(ask(p, makeQuery(v6, "PTR")).msg!.answers![0]!.data).toBe("localhost");
  });
  test("invalid., test., local. and onion. are NXDOMAIN with an SOA, never forwarded", () => {
    const p2 = pipeline([], 1);
    for (const n of ["x.invalid", "invalid", "foo.test", "printer.local", "abc.onion", "2.0.0.127.in-addr.arpa"]) {
      const r = ask(p2, makeQuery(n, "A"));
      expect(r.n).toBeGreaterThan(0);
      expect(r.msg!.rcode).toBe("NXDOMAIN");
      expect(r.msg!.authorities![0]!.type).toBe("SOA");
    }
  });
  test("a name with no local data and no upstream is SERVFAIL at once", () => {
    expect(ask(p, makeQuery("example.com")).msg!.rcode).toBe("SERVFAIL");
  });
  test("a name with no local data and an upstream goes async", () => {
    expect(ask(pipeline([], 1), makeQuery("example.com")).n).toBe(Outcome.PENDING);
  });
});

describe("local records", () => {
  const p = pipeline([
    "a.lan 60 A 10.0.0.5",
    "a.lan 60 A 10.0.0.6",
    "a.lan 60 TXT \"hello world\" \"two\"",
    "www.lan 30 CNAME a.lan",
    "mail.lan 300 MX 10 a.lan",
    "big.lan 60 TXT " + Array.from({ length: 5 }, () => '"' + "x".repeat(200) + '"').join(" "),
  ]);
  test("an RRset comes back whole with its TTL, the client's spelling kept", () => {
    const r = ask(p, makeQuery("A.Lan", "A")).msg!;
    expect(r.answers!.map((a) => a.data).sort()).toEqual(["10.0.0.5", "10.0.0.6"]);
    expect(r.answers![0]!.ttl).toBe(60);
    expect(r.questions![0]!.name).toBe("A.Lan");
  });
  test("TXT strings survive quoting", () => {
    const r = ask(p, makeQuery("a.lan", "TXT")).msg!;
    expect((r.answers![0]!.data as Buffer[]).map(String)).toEqual(["hello world", "two"]);
  });
  test("a CNAME is followed inside local data", () => {
    const r = ask(p, makeQuery("www.lan", "A")).msg!;
    expect(r.answers!.map((a) => a.type)).toEqual(["CNAME", "A", "A"]);
  });
  test("an existing name without the asked type is NODATA", () => {
    const r = ask(p, makeQuery("mail.lan", "AAAA")).msg!;
    expect(r.rcode).toBe("NOERROR");
    expect(r.answers!.length).toBe(0);
  });
  test("an answer larger than 512 bytes over UDP without EDNS is truncated (TC); TCP gets it whole", () => {
    const udp = ask(p, makeQuery("big.lan", "TXT"));
    expect(udp.msg!.flag_tc).toBe(true);
    expect(udp.n).toBeLessThanOrEqual(512);
    const tcp = ask(p, makeQuery("big.lan", "TXT"), false);
    expect(tcp.msg!.flag_tc).toBe(false);
    expect(tcp.msg!.answers!.length).toBe(1);
  });
  test("with EDNS 1232 the same answer fits, and OPT is echoed with 1232", () => {
    const r = ask(p, makeQuery("big.lan", "TXT", { edns: 4096 }));
    expect(r.msg!.flag_tc).toBe(false);
    const opt = r.msg!.additionals!.find((a) => a.type === "OPT") as { udpPayloadSize: number } | undefined;
    expect(opt?.udpPayloadSize).toBe(1232);
  });
  test("a bad record is rejected with the reason", () => {
    expect(() => new LocalData(["x.lan 60 A 300.1.1.1"])).toThrow("IPv4");
    expect(() => new LocalData(["x.lan 60 BOGUS 1"])).toThrow("unsupported type");
    expect(() => new LocalData(["x.lan 60 CNAME a.lan", "x.lan 60 A 1.2.3.4"])).toThrow("CNAME");
  });
});

describe("error answers echo the ID and question and set QR", () => {
  const p = pipeline();
  test("NOTIMP for a non-QUERY opcode", () => {
    const q = makeQuery("example.com", "A", { id: 777 });
    q[2] = (q[2]! & 0x87) | (4 << 3); // NOTIFY
    const r = ask(p, q);
    expect(r.msg!.id).toBe(777);
    expect(r.msg!.rcode).toBe("NOTIMP");
    expect(r.msg!.type).toBe("response");
    expect(r.msg!.questions![0]!.name).toBe("example.com");
  });
  test("BADVERS carries extended rcode 16 and OPT version 0", () => {
    const q = makeQuery("example.com", "A", { id: 9, edns: 1232 });
    q[q.length - 5] = 1; // OPT version byte (name 1, type 2, class 2, ext-rcode 1, version)
    const r = ask(p, q);
    // dns-packet folds the extended rcode out; read the OPT TTL bytes ourselves.
    const opt = r.bytes.subarray(r.bytes.length - 11);
    expect(opt[1]).toBe(0);
    expect(opt[2]).toBe(41);
    expect(opt[5]).toBe(1); // extended rcode high bits: 16 >> 4
    expect(opt[6]).toBe(0); // version 0
    expect(r.bytes[3]! & 0xf).toBe(0);
    expect(r.msg!.id).toBe(9);
  });
  test("FORMERR with no question when the name is broken", () => {
    const q = new Uint8Array([0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const r = ask(p, q);
    expect(r.msg!.rcode).toBe("FORMERR");
    expect(r.msg!.id).toBe(5);
    expect(r.msg!.questions!.length).toBe(0);
  });
  test("CH class queries not in local data are REFUSED", () => {
    const q = makeQuery("version.bind", "TXT");
    q[q.length - 1] = 3;
    expect(ask(pipeline([], 1), q).msg!.rcode).toBe("REFUSED");
  });
  test("a dropped message produces no bytes", () => {
    expect(ask(p, new Uint8Array(5)).n).toBe(0);
  });
});

describe("configured names take over the RFC 6761 ones (RFC 6761 6.2: unless explicitly configured)", () => {
  const local = new LocalData(["printer.local 60 A 10.0.0.7"], true, ["lab.test", "corp.local", "0.0.127.in-addr.arpa", "home.arpa.lan"]);
  const { pipeline: p } = makePipeline([], ["127.0.0.1:9"], { local });
  test("a served or forwarded zone under test., local. or 127.in-addr.arpa goes on to its zone or upstreams", () => {
    for (const n of ["lab.test", "www.lab.test", "corp.local", "a.b.corp.local", "1.0.0.127.in-addr.arpa", "5.0.0.127.in-addr.arpa"]) {
      expect(ask(p, makeQuery(n, n.endsWith("arpa") ? "PTR" : "A")).n).toBe(Outcome.PENDING);
    }
  });
  test("the rest of the special name keeps its built-in answer", () => {
    for (const n of ["other.test", "test", "nas.local", "2.1.127.in-addr.arpa"]) expect(ask(p, makeQuery(n, "A")).msg!.rcode).toBe("NXDOMAIN");
    expect(ask(p, makeQuery("localhost", "A")).msg!.answers![0]!.data).toBe("127.0.0.1");
  });
  test("a record under a special name is answered; its other types are NODATA", () => {
    expect(ask(p, makeQuery("printer.local", "A")).msg!.answers![0]!.data).toBe("10.0.0.7");
    const nodata = ask(p, makeQuery("printer.local", "AAAA")).msg!;
    expect(nodata.rcode).toBe("NOERROR");
    expect(nodata.answers!.length).toBe(0);
  });
  test("a zone named exactly like the special name replaces it", () => {
    const own = new LocalData([], true, ["test", "localhost"]);
    const { pipeline: q } = makePipeline([], ["127.0.0.1:9"], { local: own });
    expect(ask(q, makeQuery("x.test", "A")).n).toBe(Outcome.PENDING);
    expect(ask(q, makeQuery("app.localhost", "A")).n).toBe(Outcome.PENDING);
    expect(ask(q, makeQuery("x.invalid", "A")).msg!.rcode).toBe("NXDOMAIN");
  });
  test("home.arpa. (RFC 8375) is answered locally like the others", () => {
    const { pipeline: q } = makePipeline([], ["127.0.0.1:9"]);
    const r = ask(q, makeQuery("printer.home.arpa", "A")).msg!;
    expect(r.rcode).toBe("NXDOMAIN");
    expect(r.authorities![0]!.name).toBe("home.arpa");
  });
});
