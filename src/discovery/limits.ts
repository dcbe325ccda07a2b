// Limits on discovery (seed 004): a token bucket for the rate and a circuit breaker for failure storms.

/** Allows `rate` events per second on average and bursts of up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    public rate: number,
    public burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type BreakerState = "closed" | "open" | "half-open";

/** Opens after `failures` consecutive failures; after `openMs` lets one trial through; a success closes it. */
export class CircuitBreaker {
  state: BreakerState = "closed";
  private consecutive = 0;
  private openedAt = 0;
  private trial = false;
  opened = 0;
  constructor(
    public failures: number,
    public openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** May a call go through now? In half-open, only one at a time. */
  allow(): boolean {
    if (this.state === "open" && this.now() - this.openedAt >= this.openMs) {
      this.state = "half-open";
      this.trial = false;
    }
    if (this.state === "closed") return true;
    if (this.state === "half-open" && !this.trial) {
      this.trial = true;
      return true;
    }
    return false;
  }

  /** A half-open trial that was allowed but not made: let the next caller have it. */
  release(): void {
    this.trial = false;
  }

  success(): void {
    this.consecutive = 0;
    this.trial = false;
    this.state = "closed";
  }

  failure(): void {
    this.consecutive++;
    this.trial = false;
    if (this.state === "half-open" || (this.state === "closed" && this.consecutive >= this.failures)) {
      this.state = "open";
      this.openedAt = this.now();
      this.opened++;
    }
  }
}
