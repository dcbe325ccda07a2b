// Messages to and from the client store's worker.
export interface ClientRow {
  ip: string;
  first: number;
  last: number;
  count: number;
  qname: string;
  qtype: number;
  rcode: number;
  /** The latest query's transport ("udp", "tcp", "tls", "https"). */
  transport: string;
  /** Every transport these queries used, one bit each (metrics/querystats Transport). */
  transports: number;
  /** 1: a placeholder while discovery runs; 0: discovered; -1: leave as it is. */
  discovering: number;
}

export interface NameRow {
  ip: string;
  name: string | null; // null: discovery finished without a name
  source: "ptr" | "netbios" | "mdns" | "dhcp" | "static";
  at: number;
}

export type StoreOp =
  | { op: "open"; path: string }
  | { op: "batch"; clients: ClientRow[]; names: NameRow[] }
  | { op: "list"; offset: number; limit: number; sort: string }
  | { op: "get"; ip: string }
  | { op: "known" }
  | { op: "migrate"; to: number }
  | { op: "schema" }
  | { op: "close" };

export type StoreRequest = StoreOp & { seq: number };
export type StoreReply = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: string };
