// Versioned schema migrations for the client store (PRAGMA user_version holds the version). Each step has an
// up and a down, so a bad release can be rolled back; up → down → up leaves the same schema.
import type { Database } from "bun:sqlite";

export interface Migration {
  version: number;
  name: string;
  up: string[];
  down: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "clients and their names",
    up: [
      `CREATE TABLE clients (
        ip TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        queries INTEGER NOT NULL DEFAULT 0,
        last_qname TEXT,
        last_qtype INTEGER,
        last_rcode INTEGER
      )`,
      `CREATE TABLE client_names (
        ip TEXT NOT NULL REFERENCES clients(ip) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('ptr', 'netbios', 'mdns', 'dhcp', 'static')),
        name TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (ip, source)
      )`,
      "CREATE INDEX clients_last_seen ON clients(last_seen)",
      "CREATE INDEX clients_queries ON clients(queries)",
    ],
    down: ["DROP INDEX clients_queries", "DROP INDEX clients_last_seen", "DROP TABLE client_names", "DROP TABLE clients"],
  },
  {
    version: 2,
    name: "discovering flag (seed 004: placeholder rows while discovery runs)",
    up: ["ALTER TABLE clients ADD COLUMN discovering INTEGER NOT NULL DEFAULT 0", "CREATE INDEX clients_discovering ON clients(discovering)"],
    down: ["DROP INDEX clients_discovering", "ALTER TABLE clients DROP COLUMN discovering"],
  },
  {
    version: 3,
    name: "transports (the latest query's, and every one a client used, one bit each)",
    up: ["ALTER TABLE clients ADD COLUMN last_transport TEXT", "ALTER TABLE clients ADD COLUMN transports INTEGER NOT NULL DEFAULT 0"],
    down: ["ALTER TABLE clients DROP COLUMN transports", "ALTER TABLE clients DROP COLUMN last_transport"],
  },
];

export const LATEST = MIGRATIONS.at(-1)!.version;

export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Moves the schema to `target` (default: latest), each step in its own transaction. Returns the steps run. */
export function migrate(db: Database, target = LATEST): string[] {
  const steps: string[] = [];
  let v = schemaVersion(db);
  if (target > LATEST || target < 0) throw new Error(`no schema version ${target} (latest is ${LATEST})`);
  while (v !== target) {
    const up = v < target;
    const m = up ? MIGRATIONS.find((x) => x.version === v + 1)! : MIGRATIONS.find((x) => x.version === v)!;
    const next = up ? v + 1 : v - 1;
    db.transaction(() => {
      for (const sql of up ? m.up : m.down) db.run(sql);
      db.run(`PRAGMA user_version = ${next}`);
    })();
    steps.push(`${up ? "up" : "down"} ${m.version}: ${m.name}`);
    v = next;
  }
  return steps;
}

/** The schema as SQL text, for comparing versions. */
export function schemaText(db: Database): string[] {
  return (db.query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").all() as Array<{ sql: string }>).map((r) => r.sql);
}
