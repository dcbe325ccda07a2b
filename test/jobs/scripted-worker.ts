// A stand-in heavy-lane worker for the lane's own tests: the job's zone name says what it does.
// "crash.lan" throws out of the worker; "slow-<ms>.lan" answers after <ms>; anything else answers at once.
import type { JobReply, JobRequest } from "../../src/jobs/protocol";

declare const self: Worker;

self.onmessage = (ev: MessageEvent<JobRequest>) => {
  const job = ev.data;
  if (job.zone === "crash.lan") throw new Error("scripted crash");
  const ms = Number(/^slow-(\d+)\.lan$/.exec(job.zone)?.[1] ?? 0);
  const reply: JobReply = { seq: job.seq, ok: true, kind: "axfr", messages: [], ms };
  setTimeout(() => self.postMessage(reply), ms);
};
