// Live updates for the dashboard by Server-Sent Events: one snapshot a second pushed to every subscriber
// (bounded), instead of the page polling every endpoint.
import { log } from "../metrics/log";
import type { TaskManager } from "../lifecycle/tasks";

/** What the feed publishes: one snapshot a second, and the top clients (a store query) every fifth. */
export interface LiveSource {
  liveSnapshot(): unknown;
  /** Nobody watching: the per-second baselines move on, nothing is built. */
  skipLiveSnapshot(): void;
  refreshTopClients(): Promise<void>;
}

export class LiveFeed {
  private readonly subscribers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private readonly encoder = new TextEncoder();
  last: unknown = null;
  constructor(readonly maxSubscribers = 32) {}

  get count(): number {
    return this.subscribers.size;
  }

  /** Registers the once-a-second feed; with nobody watching it builds nothing (a snapshot holds the query thread). */
  start(tasks: Pick<TaskManager, "every">, source: LiveSource): void {
    let tick = 0;
    tasks.every("dashboard-feed", "http", 1000, async () => {
      if (this.count === 0) {
        this.last = null; // a new watcher gets the next one, within a second
        return source.skipLiveSnapshot();
      }
      this.publish(source.liveSnapshot());
      if (tick++ % 5 === 0) await source.refreshTopClients().catch((err) => log.debug("top clients not refreshed", { err }));
    });
  }

  /** A text/event-stream response, or null when the subscriber limit is reached. */
  subscribe(): Response | null {
    if (this.subscribers.size >= this.maxSubscribers) return null;
    let me: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        me = controller;
        this.subscribers.add(controller);
        controller.enqueue(this.encoder.encode(`retry: 2000\n\n`));
        if (this.last) controller.enqueue(this.encoder.encode(`data: ${JSON.stringify(this.last)}\n\n`));
      },
      cancel: () => {
        this.subscribers.delete(me);
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" } });
  }

  publish(snapshot: unknown): void {
    this.last = snapshot;
    const bytes = this.encoder.encode(`data: ${JSON.stringify(snapshot)}\n\n`);
    for (const c of this.subscribers) {
      try {
        c.enqueue(bytes);
      } catch (err) {
        this.subscribers.delete(c);
        log.debug("live subscriber gone", { err });
      }
    }
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const c of this.subscribers) {
      try {
        c.close();
      } catch {}
    }
    this.subscribers.clear();
  }
}
