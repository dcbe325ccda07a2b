// A discovery worker: names clients with the configured methods, one job at a time, off the query thread.
import { discover, type MethodConfig } from "./methods";

declare const self: Worker;

self.onmessage = async (ev: MessageEvent<{ ip: string; cfg: MethodConfig }>) => {
  const result = await discover(ev.data.ip, ev.data.cfg);
  self.postMessage(result);
};
