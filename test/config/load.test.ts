import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/load";
import { parseHostPort } from "../../src/net/address";
import { resolvConfNameservers } from "../../src/config/resolvconf";

const dir = mkdtempSync(join(tmpdir(), "bunbound-config-"));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const resolv = file("resolv.conf", "# comment\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nsearch lan\n");

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  test("with nothing given, defaults apply and upstreams come from resolv.conf", () => {
    const c = loadConfig({}, {}, resolv);
    expect(c.listen).toEqual(["127.0.0.1:5300", "[::1]:5300"]);
    expect(c.http).toBe("127.0.0.1:8053");
    expect(c.upstreams).toEqual(["192.0.2.53:53", "[fe80::1]:53"]);
    expect(c.upstreamsFrom).toBe("resolv.conf");
    expect(c.timeouts.query_ms).toBe(2500);
  });

  test("a TOML file sets values; env overrides the file; flags override both", () => {
    const f = file("ok.toml", 'listen = ["127.0.0.1:7000"]\nhttp = "off"\nlog_level = "warn"\n[timeouts]\nquery_ms = 900\n');
    const c1 = loadConfig({ config: f }, {}, resolv);
    expect(c1.listen).toEqual(["127.0.0.1:7000"]);
    expect(c1.timeouts.query_ms).toBe(900);
    expect(c1.timeouts.upstream_ms).toBe(1000);
    const c2 = loadConfig({ config: f }, { BUNBOUND_LOG_LEVEL: "debug", BUNBOUND_LISTEN: "127.0.0.2:1,127.0.0.3:2" }, resolv);
    expect(c2.log_level).toBe("debug");
    expect(c2.listen).toEqual(["127.0.0.2:1", "127.0.0.3:2"]);
    const c3 = loadConfig({ config: f, log_level: "error", listen: ["[::1]:9"] }, { BUNBOUND_LOG_LEVEL: "debug" }, resolv);
    expect(c3.log_level).toBe("error");
    expect(c3.listen).toEqual(["[::1]:9"]);
  });

  test("records from env are split on ';'", () => {
    const c = loadConfig({}, { BUNBOUND_RECORDS: "a.lan 60 A 10.0.0.1; b.lan 60 A 10.0.0.2" }, resolv);
    expect(c.records).toEqual(["a.lan 60 A 10.0.0.1", "b.lan 60 A 10.0.0.2"]);
  });

  test("a bad value names the field and the problem", () => {
    const f = file("bad.toml", 'listen = ["nonsense"]\nrecords = ["x.lan 60 A 1.2.3"]\n[timeouts]\nquery_ms = "soon"\n');
    const ps = problems(() => loadConfig({ config: f }, {}, resolv));
    expect(ps).toContainEqual(expect.stringMatching(/^listen\[0\]: "nonsense" is not an IP address/));
    expect(ps).toContainEqual(expect.stringMatching(/^records\[0\]: A needs one IPv4 address/));
    expect(ps).toContainEqual(expect.stringMatching(/^timeouts\.query_ms: .*expected number/));
  });

  test("cache, upstream and forward sections are read and checked", () => {
    const f = file(
      "cache.toml",
      '[cache]\nmax_entries = 500\nserve_stale = false\n[upstream]\nstrategy = "round_robin"\nrandomize_case = true\n' +
        '[[forward]]\nzone = "corp.example"\nupstreams = ["127.0.0.1:5353"]\n',
    );
    const c = loadConfig({ config: f }, {}, resolv);
    expect(c.cache.max_entries).toBe(500);
    expect(c.cache.serve_stale).toBe(false);
    expect(c.cache.servfail_ttl).toBe(5);
    expect(c.upstream.strategy).toBe("round_robin");
    expect(c.forward).toEqual([{ zone: "corp.example", upstreams: ["127.0.0.1:5353"] }]);
    const bad = file("badfwd.toml", '[upstream]\nstrategy = "random"\n[[forward]]\nzone = "a..b"\nupstreams = []\n');
    const ps = problems(() => loadConfig({ config: bad }, {}, resolv));
    expect(ps).toContainEqual(expect.stringMatching(/^upstream\.strategy: /));
    expect(ps).toContainEqual(expect.stringMatching(/^forward\[0\]\.zone: empty label/));
    expect(ps).toContainEqual(expect.stringMatching(/^forward\[0\]\.upstreams: /));
  });

  test("the udp section: backend, receive buffer and coalescing window are checked", () => {
    const c = loadConfig({}, {}, resolv);
    expect(c.udp).toEqual({ backend: "auto", receive_buffer_bytes: 4 << 20, coalesce_us: 0 });
    expect(loadConfig({ config: file("udp.toml", "[udp]\ncoalesce_us = 150\n") }, {}, resolv).udp.coalesce_us).toBe(150);
    const ps = problems(() => loadConfig({ config: file("badudp.toml", '[udp]\nbackend = "epoll"\ncoalesce_us = 5000\n') }, {}, resolv));
    expect(ps).toContainEqual(expect.stringMatching(/^udp\.backend: /));
    expect(ps).toContainEqual(expect.stringMatching(/^udp\.coalesce_us: .*500/));
  });

  test("an unknown key is an error, not silently ignored", () => {
    const f = file("typo.toml", "[timeouts]\nqeury_ms = 5\n");
    expect(problems(() => loadConfig({ config: f }, {}, resolv))).toContainEqual(expect.stringMatching(/^timeouts: .*qeury_ms/));
  });

  test("a TOML syntax error names the line", () => {
    const f = file("syntax.toml", 'listen = ["127.0.0.1:53"\nhttp = \n');
    const ps = problems(() => loadConfig({ config: f }, {}, resolv));
    expect(ps[0]).toMatch(/^line \d+, column \d+: TOML syntax error/);
  });

  test("a missing file is reported with its name", () => {
    expect(problems(() => loadConfig({ config: join(dir, "nope.toml") }, {}, resolv))[0]).toContain("ENOENT");
  });

  test("flags with bad values are reported like file values", () => {
    expect(problems(() => loadConfig({ upstream: ["1.2.3.4:99999"] }, {}, resolv))[0]).toMatch(/^upstreams\[0\]: .*port must be/);
    expect(problems(() => loadConfig({ log_level: "loud" }, {}, resolv))[0]).toMatch(/^log_level: /);
  });
});

describe("addresses", () => {
  test("IPv4, bracketed IPv6, bare IPs with a default port", () => {
    expect(parseHostPort("127.0.0.1:53")).toEqual({ host: "127.0.0.1", port: 53, family: 4 });
    expect(parseHostPort("[::1]:5300")).toEqual({ host: "::1", port: 5300, family: 6 });
    expect(parseHostPort("::1", 53)).toEqual({ host: "::1", port: 53, family: 6 });
    expect(parseHostPort("9.9.9.9", 53).port).toBe(53);
    expect(() => parseHostPort("9.9.9.9")).toThrow("needs a port");
    expect(() => parseHostPort("dns.example:53")).toThrow("not an IP");
  });
  test("a missing resolv.conf gives no upstreams", () => {
    expect(resolvConfNameservers(join(dir, "missing"))).toEqual([]);
  });
});
