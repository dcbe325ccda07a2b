// The heavy lane's worker: parses zone files, signs zones, builds AXFR streams — everything that would
// stall the query thread (seed 000 "worker pool starvation"). Results go back as transferred buffers.
import { toWire } from "../wire/name";
import { axfrMessages, organize, pack, sign, type BuildNode } from "../zones/build";
import { loadOrCreateKey } from "../zones/dnssec";
import { parseMasterFile } from "../zones/master";
import type { JobReply, JobRequest } from "./protocol";

declare const self: Worker;

/** The last good build of each zone, kept here for AXFR. */
const built = new Map<string, { origin: Uint8Array; nodes: Map<string, BuildNode> }>();

async function run(job: JobRequest): Promise<{ reply: JobReply; transfer: ArrayBuffer[] }> {
  const t0 = performance.now();
  if (job.kind === "load") {
    const origin = toWire(job.zone);
    const nodes = organize(origin, parseMasterFile(job.file, origin));
    let expiration = 0;
    if (job.dnssec) {
      const key = await loadOrCreateKey(job.keyDir, job.zone, job.algorithm);
      const now = Math.floor(Date.now() / 1000);
      expiration = now + job.validity;
      await sign(origin, nodes, key, { inception: now - 3600, expiration }); // an hour back for clock skew
    }
    const zone = pack(job.zone, origin, nodes, job.dnssec, expiration);
    built.set(job.zone, { origin, nodes });
    const transfer = [zone.data.buffer, zone.nodes.buffer, zone.sets.buffer, zone.canon.buffer] as ArrayBuffer[];
    return { reply: { seq: job.seq, ok: true, kind: "load", zone, ms: performance.now() - t0 }, transfer };
  }
  const b = built.get(job.zone);
  if (!b) return { reply: { seq: job.seq, ok: false, code: "not-built", error: `zone ${job.zone} is not built in this worker`, ms: 0 }, transfer: [] };
  const messages = axfrMessages(b.origin, b.nodes, job.id, job.question);
  return { reply: { seq: job.seq, ok: true, kind: "axfr", messages, ms: performance.now() - t0 }, transfer: messages.map((m) => m.buffer as ArrayBuffer) };
}

self.onmessage = async (ev: MessageEvent<JobRequest>) => {
  const t0 = performance.now();
  try {
    const { reply, transfer } = await run(ev.data);
    self.postMessage(reply, transfer);
  } catch (err) {
    self.postMessage({ seq: ev.data.seq, ok: false, error: (err as Error).message, ms: performance.now() - t0 } satisfies JobReply);
  }
};
