// Following a CNAME chain out of the zone an upstream answered for (Unbound's iterator does the same): a
// [[forward]] zone's server says `www.corp CNAME app.saas.example.`, and what app.saas.example is comes from
// wherever that name is answered — local data, a served zone, the cache, or its own route's upstreams — never
// from the corp server (the scrubber took that part out). The answers are joined into one, with the rcode of
// the last name (RFC 6604), bounded by max_cname_chain and never visiting a name twice.
import { HEADER_LEN } from "../wire/constants";
import { appendChain, unansweredTail } from "../wire/records";
import { writeOpt, OPT_LEN } from "../wire/response";
import { scanResponse, type Scan } from "../wire/scan";
import { keyOf } from "../wire/records";
import type { QueryInfo } from "../wire/query";

/** An answer and, when its chain is not finished, where it stopped (lowercased wire name). */
export interface Partial {
  resp: Uint8Array;
  scan: Scan;
  tail: Uint8Array | null;
}

/** Gets the answer for the query in `query` (header and question, maybe our OPT): a full message, or null. */
export type Lookup = (query: Uint8Array) => Promise<{ resp: Uint8Array; tail: Uint8Array | null } | null>;

/** The query for `name` with the original question's type, class, CD and DO. */
export function targetQuery(name: Uint8Array, q: QueryInfo, original: Uint8Array): Uint8Array {
  const msg = new Uint8Array(HEADER_LEN + name.length + 4 + (q.dnssecOk ? OPT_LEN : 0));
  msg[2] = 0x01; // RD
  msg[3] = original[3]! & 0x10; // CD as the client asked
  msg[5] = 1;
  msg.set(name, HEADER_LEN);
  msg.set(original.subarray(q.qnameEnd, q.qnameEnd + 4), HEADER_LEN + name.length); // type and class
  if (q.dnssecOk) {
    msg[11] = 1;
    writeOpt(msg, HEADER_LEN + name.length + 4, 0, true);
  }
  return msg;
}

/**
 * Completes `first` by asking for each name its chain leaves off at. Returns the joined answer (its tail null
 * when complete), or null when a target could not be answered (the client gets SERVFAIL, as from Unbound).
 */
export async function chase(first: Partial, q: QueryInfo, query: Uint8Array, lookup: Lookup, maxHops: number): Promise<Partial | null> {
  let answer = first;
  const seen = new Set<string>([keyOf(query.subarray(HEADER_LEN, q.qnameEnd))]);
  for (let hop = 0; answer.tail && hop < maxHops; hop++) {
    const key = keyOf(answer.tail);
    if (seen.has(key)) return answer; // a loop across zones: the chain so far, as the loop's records show
    seen.add(key);
    const got = await lookup(targetQuery(answer.tail, q, query));
    if (!got) return null;
    const joined = appendChain(answer.resp, got.resp);
    if (!joined) return null;
    answer = { resp: joined, scan: scanResponse(joined, joined.length), tail: got.tail ?? unansweredTail(got.resp) };
  }
  return answer;
}
