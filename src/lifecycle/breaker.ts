// One circuit breaker for everything that calls out and can fail in storms (upstreams, client discovery):
// `failures` consecutive failures open it; after the open period one trial goes through (half-open); a success
// closes it, a failed trial opens it again for twice as long, up to `maxOpenMs` (seeds 003, 004).

export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  state: BreakerState = "closed";
  consecutiveFailures = 0;
  openedAt = 0;
  openForMs: number;
  /** Times it has opened. */
  opened = 0;
  private trial = false;

  constructor(
    public failures: number,
    public openMs: number,
    public maxOpenMs = openMs,
    private readonly now: () => number = Date.now,
  ) {
    this.openForMs = openMs;
  }

  /** May a call go now? (An open breaker past its period turns half-open; then only while no trial is out.) */
  available(): boolean {
    if (this.state === "open" && this.now() - this.openedAt >= this.openForMs) {
      this.state = "half-open";
      this.trial = false;
    }
    return this.state === "closed" || (this.state === "half-open" && !this.trial);
  }

  /** A call starts: in half-open it is the one trial. */
  begin(): void {
    if (this.state === "half-open") this.trial = true;
  }

  /** available() and begin() in one step. */
  allow(): boolean {
    if (!this.available()) return false;
    this.begin();
    return true;
  }

  /** A trial that was allowed but not made, or ended for a reason that says nothing about the callee. */
  release(): void {
    this.trial = false;
  }

  success(): void {
    this.consecutiveFailures = 0;
    this.trial = false;
    if (this.state !== "closed") {
      this.state = "closed";
      this.openForMs = this.openMs;
    }
  }

  failure(): void {
    this.consecutiveFailures++;
    this.trial = false;
    if (this.state === "half-open") {
      this.open(Math.min(this.openForMs * 2, this.maxOpenMs));
    } else if (this.state === "closed" && this.consecutiveFailures >= this.failures) {
      this.open(this.openMs);
    }
  }

  private open(forMs: number): void {
    this.state = "open";
    this.openedAt = this.now();
    this.openForMs = forMs;
    this.opened++;
  }
}
