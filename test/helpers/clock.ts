// A clock tests move by hand: timers fire when advance() passes their time, in order, and never otherwise.
import type { Clock, TimerHandle } from "../../src/lifecycle/clock";

export class FakeClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  constructor(public time = Date.now()) {}

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const t = { at: this.time + Math.max(0, ms), fn, id: ++this.seq };
    this.timers.push(t);
    return t.id;
  }

  cancel(timer: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== timer);
  }

  /** Timers waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time on by `ms`, firing every timer due on the way (and ones they set that fall due too). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}
