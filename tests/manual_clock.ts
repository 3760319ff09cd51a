/**
 * A clock whose time moves only when the test says so, for the kernel's host
 * interface (kernel/host_interface.ts Clock): timers fire on `advance`, in order.
 * Immediates run on the real event loop (they carry no time).
 */

import { hostClock } from "../kernel/host/clock.ts";
import type { Clock, TimerHandle } from "../kernel/host_interface.ts";

export class ManualClock implements Clock {
  time = 0;
  #next = 1;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.time;
  setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  };
  clearTimeout = (t: TimerHandle | undefined) => void this.timers.delete(t as number);
  /** Every `ms` of manual time; the handle stays the same across its repeats. */
  setInterval = (fn: () => void, ms: number): TimerHandle => {
    const id = this.#next++;
    const tick = () => {
      this.timers.set(id, { at: this.time + ms, fn: tick });
      fn();
    };
    this.timers.set(id, { at: this.time + ms, fn: tick });
    return id;
  };
  clearInterval = (t: TimerHandle | undefined) => void this.timers.delete(t as number);
  setImmediate = (fn: () => void) => hostClock.setImmediate(fn);
  /** Moves time on by `ms`, running each timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [id, t] = due[0];
      this.timers.delete(id);
      this.time = t.at;
      t.fn();
    }
    this.time = end;
  }
}
