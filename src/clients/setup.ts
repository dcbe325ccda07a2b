// Client tracking and discovery from configuration: the store worker, the tracker loop and the discovery
// workers, all registered with the task manager (the store's and discovery's workers as their work arrives).
// Returns null parts for what the config turns off.
import type { Config } from "../config/schema";
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
  const store = new ClientStore(cfg.data_dir);
  store.start(tasks);
  let tracker: ClientTracker | null = null;
  const discovery = d.enabled
    ? new DiscoveryPool(
        {
          workers: d.workers,
          queueSize: d.queue_size,
          rate: d.rate,
          burst: d.burst,
          breakerFailures: d.breaker_failures,
          breakerOpenMs: d.breaker_open_ms,
          methods: {
            methods: d.methods,
            timeoutMs: { ptr: d.ptr_timeout_ms, netbios: d.netbios_timeout_ms, mdns: d.mdns_timeout_ms, dhcp: 0 },
            dns,
            netbiosPort: d.netbios_port,
            mdnsPort: d.mdns_port,
            leases: d.leases,
          },
        },
        (r) => tracker?.discovered(r),
      )
    : null;
  tracker = new ClientTracker(
    { highQueue: c.high_queue, lowQueue: c.low_queue, lowShare: c.low_share, batchSize: c.batch_size, batchMs: c.batch_ms, maxClients: c.max_clients, rediscoverMs: c.rediscover_after_ms },
    store,
    discovery ? (ip, known) => discovery.submit(ip, known) : null,
  );
  discovery?.start(tasks);
  tracker.start(tasks);
  return { store, tracker, discovery };
}
