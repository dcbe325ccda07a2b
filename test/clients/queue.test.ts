import { describe, expect, test } from "bun:test";
import { ClientQueue, foldVia, metaQtype, metaRcode, metaVia, packMeta, viaOf } from "../../src/clients/queue";
import { Transport } from "../../src/metrics/querystats";
import { toWire } from "../../src/wire/name";

const name = toWire("www.example.com");
const UDP = viaOf(Transport.UDP);
const post = (q: ClientQueue, ip: string, qtype = 1) => q.post(ip, 1000, name, 0, name.length, qtype, 0, UDP);

describe("client update queue", () => {
  test("onNextPost wakes its waiter once, on the next queued post or at once when something is queued; null clears it", () => {
    const q = new ClientQueue(1, 1, 0.25, () => false);
    let woken = 0;
    q.onNextPost(() => woken++);
    expect(woken).toBe(0);
    post(q, "10.0.0.1");
    expect(woken).toBe(1);
    post(q, "10.0.0.2"); // once only: the first post cleared the waiter
    expect(woken).toBe(1);
    q.onNextPost(() => woken++); // something is queued already
    expect(woken).toBe(2);
    q.take();
    q.onNextPost(() => woken++);
    q.onNextPost(null);
    post(q, "10.0.0.3");
    expect(woken).toBe(2);
    q.take();
    q.onNextPost(() => woken++);
    post(q, "10.0.0.4");
    expect(woken).toBe(3);
  });

  test("an update carries ip, time, qname, qtype and rcode", () => {
    const q = new ClientQueue(4, 4, 0.25, () => false);
    q.post("10.0.0.1", 1234, name, 0, name.length, 28, 3, viaOf(Transport.HTTPS));
    expect(q.take()).toEqual({ ip: "10.0.0.1", time: 1234, first: 1234, count: 1, qname: "www.example.com.", qtype: 28, rcode: 3, transport: "https", transports: ["https"] });
    expect(q.take()).toBeUndefined();
  });

  test("consecutive updates from one client fold into one entry: count, first and latest time, latest query", () => {
    const q = new ClientQueue(4, 4, 0.25, () => false);
    const other = toWire("mail.example.com");
    q.post("10.0.0.1", 1000, name, 0, name.length, 1, 0, viaOf(Transport.TLS));
    q.post("10.0.0.1", 1001, name, 0, name.length, 28, 0, UDP);
    q.post("10.0.0.1", 1002, other, 0, other.length, 15, 3, viaOf(Transport.TCP));
    expect(q.depthLow).toBe(1);
    expect(q.counters.enqueuedLow).toBe(3);
    expect(q.take()).toEqual({ ip: "10.0.0.1", time: 1002, first: 1000, count: 3, qname: "mail.example.com.", qtype: 15, rcode: 3, transport: "tcp", transports: ["udp", "tcp", "tls"] });
    expect(q.counters.processed).toBe(3);
    // Once taken, the next post from the same client starts a new entry.
    post(q, "10.0.0.1");
    expect(q.take()).toMatchObject({ ip: "10.0.0.1", count: 1 });
  });

  test("only consecutive updates fold; a full queue still folds into its newest entry and drops the rest", () => {
    const q = new ClientQueue(4, 2, 0.25, () => false);
    for (const ip of ["a", "b", "a", "a"]) post(q, ip);
    expect(q.depthLow).toBe(2); // a, b; the a after b would be a new entry, and the queue is full: both dropped
    expect(q.counters.droppedLow).toBe(2);
    post(q, "b"); // b is still the newest entry: folded even though the queue is full
    expect(q.counters.droppedLow).toBe(2);
    expect([q.take(), q.take()].map((u) => [u!.ip, u!.count])).toEqual([["a", 1], ["b", 2]]);
    expect(q.counters.enqueuedLow + q.counters.droppedLow).toBe(5);
  });

  test("an update posted with a count (a serving process's batch) counts as that many queries", () => {
    const q = new ClientQueue(4, 4, 0.25, () => true);
    q.post("10.0.0.9", 2000, name, 0, name.length, 1, 0, UDP, 7, 1500);
    q.post("10.0.0.9", 2100, name, 0, name.length, 1, 0, UDP, 3, 2050);
    expect(q.counters.enqueuedHigh).toBe(10);
    expect(q.take()).toMatchObject({ ip: "10.0.0.9", first: 1500, time: 2100, count: 10 });
  });

  test("qtype, rcode and via pack into one word and back, for every qtype", () => {
    for (const qtype of [0, 1, 28, 255, 32768, 65535]) {
      const via = foldVia(viaOf(Transport.UDP), viaOf(Transport.HTTPS));
      const m = packMeta(qtype, 5, via);
      expect(m).toBeGreaterThanOrEqual(0);
      expect([metaQtype(m), metaRcode(m), metaVia(m)]).toEqual([qtype, 5, via]);
    }
  });

  test("a full queue drops and counts instead of blocking or growing", () => {
    const q = new ClientQueue(2, 3, 0.25, (ip) => ip.startsWith("k"));
    for (let i = 0; i < 10; i++) post(q, `k${i}`);
    for (let i = 0; i < 10; i++) post(q, `n${i}`);
    expect(q.depthHigh).toBe(2);
    expect(q.depthLow).toBe(3);
    expect(q.counters.droppedHigh).toBe(8);
    expect(q.counters.droppedLow).toBe(7);
    expect(q.dropped).toBe(15);
  });

  test("known clients go first, but the low queue keeps its guaranteed share", () => {
    const q = new ClientQueue(1000, 1000, 0.25, (ip) => ip.startsWith("k"));
    for (let i = 0; i < 400; i++) post(q, `k${i}`);
    for (let i = 0; i < 400; i++) post(q, `n${i}`);
    const first = Array.from({ length: 200 }, () => q.take()!.ip);
    const fromLow = first.filter((ip) => ip.startsWith("n")).length;
    expect(fromLow).toBe(50); // exactly a quarter while both wait
    let rest = 0;
    while (q.take()) rest++;
    expect(rest).toBe(600);
    expect(q.counters.processed).toBe(800);
  });

  test("a ring starts small and grows with the backlog, up to its capacity, keeping the order of what waits", () => {
    const q = new ClientQueue(1000, 200, 0.25, () => false);
    expect(q.allocated).toEqual({ high: 64, low: 64 });
    for (let i = 0; i < 50; i++) post(q, `a${i}`);
    for (let i = 0; i < 40; i++) q.take(); // the ring's head is now mid-way: growing must unwrap it
    for (let i = 50; i < 250; i++) post(q, `a${i}`, i);
    expect(q.allocated).toEqual({ high: 64, low: 200 });
    expect(q.depthLow).toBe(200);
    expect(q.counters.droppedLow).toBe(10); // the capacity still bounds it
    const ips: string[] = [];
    for (let u = q.take(); u; u = q.take()) ips.push(u.ip);
    expect(ips).toEqual(Array.from({ length: 200 }, (_, i) => `a${i + 40}`));
  });

  test("a queue that never holds more than a few updates stays at its initial size", () => {
    const q = new ClientQueue(10_000, 10_000, 0.25, () => false);
    for (let i = 0; i < 100_000; i++) {
      post(q, `c${i & 7}`);
      if (i % 4 === 3) while (q.take());
    }
    expect(q.allocated).toEqual({ high: 64, low: 64 });
  });
});
