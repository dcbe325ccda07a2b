// A small internet on loopback for testing full recursion from the root. AuthServer is an authoritative
// stand-in (UDP and TCP on one 127.x address) that answers from master-file text as NSD does (RFC 1034
// 4.3.2), and can be told to misbehave in the ways a resolver must survive. Hierarchy starts a standard world of
// them on 127.53.0.0/16, all on one port and in the test's own process, and writes the root hints file.
export { canon, parseRecords, type RData, type Records, type RR, type Soa } from "./hierarchy/records";
export { type AuthServerOptions, AuthServer, type Behaviour, BOGUS, type Extra, type Lameness, type LogEntry } from "./hierarchy/server";
export { Hierarchy, type HierarchyOptions, MANY_NS, OOB_EXTRA, type ServerSpec, WORLD, writeRootHints, ZONES } from "./hierarchy/world";
export { lookup, RCODE, type Reply, Zone } from "./hierarchy/zone";
