import { describe, expect, test } from "bun:test";
import { InfraCache } from "../../src/recursion/infra";

const settings = { infra_ttl_ms: 60_000, infra_max: 3, server_timeout_ms: 1000 };

function cache(now = { t: 1_000_000 }) {
  return { infra: new InfraCache(() => settings, () => now.t), now };
}

describe("the infrastructure cache", () => {
  test("an unknown server waits 376 ms (Unbound's first timeout); answers set the timeout from the smoothed RTT", () => {
    const { infra } = cache();
    expect(infra.timeoutFor("192.0.2.1#53")).toBe(376);
    for (let i = 0; i < 5; i++) infra.answered("192.0.2.1#53", 20);
    expect(infra.timeoutFor("192.0.2.1#53")).toBeLessThan(100);
    expect(infra.timeoutFor("192.0.2.1#53")).toBeGreaterThanOrEqual(50);
  });

  test("each timeout doubles the wait, up to server_timeout_ms; four in a row hold the server down for infra_ttl_ms", () => {
    const { infra, now } = cache();
    const a = "192.0.2.1#53";
    infra.timedOut(a);
    expect(infra.timeoutFor(a)).toBe(752);
    infra.timedOut(a);
    expect(infra.timeoutFor(a)).toBe(1000);
    expect(infra.avoided(a, "\0")).toBe(false);
    infra.timedOut(a);
    infra.timedOut(a);
    expect(infra.avoided(a, "\0")).toBe(true);
    now.t += 60_001;
    expect(infra.avoided(a, "\0")).toBe(false);
  });

  test("a server lame for one zone is avoided for that zone only, for infra_ttl_ms", () => {
    const { infra, now } = cache();
    infra.lameFor("192.0.2.1#53", "\x03com\0");
    expect(infra.avoided("192.0.2.1#53", "\x03com\0")).toBe(true);
    expect(infra.avoided("192.0.2.1#53", "\x03net\0")).toBe(false);
    now.t += 60_001;
    expect(infra.avoided("192.0.2.1#53", "\x03com\0")).toBe(false);
  });

  test("choose: the fast server is picked, a slow one (beyond the 400 ms band) never; avoided ones only when nothing else is left", () => {
    const { infra } = cache();
    infra.answered("192.0.2.1#53", 10);
    infra.answered("192.0.2.2#53", 900);
    for (let i = 0; i < 50; i++) expect(infra.choose(["192.0.2.1#53", "192.0.2.2#53"], "\0")).toBe("192.0.2.1#53");
    infra.lameFor("192.0.2.1#53", "\0");
    expect(infra.choose(["192.0.2.1#53", "192.0.2.2#53"], "\0")).toBe("192.0.2.2#53");
    infra.lameFor("192.0.2.2#53", "\0");
    expect(["192.0.2.1#53", "192.0.2.2#53"]).toContain(infra.choose(["192.0.2.1#53", "192.0.2.2#53"], "\0")!);
  });

  test("servers within the band are all picked now and then (exploration)", () => {
    const { infra } = cache();
    infra.answered("192.0.2.1#53", 10);
    infra.answered("192.0.2.2#53", 30);
    const picked = new Set<string>();
    for (let i = 0; i < 200; i++) picked.add(infra.choose(["192.0.2.1#53", "192.0.2.2#53"], "\0")!);
    expect(picked.size).toBe(2);
  });

  test("EDNS: a server marked as not taking it is asked without", () => {
    const { infra } = cache();
    expect(infra.usesEdns("192.0.2.1#53")).toBe(true);
    infra.noEdns("192.0.2.1#53");
    expect(infra.usesEdns("192.0.2.1#53")).toBe(false);
  });

  test("bounded: past infra_max the least recently used server is forgotten", () => {
    const { infra } = cache();
    for (const a of ["192.0.2.1#53", "192.0.2.2#53", "192.0.2.3#53"]) infra.sent(a);
    infra.sent("192.0.2.1#53"); // used again: now the most recent
    infra.sent("192.0.2.4#53");
    expect(infra.size).toBe(3);
    expect(infra.snapshot().map((s) => s.server)).toEqual(["192.0.2.3:53", "192.0.2.1:53", "192.0.2.4:53"]);
  });
});
