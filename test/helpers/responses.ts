// Upstream-style responses built with dns-packet, for cache unit tests.
import * as packet from "dns-packet";
import { QueryInfo, parseQuery } from "../../src/wire/query";
import { scanResponse } from "../../src/wire/scan";
import { makeQuery, rcodeBits } from "./dns";

export function soa(zone: string, ttl: number, minimum: number): packet.Answer {
  return {
    name: zone,
    type: "SOA",
    class: "IN",
    ttl,
    data: { mname: `ns.${zone}`, rname: `admin.${zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
  } as packet.Answer;
}

export function response(
  name: string,
  type: string,
  o: { rcode?: string; answers?: packet.Answer[]; authorities?: packet.Answer[]; edns?: boolean; tc?: boolean } = {},
): Uint8Array {
  return new Uint8Array(
    packet.encode({
      type: "response",
      id: 1234,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (o.tc ? packet.TRUNCATED_RESPONSE : 0) | rcodeBits(o.rcode),
      questions: [{ name, type: type as packet.RecordType, class: "IN" }],
      answers: o.answers ?? [],
      authorities: o.authorities ?? [],
      additionals: o.edns ? [{ type: "OPT", name: ".", udpPayloadSize: 1232, options: [] } as never] : [],
    } as packet.Packet),
  );
}

/** A parsed query plus a scanned response: what the cache's insert() takes. */
export function exchange(name: string, type: string, resp: Uint8Array, queryOpts: Parameters<typeof makeQuery>[2] = {}) {
  const query = makeQuery(name, type, queryOpts);
  const q = new QueryInfo();
  parseQuery(query, query.length, q);
  return { query, q, resp, scan: scanResponse(resp, resp.length) };
}
