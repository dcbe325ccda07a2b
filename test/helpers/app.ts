// An in-process bunbound on loopback ports the OS picks, for tests that need to look inside (counters, ring).
import { App } from "../../src/app";
import { loadConfig, type Overrides, type ResolvedConfig } from "../../src/config/load";
import { setLogSink } from "../../src/metrics/log";

export const logLines: string[] = [];
setLogSink((l) => logLines.push(l));

export async function startApp(o: Overrides = {}, tweak: (c: ResolvedConfig) => void = () => {}): Promise<App & { port: number }> {
  const cfg = loadConfig({ listen: ["127.0.0.1:0"], http: "off", upstream: [], ...o }, {});
  cfg.ring.strict = true; // ownership violations throw in tests
  tweak(cfg);
  const app = await App.start(cfg);
  // Forwarding with dnssec.validate = "auto": the first misses wait for the check of the upstreams; tests that
  // time their upstream's answers start after it.
  if (app.upstreamDnssec) await Promise.race([app.upstreamDnssec.first, Bun.sleep(2000)]);
  return Object.assign(app, { port: app.udp[0]!.boundPort });
}
