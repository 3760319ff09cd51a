/**
 * TrapWait (kernel/trap/trap_wait.ts) on a controlled clock: the kernel takes its
 * clock from the host interface, so a test can advance time by hand and see a
 * deadline pass without waiting for it.
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import type { Clock, TimerHandle } from "../kernel/host_interface.ts";
import type { Process } from "../kernel/proc/process.ts";
import { TrapWait, type WaitOptions } from "../kernel/trap/trap_wait.ts";

/** A clock whose time moves only when the test says so. */
class ManualClock implements Clock {
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
  setInterval = (): TimerHandle => {
    throw new Error("not used");
  };
  clearInterval = () => {};
  setImmediate = (fn: () => void) => void this.setTimeout(fn, 0);
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

type Finished = [result: number, errno: number, result2: number, detail: string];

function setup(o: WaitOptions = {}) {
  const clock = new ManualClock();
  const proc = { blocked: null, state: "running" } as unknown as Process;
  const finished: Finished[] = [];
  const w = new TrapWait(proc, 7, (_p, r, e, r2, d) => void finished.push([r, e, r2, d]), clock, o);
  proc.blocked = w;
  return { clock, proc, finished, w };
}

Deno.test("a trap wait completes once, with its results, and stops its deadline", () => {
  const { clock, proc, finished, w } = setup({ timeoutMs: 100 });
  assert.equal(w.pending, true);
  assert.equal(clock.timers.size, 1);
  assert.equal(w.complete(42, 9), true);
  assert.deepEqual(finished, [[42, 0, 9, ""]]);
  assert.equal(proc.blocked, null);
  assert.equal(clock.timers.size, 0, "the deadline was dropped");
  assert.equal(w.complete(1), false, "a second answer is dropped");
  assert.equal(w.fail(Errno.EIO, "late"), false);
  clock.advance(1_000);
  assert.deepEqual(finished, [[42, 0, 9, ""]]);
});

Deno.test("a trap wait past its deadline fails ETIMEDOUT with its reason and cancels", () => {
  let cancelled = 0;
  const { clock, finished, w } = setup({
    timeoutMs: 100,
    timeoutDetail: "no answer from the clerk",
    onCancel: () => cancelled++,
  });
  clock.advance(99);
  assert.deepEqual(finished, [], "not before its deadline");
  clock.advance(1);
  assert.deepEqual(finished, [[-1, Errno.ETIMEDOUT, 0, "no answer from the clerk"]]);
  assert.equal(cancelled, 1, "whoever held the wait let go of it");
  assert.equal(w.pending, false);
  assert.equal(w.complete(5), false, "an answer after the deadline is dropped");
});

Deno.test("a cancelled trap wait (its process died) never completes or writes its trap", () => {
  let cancelled = 0;
  const { clock, proc, finished, w } = setup({ timeoutMs: 50, onCancel: () => cancelled++ });
  (proc as { state: string }).state = "zombie";
  assert.equal(w.pending, false, "a dead process's wait is not pending");
  w.cancel();
  w.cancel();
  assert.equal(cancelled, 1, "cancelled once");
  assert.equal(clock.timers.size, 0);
  clock.advance(100);
  assert.equal(w.complete(1), false);
  assert.deepEqual(finished, []);
});

Deno.test("a trap wait without a deadline waits as long as it takes", () => {
  const { clock, finished, w } = setup({ timeoutMs: 0 });
  assert.equal(clock.timers.size, 0);
  clock.advance(1e9);
  assert.equal(w.pending, true);
  assert.equal(w.fail(Errno.EINTR, "signalled"), true);
  assert.deepEqual(finished, [[-1, Errno.EINTR, 0, "signalled"]]);
});

Deno.test("a wait that is no longer its process's current one does not complete", () => {
  const { proc, finished, w } = setup();
  proc.blocked = null; // e.g. the process was killed and its trap abandoned
  assert.equal(w.complete(3), false);
  assert.deepEqual(finished, []);
});
