// Client tracking and discovery from configuration: the store worker, the tracker loop and the discovery
// workers, all registered with the task manager (the store's and discovery's workers as their work arrives).
// Returns null parts for what the config turns off.
import type { Config } from "../config/types";
import type { TaskManager } from "../lifecycle/tasks";
import { DiscoveryPool } from "../discovery/pool";
import { ClientStore } from "./store";
import { ClientTracker } from "./tracker";

export interface ClientParts {
  store: ClientStore | null;
  tracker: ClientTracker | null;
  discovery: DiscoveryPool | null;
}

/** @param dns bunbound's own listener, where PTR discovery asks. */
export function startClientTracking(cfg: Config, tasks: TaskManager, dns: { host: string; port: number }): ClientParts {
  const c = cfg.clients;
  if (!c.enabled) return { store: null, tracker: null, discovery: null };
  const d = cfg.discovery;
  const store = new ClientStore(cfg.data_dir, { clients: c });
  store.start(tasks);
  let tracker: ClientTracker | null = null;
  const discovery = d.enabled ? new DiscoveryPool(d, dns, (r) => tracker?.discovered(r)) : null;
  tracker = new ClientTracker(c, store, discovery ? (ip, known) => discovery.submit(ip, known) : null);
  discovery?.start(tasks);
  tracker.start(tasks);
  return { store, tracker, discovery };
}
