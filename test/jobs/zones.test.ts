import { describe, expect, test } from "bun:test";
import { defaults } from "../helpers/pipeline";
import { HeavyLane } from "../../src/jobs/lane";
import type { Job, JobReply } from "../../src/jobs/protocol";
import { ZoneManager, type ZoneConfig } from "../../src/jobs/zones";
import { toWire } from "../../src/wire/name";
import { organize, pack } from "../../src/zones/build";
import { parseMasterFile } from "../../src/zones/master";
import { fixture } from "../helpers/zones";

/** A lane stand-in that builds in-process and records what it was asked, with a chosen signature expiry. */
function fakeLane(sigExpiration: () => number) {
  const jobs: Job[] = [];
  const lane = {
    submit: async (job: Job): Promise<JobReply> => {
      jobs.push(job);
      if (job.kind !== "load") return { seq: 0, ok: false, error: "not here", ms: 0 };
      const origin = toWire(job.zone);
      const packed = pack(job.zone, origin, organize(origin, parseMasterFile(job.file, origin)), job.dnssec, job.dnssec ? sigExpiration() : 0);
      return { seq: 0, ok: true, kind: "load", zone: packed, ms: 1 };
    },
  };
  return { lane: lane as unknown as HeavyLane, jobs };
}

const cfg = (over: Partial<ZoneConfig> = {}): ZoneConfig => ({
  name: "example.lan",
  file: fixture("example.lan.zone"),
  dnssec: false,
  algorithm: 13,
  signature_validity_days: 1,
  transfer_acl: ["127.0.0.0/8"],
  ...over,
});

describe("zone manager", () => {
  test("a signed zone is re-signed once half its signature validity has passed, not before", async () => {
    let exp = Date.now() / 1000 + 86400; // fresh: a full day left
    const { lane, jobs } = fakeLane(() => exp);
    const zm = new ZoneManager(lane, "/tmp");
    await zm.apply([cfg({ dnssec: true })]);
    expect(jobs.length).toBe(1);
    await zm.check();
    expect(jobs.length).toBe(1);
    exp = Date.now() / 1000 + 3600; // the next build expires in an hour: due again at once
    await zm.reload("example.lan");
    await zm.check();
    expect(jobs.length).toBe(3);
  });

  test("a zone dropped from the config stops being served", async () => {
    const { lane } = fakeLane(() => 0);
    const zm = new ZoneManager(lane, "/tmp");
    await zm.apply([cfg()]);
    const w = toWire("www.example.lan");
    expect(zm.table.find(w, 0, w.length)).toBeDefined();
    await zm.apply([]);
    expect(zm.table.find(w, 0, w.length)).toBeUndefined();
    expect(zm.status()).toEqual([]);
  });

  test("the transfer ACL is per zone", async () => {
    const { lane } = fakeLane(() => 0);
    const zm = new ZoneManager(lane, "/tmp");
    await zm.apply([cfg({ transfer_acl: ["127.0.0.0/8", "::1/128"] })]);
    expect(zm.mayTransfer("example.lan", "127.0.0.1")).toBe(true);
    expect(zm.mayTransfer("example.lan", "::1")).toBe(true);
    expect(zm.mayTransfer("example.lan", "::ffff:127.0.0.5")).toBe(true);
    expect(zm.mayTransfer("example.lan", "192.0.2.1")).toBe(false);
    expect(zm.mayTransfer("other.lan", "127.0.0.1")).toBe(false);
  });

  test("an AXFR after the lane's worker was let go builds the zone again in the new worker, then transfers it", async () => {
    const clock = { t: 0 };
    const lane = new HeavyLane({ jobs: { ...defaults.jobs, max_queue: 8, job_timeout_ms: 20_000, idle_ms: 20 }, now: () => clock.t });
    try {
      const zm = new ZoneManager(lane, "/tmp");
      await zm.apply([cfg()]);
      clock.t += 20;
      for (let i = 0; i < 400 && lane.workerAlive; i++) await Bun.sleep(5);
      expect(lane.workerAlive).toBe(false);
      const q = toWire("example.lan");
      const messages = await zm.transfer("example.lan", 7, new Uint8Array([...q, 0, 252, 0, 1]));
      expect(messages?.length).toBeGreaterThan(0);
      expect(lane.counters.workerStarts).toBe(2);
      expect(lane.counters.completed).toBe(3); // load, rebuild, transfer
    } finally {
      await lane.stop();
    }
  });
});
