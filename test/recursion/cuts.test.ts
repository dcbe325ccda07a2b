import { describe, expect, test } from "bun:test";
import { ancestors, Cuts, labelCount, Rank, ROOT_KEY, serverLabel, suffixOf } from "../../src/recursion/cuts";
import { keyOf } from "../../src/wire/records";
import { toWire } from "../../src/wire/name";

const k = (name: string) => keyOf(toWire(name));

describe("names as keys", () => {
  test("ancestors run from the name to the root; labelCount and suffixOf count whole labels", () => {
    expect([...ancestors(k("www.example.com"))]).toEqual([k("www.example.com"), k("example.com"), k("com"), ROOT_KEY]);
    expect([...ancestors(ROOT_KEY)]).toEqual([ROOT_KEY]);
    expect(labelCount(k("www.example.com"))).toBe(3);
    expect(labelCount(ROOT_KEY)).toBe(0);
    expect(suffixOf(k("a.b.example.com"), 2)).toBe(k("example.com"));
    expect(suffixOf(k("a.b.example.com"), 0)).toBe(ROOT_KEY);
  });

  test("server labels: IPv6 in brackets", () => {
    expect(serverLabel("192.0.2.1#53")).toBe("192.0.2.1:53");
    expect(serverLabel("2001:db8::1#5353")).toBe("[2001:db8::1]:5353");
  });
});

describe("zone cuts and server addresses", () => {
  function cuts(now = { t: 1_000_000 }, max = 100) {
    const c = new Cuts(() => max, () => now.t);
    c.pin([{ zone: ROOT_KEY, ns: [k("a.root-servers.net")], fixed: ["198.41.0.4#53"], expires: Infinity }]);
    return { c, now };
  }

  test("the closest cut: the deepest learnt one at or above the name, the pinned root otherwise; learnt cuts expire", () => {
    const { c, now } = cuts();
    expect(c.closest(k("www.example.com")).zone).toBe(ROOT_KEY);
    c.learn(k("com"), [k("a.gtld-servers.net")], 60);
    c.learn(k("example.com"), [k("ns1.example.com")], 10);
    expect(c.closest(k("www.example.com")).zone).toBe(k("example.com"));
    expect(c.closest(k("www.example.net")).zone).toBe(ROOT_KEY);
    now.t += 10_001;
    expect(c.closest(k("www.example.com")).zone).toBe(k("com"));
  });

  test("glue does not replace a fresh address from the name's own zone; it does once that one expires", () => {
    const { c, now } = cuts();
    c.learnAddresses(k("ns1.example.com"), ["192.0.2.1"], 100, Rank.Answer);
    c.learnAddresses(k("ns1.example.com"), ["203.0.113.66"], 100, Rank.Glue);
    expect(c.addressesOf(k("ns1.example.com"))).toEqual(["192.0.2.1"]);
    now.t += 100_001;
    expect(c.addressesOf(k("ns1.example.com"))).toBeNull();
    c.learnAddresses(k("ns1.example.com"), ["203.0.113.66"], 100, Rank.Glue);
    expect(c.addressesOf(k("ns1.example.com"))).toEqual(["203.0.113.66"]);
  });

  test("bounded: past the maximum the least recently used cut goes; pinned cuts never do", () => {
    const { c } = cuts(undefined, 2);
    c.learn(k("a.com"), [], 60);
    c.learn(k("b.com"), [], 60);
    c.closest(k("x.a.com")); // a.com used again
    c.learn(k("c.com"), [], 60);
    expect(c.size.cuts).toBe(2);
    expect(c.closest(k("x.b.com")).zone).toBe(ROOT_KEY);
    expect(c.closest(k("x.a.com")).zone).toBe(k("a.com"));
  });

  test("a stub zone is found for names at or below it", () => {
    const { c } = cuts();
    c.pin([
      { zone: ROOT_KEY, ns: [], fixed: ["198.41.0.4#53"], expires: Infinity },
      { zone: k("corp.example"), ns: [], fixed: ["127.0.0.1#5353"], expires: Infinity },
    ]);
    expect(c.closest(k("www.corp.example")).fixed).toEqual(["127.0.0.1#5353"]);
    expect(c.stubFor(k("www.corp.example"))?.zone).toBe(k("corp.example"));
    expect(c.stubFor(k("www.example"))).toBeNull();
  });
});
