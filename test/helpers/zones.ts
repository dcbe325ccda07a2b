// Builds zone snapshots in-process (the worker's code, without the worker) for unit tests.
import { join, resolve } from "node:path";
import { toWire } from "../../src/wire/name";
import { organize, pack } from "../../src/zones/build";
import { parseMasterFile } from "../../src/zones/master";
import { ZoneSnapshot, ZoneTable } from "../../src/zones/snapshot";

export const FIXTURES = resolve(import.meta.dir, "../fixtures/zones");
export const fixture = (name: string) => join(FIXTURES, name);

export function loadZone(name: string, file: string): ZoneSnapshot {
  const origin = toWire(name);
  return new ZoneSnapshot(pack(name, origin, organize(origin, parseMasterFile(file, origin)), false, 0));
}

export function tableWith(...zones: ZoneSnapshot[]): ZoneTable {
  const t = new ZoneTable();
  for (const z of zones) t.put(z);
  return t;
}
