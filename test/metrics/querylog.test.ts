import { describe, expect, test } from "bun:test";
import { QueryLog, Transport } from "../../src/metrics/querystats";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { errorResponse } from "../../src/wire/response";
import { makeQuery } from "../helpers/dns";
import { Rcode } from "../../src/wire/constants";

/** The query in a slot, parsed. */
function slot(name: string, edns = true) {
  const q = makeQuery(name, "A", { edns: edns ? 1232 : undefined });
  const buf = new Uint8Array(4096);
  buf.set(q);
  const info = new QueryInfo();
  parseQuery(buf, q.length, info);
  return { buf, q: info };
}

describe("the query log", () => {
  test("each entry keeps the name, type, rcode, transport and time it was answered in", () => {
    const log = new QueryLog(4);
    const { buf, q } = slot("www.example.com");
    errorResponse(buf, q, Rcode.NOERROR);
    log.add("192.0.2.7", Date.UTC(2026, 11, 1, 12), buf, q.qnameEnd, 1, 0, Transport.TLS, 1.5);
    expect(log.recent(1)).toEqual([{ time: "2026-12-01T12:00:00.000Z", client: "192.0.2.7", qname: "www.example.com.", qtype: "A", rcode: "NOERROR", transport: "tls", ms: 1.5, ad: false, ede: null }]);
  });

  test("an answer with AD is marked validated; a SERVFAIL with an EDE keeps its INFO-CODE", () => {
    const log = new QueryLog(4);
    const a = slot("secure.example");
    errorResponse(a.buf, a.q, Rcode.NOERROR);
    a.buf[3]! |= 0x20;
    log.add("192.0.2.1", 0, a.buf, a.q.qnameEnd, 1, 0, Transport.UDP, 1);
    const b = slot("bogus.example");
    const n = errorResponse(b.buf, b.q, Rcode.SERVFAIL);
    // errorResponse writes our OPT right after the question; give it an EDE 6 option as the validator does
    const at = b.q.questionEnd;
    b.buf.set([0, 15, 0, 2, 0, 6], n);
    b.buf[at + 9] = 0;
    b.buf[at + 10] = 6;
    log.add("192.0.2.1", 0, b.buf, b.q.qnameEnd, 1, Rcode.SERVFAIL, Transport.UDP, 1);
    const c = slot("plain.example", false);
    errorResponse(c.buf, c.q, Rcode.SERVFAIL);
    log.add("192.0.2.1", 0, c.buf, c.q.qnameEnd, 1, Rcode.SERVFAIL, Transport.UDP, 1);
    expect(log.recent(3).map((e) => [e.qname, e.ad, e.ede])).toEqual([
      ["plain.example.", false, null],
      ["bogus.example.", false, 6],
      ["secure.example.", true, null],
    ]);
  });
});
