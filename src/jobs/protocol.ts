// Messages between the query thread and the heavy-lane worker.
import type { PackedZone } from "../zones/build";

export interface LoadJob {
  kind: "load";
  zone: string;
  file: string;
  dnssec: boolean;
  algorithm: 13 | 15;
  keyDir: string;
  /** Signature validity, seconds. */
  validity: number;
}

export interface AxfrJob {
  kind: "axfr";
  zone: string;
  id: number;
  question: Uint8Array;
}

export type Job = LoadJob | AxfrJob;
export type JobRequest = Job & { seq: number };

export type JobReply =
  | { seq: number; ok: true; kind: "load"; zone: PackedZone; ms: number }
  | { seq: number; ok: true; kind: "axfr"; messages: Uint8Array[]; ms: number }
  | { seq: number; ok: false; error: string; ms: number; code?: JobFailure };

/** A failure the caller can act on: "not-built" — this worker has not built the zone (a new worker since). */
export type JobFailure = "not-built";
