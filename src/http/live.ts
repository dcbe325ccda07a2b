// Live updates for the dashboard by Server-Sent Events: one snapshot a second pushed to every subscriber
// (bounded), instead of the page polling every endpoint.
import { log } from "../metrics/log";

export class LiveFeed {
  private readonly subscribers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private readonly encoder = new TextEncoder();
  last: unknown = null;
  constructor(readonly maxSubscribers = 32) {}

  get count(): number {
    return this.subscribers.size;
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
