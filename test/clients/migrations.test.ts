import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { LATEST, migrate, schemaText, schemaVersion } from "../../src/clients/migrations";

describe("client store migrations", () => {
  test("up, then down to nothing, then up again leaves the same schema", () => {
    const db = new Database(":memory:");
    migrate(db);
    const latest = schemaText(db);
    expect(schemaVersion(db)).toBe(LATEST);
    expect(latest.join("\n")).toContain("discovering");
    expect(migrate(db, 0)).toEqual(["down 3: transports (the latest query's, and every one a client used, one bit each)", "down 2: discovering flag (seed 004: placeholder rows while discovery runs)", "down 1: clients and their names"]);
    expect(schemaText(db)).toEqual([]);
    migrate(db);
    expect(schemaText(db)).toEqual(latest);
  });

  test("one step down removes only the discovering column; data survives the round trip", () => {
    const db = new Database(":memory:");
    migrate(db);
    db.run("INSERT INTO clients (ip, first_seen, last_seen, queries, discovering) VALUES ('10.0.0.1', 1, 2, 3, 1)");
    migrate(db, 1);
    expect(schemaText(db).join("\n")).not.toContain("discovering");
    expect(db.query("SELECT queries FROM clients").get()).toEqual({ queries: 3 });
    migrate(db, 2);
    expect(db.query("SELECT queries, discovering FROM clients").get()).toEqual({ queries: 3, discovering: 0 });
  });

  test("one step down from 3 removes the transport columns; the clients stay, and up again starts them empty", () => {
    const db = new Database(":memory:");
    migrate(db);
    db.run("INSERT INTO clients (ip, first_seen, last_seen, queries, last_transport, transports) VALUES ('10.0.0.1', 1, 2, 3, 'tls', 4)");
    migrate(db, 2);
    expect(schemaText(db).join("\n")).not.toContain("transport");
    migrate(db);
    expect(db.query("SELECT queries, last_transport, transports FROM clients").get()).toEqual({ queries: 3, last_transport: null, transports: 0 });
  });

  test("an unknown target version is refused", () => {
    expect(() => migrate(new Database(":memory:"), 99)).toThrow("no schema version 99");
  });
});
