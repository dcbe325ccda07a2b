// Limits on discovery (seed 004): a token bucket for the rate, and the shared circuit breaker for failure storms.

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

export { CircuitBreaker, type BreakerState } from "../lifecycle/breaker";
