// Served zones: loading and reloading through the heavy lane, atomic swaps into the zone table, the
// file-change check, re-signing before signatures expire, and AXFR streams. A zone that fails to load keeps
// serving its previous version, and the failure says file:line.
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { inAcl, parseCidr } from "../net/address";
import { log } from "../metrics/log";
import type { TaskManager } from "../lifecycle/tasks";
import { LoadingZone, ZoneSnapshot, ZoneTable } from "../zones/snapshot";
import { toWire } from "../wire/name";
import type { HeavyLane } from "./lane";

export interface ZoneConfig {
  name: string;
  file: string;
  dnssec: boolean;
  algorithm: 13 | 15;
  signature_validity_days: number;
  transfer_acl: string[];
}

export interface ZoneStatus {
  name: string;
  file: string;
  serial: number | null;
  records: number;
  signed: boolean;
  loadedAt: string | null;
  lastError: string | null;
  loadMs: number | null;
}

interface Served {
  cfg: ZoneConfig;
  acl: ReturnType<typeof parseCidr>[];
  mtime: number;
  /** Earliest RRSIG expiration of the served version (s since epoch), 0 when unsigned. */
  sigExpiration: number;
  status: ZoneStatus;
}

export type ReloadResult = { ok: true; serial: number; records: number; ms: number } | { ok: false; error: string };

const norm = (name: string) => name.toLowerCase().replace(/\.$/, "");

export class ZoneManager {
  readonly table = new ZoneTable();
  private readonly served = new Map<string, Served>();

  constructor(
    private readonly lane: HeavyLane,
    private dataDir: string,
  ) {}

  /** Makes the served set match `zones`: loads new and changed ones, drops removed ones. Errors are per zone. */
  async apply(zones: ZoneConfig[], dataDir = this.dataDir): Promise<Record<string, ReloadResult>> {
    this.dataDir = dataDir;
    const wanted = new Map(zones.map((z) => [norm(z.name), { ...z, file: resolve(z.file) }]));
    for (const name of [...this.served.keys()]) {
      if (wanted.has(name)) continue;
      const served = this.table.all().find((z) => norm(z.loading ? z.name : z.p.name) === name);
      if (served) this.table.delete(served.origin);
      this.served.delete(name);
      log.info("zone removed", { zone: name });
    }
    const results: Record<string, ReloadResult> = {};
    await Promise.all(
      [...wanted].map(async ([name, cfg]) => {
        const prev = this.served.get(name);
        const s: Served = prev ?? {
          cfg,
          acl: [],
          mtime: 0,
          sigExpiration: 0,
          status: { name, file: cfg.file, serial: null, records: 0, signed: false, loadedAt: null, lastError: null, loadMs: null },
        };
        s.cfg = cfg;
        s.acl = cfg.transfer_acl.map(parseCidr);
        if (!prev) this.table.put(new LoadingZone(toWire(cfg.name), cfg.name));
        s.status.file = cfg.file;
        this.served.set(name, s);
        results[name] = await this.reload(name);
      }),
    );
    return results;
  }

  has(name: string): boolean {
    return this.served.has(norm(name));
  }

  /** Loads a zone in the heavy lane and swaps it in; on failure the previous version keeps serving. */
  async reload(name: string): Promise<ReloadResult> {
    const s = this.served.get(norm(name));
    if (!s) return { ok: false, error: `no zone ${name} is configured` };
    const mtime = await stat(s.cfg.file).then((st) => st.mtimeMs, () => 0);
    const reply = await this.lane.submit({
      kind: "load",
      zone: s.cfg.name,
      file: s.cfg.file,
      dnssec: s.cfg.dnssec,
      algorithm: s.cfg.algorithm,
      keyDir: join(this.dataDir, "keys"),
      validity: s.cfg.signature_validity_days * 86400,
    });
    if (!reply.ok || reply.kind !== "load") {
      const error = reply.ok ? "unexpected reply" : reply.error;
      s.status.lastError = error;
      log.error("zone load failed; the previous version keeps serving", { zone: s.cfg.name, error });
      return { ok: false, error };
    }
    this.table.put(new ZoneSnapshot(reply.zone));
    s.mtime = mtime;
    Object.assign(s.status, {
      serial: reply.zone.serial,
      records: reply.zone.records,
      signed: reply.zone.signed,
      loadedAt: new Date().toISOString(),
      lastError: null,
      loadMs: Math.round(reply.ms),
    });
    s.sigExpiration = reply.zone.sigExpiration;
    log.info("zone loaded", { zone: s.cfg.name, serial: reply.zone.serial, records: reply.zone.records, signed: reply.zone.signed, ms: Math.round(reply.ms) });
    return { ok: true, serial: reply.zone.serial, records: reply.zone.records, ms: reply.ms };
  }

  /** Registers the file-change check every `intervalMs` (jobs.watch_interval_ms; 0: never). */
  start(tasks: Pick<TaskManager, "every">, intervalMs: number): void {
    if (intervalMs > 0) tasks.every("zone-file-watch", "jobs", intervalMs, () => this.check());
  }

  /** The file-change check (a task-manager task): reloads zones whose file changed, re-signs zones due. */
  async check(): Promise<void> {
    const now = Date.now() / 1000;
    for (const [name, s] of this.served) {
      const mtime = await stat(s.cfg.file).then((st) => st.mtimeMs, () => s.mtime);
      const exp = s.sigExpiration;
      const resign = s.cfg.dnssec && exp > 0 && now > exp - (s.cfg.signature_validity_days * 86400) / 2;
      if (mtime !== s.mtime || resign) {
        log.info(resign ? "re-signing zone" : "zone file changed; reloading", { zone: name });
        s.mtime = mtime; // one attempt per change, even if it fails
        await this.reload(name);
      }
    }
  }

  /** May `peer` transfer `zone`? */
  mayTransfer(zone: string, peer: string): boolean {
    const s = this.served.get(norm(zone));
    return !!s && inAcl(peer, s.acl);
  }

  /**
   * The AXFR messages for a zone, built in the heavy lane. A worker that has not built the zone (the one that
   * did was let go when idle, or replaced) builds it again first; the rebuilt version is also the one served.
   */
  async transfer(zone: string, id: number, question: Uint8Array): Promise<Uint8Array[] | null> {
    const name = this.served.get(norm(zone))?.cfg.name ?? zone;
    const axfr = () => this.lane.submit({ kind: "axfr", zone: name, id, question: question.slice() });
    let reply = await axfr();
    if (!reply.ok && reply.code === "not-built" && (await this.reload(name)).ok) reply = await axfr();
    if (!reply.ok || reply.kind !== "axfr") {
      log.warn("AXFR failed", { zone, error: reply.ok ? "unexpected reply" : reply.error });
      return null;
    }
    return reply.messages;
  }

  status(): ZoneStatus[] {
    return [...this.served.values()].map((s) => ({ ...s.status }));
  }
}
