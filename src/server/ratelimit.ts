// Answers per client address over UDP, where the source address can be forged (reflection, amplification): a
// token bucket per address, refilled at `perSecond` with a burst of one second's worth. Limited answers are
// dropped, except every `slip`-th, which goes out truncated (TC=1, no records) so a real client retries over TCP
// (BIND RRL's slip). A client with a good DNS cookie has shown the address is its own and is never limited
// (RFC 7873 5.3). Addresses share a fixed table of buckets by hash: bounded memory whatever the spread of
// sources, at the price of two addresses in one bucket sharing its budget.
const BUCKETS = 1 << 16;

export class RateLimit {
  private readonly tokens = new Float64Array(BUCKETS);
  private readonly last = new Float64Array(BUCKETS);
  private limited = 0;

  constructor(
    readonly perSecond: number,
    readonly slip: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** "ok": answer; "slip": answer truncated; "drop": do not answer. */
  check(ip: string): "ok" | "slip" | "drop" {
    let h = 0x811c9dc5;
    for (let i = 0; i < ip.length; i++) h = Math.imul(h ^ ip.charCodeAt(i), 0x01000193);
    const b = (h >>> 0) & (BUCKETS - 1);
    const now = this.now();
    const burst = this.perSecond;
    const t = this.last[b] === 0 ? burst : Math.min(burst, this.tokens[b]! + ((now - this.last[b]!) / 1000) * this.perSecond);
    this.last[b] = now;
    if (t >= 1) {
      this.tokens[b] = t - 1;
      return "ok";
    }
    this.tokens[b] = t;
    return this.slip > 0 && ++this.limited % this.slip === 0 ? "slip" : "drop";
  }
}
