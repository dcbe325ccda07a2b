import { describe, expect, test } from "bun:test";
import { ClientQueue } from "../../src/clients/queue";
import { toWire } from "../../src/wire/name";

const name = toWire("www.example.com");
const post = (q: ClientQueue, ip: string, qtype = 1) => q.post(ip, 1000, name, 0, name.length, qtype, 0);

describe("client update queue", () => {
  test("an update carries ip, time, qname, qtype and rcode", () => {
    const q = new ClientQueue(4, 4, 0.25, () => false);
    q.post("10.0.0.1", 1234, name, 0, name.length, 28, 3);
    expect(q.take()).toEqual({ ip: "10.0.0.1", time: 1234, qname: "www.example.com.", qtype: 28, rcode: 3 });
    expect(q.take()).toBeUndefined();
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
});
