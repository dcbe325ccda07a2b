// RELIABILITY.md "Malformed input", case by case, over UDP and over TCP: each message gets the answer the
// catalogue says (or none), and the server answers a good query right after it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "../../src/app";
import { decode, frame, makeQuery, TcpClient, udpAsk } from "../helpers/dns";
import { startApp } from "../helpers/app";
import { cookieOption, option, queryWithOpt } from "../wire/edns";

let app: App & { port: number };
beforeAll(async () => {
  app = await startApp({ record: ["www.example.com 60 A 192.0.2.1", "example.com 60 A 192.0.2.2"] });
});
afterAll(() => app.shutdown());

/** header(id, flags, qd, an, ns, ar) + body */
function raw(header: number[], ...body: number[][]): Uint8Array {
  const [id, flags, qd, an, ns, ar] = header as [number, number, number, number, number, number];
  return new Uint8Array([id >> 8, id & 255, flags >> 8, flags & 255, qd >> 8, qd & 255, an >> 8, an & 255, ns >> 8, ns & 255, ar >> 8, ar & 255, ...body.flat()]);
}
const QNAME = [3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]; // www.example.com
const A_IN = [0, 1, 0, 1];
const OPT = (version = 0, size = 1232) => [0, 0, 41, size >> 8, size & 255, 0, version, 0, 0, 0, 0];
const label63 = [63, ...new Array(63).fill(97)];

interface Expect {
  /** No answer at all. */
  drop?: boolean;
  rcode?: string;
  /** The question is echoed (it parsed). */
  question?: boolean;
  /** Extra checks on the decoded answer and its bytes. */
  check?: (m: ReturnType<typeof decode>, bytes: Uint8Array) => void;
}

const CASES: Array<[string, Uint8Array, Expect]> = [
  ["shorter than 12 bytes: dropped", new Uint8Array([0, 1, 1, 0, 0, 1, 0]), { drop: true }],
  ["header only, QDCOUNT=0: FORMERR", raw([11, 0x0100, 0, 0, 0, 0]), { rcode: "FORMERR", question: false }],
  ["QDCOUNT=2: FORMERR", raw([12, 0x0100, 2, 0, 0, 0], QNAME, A_IN, QNAME, A_IN), { rcode: "FORMERR" }],
  ["QR=1 (a response sent to us): dropped", raw([13, 0x8100, 1, 0, 0, 0], QNAME, A_IN), { drop: true }],
  ["a compression pointer loop in the question: FORMERR", raw([14, 0, 1, 0, 0, 0], [0xc0, 12], A_IN), { rcode: "FORMERR", question: false }],
  ["a forward pointer: FORMERR", raw([15, 0, 1, 0, 0, 0], [0xc0, 40], A_IN), { rcode: "FORMERR", question: false }],
  ["an out-of-bounds pointer: FORMERR", raw([16, 0, 1, 0, 0, 0], [0xff, 0xff], A_IN), { rcode: "FORMERR", question: false }],
  ["a label longer than 63: FORMERR", raw([17, 0, 1, 0, 0, 0], [64, ...new Array(64).fill(97), 0], A_IN), { rcode: "FORMERR", question: false }],
  ["a name longer than 255: FORMERR", raw([18, 0, 1, 0, 0, 0], label63, label63, label63, label63, [0], A_IN), { rcode: "FORMERR", question: false }],
  ["a truncated name: FORMERR", raw([19, 0, 1, 0, 0, 0], [7, 101, 120]), { rcode: "FORMERR", question: false }],
  ["a question without qtype/qclass: FORMERR", raw([20, 0, 1, 0, 0, 0], QNAME, [0, 1]), { rcode: "FORMERR", question: false }],
  ["trailing garbage after the message: ignored, answered", new Uint8Array([...makeQuery("www.example.com", "A", { id: 21 }), 0xde, 0xad, 0xbe]), { rcode: "NOERROR", question: true, check: (m) => expect(m.answers.length).toBe(1) }],
  ["opcode STATUS: NOTIMP, question echoed", raw([22, 2 << 11, 1, 0, 0, 0], QNAME, A_IN), { rcode: "NOTIMP", question: true }],
  ["opcode NOTIFY (not supported here): NOTIMP", raw([23, 4 << 11, 1, 0, 0, 0], QNAME, A_IN), { rcode: "NOTIMP", question: true }],
  ["class HS (4): REFUSED", raw([24, 0x0100, 1, 0, 0, 0], QNAME, [0, 1, 0, 4]), { rcode: "REFUSED", question: true }],
  ["two OPT records: FORMERR", raw([25, 0x0100, 1, 0, 0, 2], QNAME, A_IN, OPT(), OPT()), { rcode: "FORMERR", question: true }],
  ["an OPT in the answer section: FORMERR", raw([26, 0x0100, 1, 1, 0, 0], QNAME, A_IN, OPT()), { rcode: "FORMERR", question: true }],
  [
    "EDNS version 1: BADVERS (extended rcode 16) with our OPT at version 0",
    raw([27, 0x0100, 1, 0, 0, 1], QNAME, A_IN, OPT(1)),
    { question: true, check: (_m, b) => {
      const opt = b.length - 11;
      expect(b[3]! & 0xf).toBe(0); // BADVERS = 16: all of it in the OPT's extended rcode
      expect(b[opt + 5]).toBe(1); // upper 8 bits of the rcode: 16 >> 4
      expect(b[opt + 6]).toBe(0); // version 0
    } },
  ],
  ["an unknown EDNS option: ignored, answered", queryWithOpt(option(65001, [1, 2, 3]), { id: 28 }), { rcode: "NOERROR", question: true, check: (m) => expect(m.answers.length).toBe(1) }],
  ["an EDNS option running past the OPT RDATA: FORMERR", queryWithOpt(option(65001, [1, 2, 3], 9), { id: 29 }), { rcode: "FORMERR", question: true }],
  ["a COOKIE option of 7 bytes: FORMERR", queryWithOpt(cookieOption("01020304050607"), { id: 30 }), { rcode: "FORMERR", question: true }],
  ["a COOKIE option of 12 bytes: FORMERR", queryWithOpt(cookieOption("010203040506070809101112"), { id: 31 }), { rcode: "FORMERR", question: true }],
  [
    "an EDNS size below 512 is taken as 512, and we advertise 1232",
    raw([32, 0x0100, 1, 0, 0, 1], QNAME, A_IN, OPT(0, 100)),
    { rcode: "NOERROR", question: true, check: (m) => expect((m.additionals.find((r) => r.type === "OPT") as unknown as { udpPayloadSize: number }).udpPayloadSize).toBe(1232) },
  ],
  ["ANCOUNT=255 with no records: FORMERR", raw([33, 0x0100, 1, 255, 0, 0], QNAME, A_IN), { rcode: "FORMERR", question: true }],
  ["NSCOUNT=255 with no records: FORMERR", raw([34, 0x0100, 1, 0, 255, 0], QNAME, A_IN), { rcode: "FORMERR", question: true }],
  ["ARCOUNT=255 with no records: FORMERR", raw([35, 0x0100, 1, 0, 0, 255], QNAME, A_IN), { rcode: "FORMERR", question: true }],
];

function checkAnswer(sent: Uint8Array, got: Uint8Array | null, e: Expect): void {
  if (e.drop) {
    expect(got).toBeNull();
    return;
  }
  expect(got).not.toBeNull();
  const bytes = got!;
  expect(bytes[0]).toBe(sent[0]!); // the ID echoed
  expect(bytes[1]).toBe(sent[1]!);
  expect(bytes[2]! & 0x80).toBe(0x80); // QR
  const m = decode(bytes);
  if (e.rcode) expect(m.rcode).toBe(e.rcode);
  if (e.question !== undefined) expect(m.questions.length).toBe(e.question ? 1 : 0);
  if (e.question) {
    let end = 12;
    while (sent[end] !== 0) end += sent[end]! + 1;
    expect([...bytes.subarray(12, end + 5)]).toEqual([...sent.subarray(12, end + 5)]); // the question, byte for byte
  }
  e.check?.(m, bytes);
}

async function alive(): Promise<void> {
  const r = await udpAsk(app.port, makeQuery("example.com"), 1000);
  expect(decode(r!).answers[0]!.data).toBe("192.0.2.2");
}

describe.each(CASES)("RELIABILITY: %s", (_name, bytes, e) => {
  test("over UDP; the server answers the next query", async () => {
    checkAnswer(bytes, await udpAsk(app.port, bytes, e.drop ? 300 : 2000), e);
    await alive();
  });
  test("over TCP; the same connection answers the next query", async () => {
    const c = await TcpClient.open(app.port);
    c.write(frame(bytes));
    if (!e.drop) await c.waitFor(1, 2000);
    c.write(frame(makeQuery("example.com", "A", { id: 999 })));
    await c.waitFor(e.drop ? 1 : 2, 2000);
    c.close();
    if (e.drop) {
      expect(c.messages.length).toBe(1);
      expect(decode(c.messages[0]!).id).toBe(999);
    } else {
      checkAnswer(bytes, c.messages[0] ?? null, e);
      expect(decode(c.messages[1]!).answers[0]!.data).toBe("192.0.2.2");
    }
    await alive();
  });
});

describe("RELIABILITY: TCP framing", () => {
  test("a zero-length message closes the connection; the server goes on", async () => {
    const c = await TcpClient.open(app.port);
    c.write(new Uint8Array([0, 0]));
    expect(await c.waitClosed(2000)).toBe(true);
    await alive();
  });
});

describe("garbage datagrams", () => {
  test("random datagrams mostly get no answer (error answers without a question are limited), and none crash the server", async () => {
    let answered = 0;
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => void answered++ } });
    const garbageBefore = app.counters.garbage;
    for (let i = 0; i < 4000; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(12 + Math.floor(Math.random() * 88)));
      sock.send(junk, app.port, "127.0.0.1");
      if (i % 200 === 199) await Bun.sleep(2);
    }
    await Bun.sleep(300);
    sock.close();
    // Half are responses (QR=1), dropped; of the rest, only what parses as far as a question is answered,
    // and those that do not at most 100 a second: Unbound's error rate limit.
    expect(answered).toBeLessThan(400);
    expect(app.counters.garbage - garbageBefore).toBeGreaterThan(1000);
    await alive();
  });
});
