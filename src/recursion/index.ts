// Recursive mode's resolver: names in a [[forward]] zone still go to that zone's upstreams (conditional
// forwarding); every other miss is resolved by the iterator from the root (or from a [[stub]] zone's servers).
import { HEADER_LEN } from "../wire/constants";
import type { QueryInfo } from "../wire/query";
import type { Forwarded, Forwarder, Resolver } from "../upstream/forwarder";
import type { Recursor } from "./iterator";

export class RecursiveResolver implements Resolver {
  constructor(
    readonly recursor: Recursor,
    private readonly forwarder: Forwarder,
  ) {}

  /** The root hints are always there to ask. */
  get usable(): boolean {
    return true;
  }

  get maxChain(): number {
    return this.forwarder.maxChain;
  }

  forward(query: Uint8Array, q: QueryInfo, deadline: number, signal: AbortSignal): Promise<Forwarded | null> {
    if (this.forwarder.opts.pool.forwardZone(query, HEADER_LEN, q.qnameEnd)) return this.forwarder.forward(query, q, deadline, signal);
    return this.recursor.resolve(query, q, deadline, signal);
  }
}

export { Recursor, RecursionCounters, type TraceEntry, type RecursionSettings } from "./iterator";
export { loadRootHints, type RootHints } from "./hints";
