// The client store's own worker: bun:sqlite in WAL mode, written in batches, so the query thread never
// touches the disk. Requests come with a sequence number; every reply carries it back.
import { Database } from "bun:sqlite";
import { migrate, schemaText, schemaVersion } from "./migrations";
import type { StoreReply, StoreRequest } from "./store-protocol";
import { transportLabels } from "./queue";

declare const self: Worker;
let db: Database | null = null;

const SORTS: Record<string, string> = { last_seen: "last_seen DESC", queries: "queries DESC", first_seen: "first_seen DESC", ip: "ip ASC" };

function withNames(rows: Array<Record<string, unknown>>) {
  if (rows.length === 0) return rows;
  const names = db!.query(`SELECT ip, name, source, seen_at FROM client_names WHERE ip IN (${rows.map(() => "?").join(",")})`).all(...rows.map((r) => r.ip as string)) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    ...r,
    discovering: r.discovering === 1,
    transports: transportLabels(r.transports as number),
    names: names.filter((n) => n.ip === r.ip).map(({ name, source, seen_at }) => ({ name, source, seenAt: seen_at })),
  }));
}

function handle(req: StoreRequest): unknown {
  if (req.op === "open") {
    db = new Database(req.path, { create: true });
    // First: the worker let go for being idle may still be closing the same file (its checkpoint holds a lock),
    // and the journal_mode pragma below would otherwise fail at once with "database is locked".
    db.run("PRAGMA busy_timeout = 2000");
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA foreign_keys = ON");
    return { steps: migrate(db), version: schemaVersion(db) };
  }
  if (!db) throw new Error("store is not open");
  switch (req.op) {
    case "batch": {
      const upsert = db.query(
        `INSERT INTO clients (ip, first_seen, last_seen, queries, last_qname, last_qtype, last_rcode, last_transport, transports, discovering)
         VALUES ($ip, $first, $last, $count, $qname, $qtype, $rcode, $transport, $transports, $discovering)
         ON CONFLICT(ip) DO UPDATE SET last_seen = max(last_seen, $last), queries = queries + $count,
           last_qname = $qname, last_qtype = $qtype, last_rcode = $rcode,
           last_transport = $transport, transports = transports | $transports,
           discovering = CASE WHEN $discovering < 0 THEN discovering ELSE $discovering END`,
      );
      const name = db.query(
        `INSERT INTO client_names (ip, source, name, seen_at) VALUES ($ip, $source, $name, $at)
         ON CONFLICT(ip, source) DO UPDATE SET name = $name, seen_at = $at`,
      );
      const done = db.query("UPDATE clients SET discovering = 0 WHERE ip = $ip");
      db.transaction(() => {
        for (const c of req.clients)
          upsert.run({ $ip: c.ip, $first: c.first, $last: c.last, $count: c.count, $qname: c.qname, $qtype: c.qtype, $rcode: c.rcode, $transport: c.transport, $transports: c.transports, $discovering: c.discovering });
        for (const n of req.names) {
          if (n.name) name.run({ $ip: n.ip, $source: n.source, $name: n.name, $at: n.at });
          done.run({ $ip: n.ip });
        }
      })();
      return { clients: req.clients.length, names: req.names.length };
    }
    case "list": {
      const order = SORTS[req.sort] ?? SORTS.last_seen;
      const rows = db.query(`SELECT * FROM clients ORDER BY ${order} LIMIT ? OFFSET ?`).all(req.limit, req.offset) as Array<Record<string, unknown>>;
      const total = (db.query("SELECT count(*) AS n FROM clients").get() as { n: number }).n;
      return { total, clients: withNames(rows) };
    }
    case "get":
      return withNames(db.query("SELECT * FROM clients WHERE ip = ?").all(req.ip) as Array<Record<string, unknown>>)[0] ?? null;
    case "known":
      return (db.query("SELECT ip FROM clients WHERE discovering = 0").all() as Array<{ ip: string }>).map((r) => r.ip);
    case "migrate":
      return { steps: migrate(db, req.to), version: schemaVersion(db) };
    case "schema":
      return schemaText(db);
    case "close":
      db.close();
      db = null;
      return true;
  }
}

self.onmessage = (ev: MessageEvent<StoreRequest>) => {
  let reply: StoreReply;
  try {
    reply = { seq: ev.data.seq, ok: true, result: handle(ev.data) };
  } catch (err) {
    reply = { seq: ev.data.seq, ok: false, error: (err as Error).message };
  }
  self.postMessage(reply);
};
