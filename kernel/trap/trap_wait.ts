/**
 * A trap that must wait (Wave 2 "trap waits"): the kernel accepted it and completes
 * it later — when a child exits, a console line arrives, the name clerk answers, a
 * replica joins its owner, an external pager answers a page fault
 * (kernel/memory/pager_table.ts; its request owns the deadline); next, when a disk
 * command ends. One object owns everything about such a wait:
 *
 *   - its process, whose trap page stays DONE-less until the wait ends;
 *   - its deadline: past it the trap fails with ETIMEDOUT and a reason;
 *   - its cancellation: when the process dies or is killed, `cancel` drops the
 *     deadline and calls `onCancel`, so queues and timers let go of it; nothing
 *     completes and nothing is written to the dead process's trap page;
 *   - its completion: `complete` or `fail`, at most once, and only while it is
 *     still the process's current wait (a late answer is dropped);
 *   - whether a signal interrupts it: an interruptible wait (a console read that
 *     asked to be) fails with EINTR when the kernel queues a signal for its process,
 *     so the handler runs on the trap's return, as a Unix read returns EINTR.
 *
 * A handler makes one with TrapEntry.block() and returns BLOCKED.
 */

import { Errno } from "../abi/errors.ts";
import { Trap } from "../abi/layout.ts";
import type { Clock, TimerHandle } from "../host_interface.ts";
import type { BlockedTrap, Process } from "../proc/process.ts";

/** How a wait's trap is finished (TrapEntry): writes the result, traces, wakes. */
export type FinishTrap = (
  p: Process,
  result: number,
  errno: number,
  result2: number,
  detail: string,
) => void;

export interface WaitOptions {
  /** Milliseconds until it fails with ETIMEDOUT; absent, 0 or negative: no deadline. */
  timeoutMs?: number;
  /** The reason a timed-out trap gives. */
  timeoutDetail?: string;
  /**
   * Called once if the wait ends without its owner completing it (its deadline
   * passed, or its process died): drop queue entries and requests that hold it.
   */
  onCancel?: () => void;
  /** A signal the kernel queues for the process ends the wait with EINTR. */
  interruptible?: boolean;
}

export class TrapWait implements BlockedTrap {
  readonly proc: Process;
  readonly sysno: number;
  readonly #finish: FinishTrap;
  readonly #clock: Clock;
  readonly #onCancel: (() => void) | undefined;
  readonly #interruptible: boolean;
  #timer: TimerHandle | undefined;
  #ended = false;

  constructor(p: Process, sysno: number, finish: FinishTrap, clock: Clock, o: WaitOptions) {
    this.proc = p;
    this.sysno = sysno;
    this.#finish = finish;
    this.#clock = clock;
    this.#onCancel = o.onCancel;
    this.#interruptible = o.interruptible ?? false;
    // Held for something slow until said otherwise (soon): the process sleeps at once
    // rather than spin (userland/lib/rt/trap.ts); the trap's completion clears it.
    Atomics.store(p.trap, Trap.KERNEL_HOLDS, 1);
    const ms = o.timeoutMs ?? 0;
    if (ms > 0) {
      const detail = o.timeoutDetail ?? `timed out after ${ms} ms`;
      this.#timer = clock.setTimeout(() => {
        this.#timer = undefined;
        if (this.pending) this.#onCancel?.();
        this.fail(Errno.ETIMEDOUT, detail);
      }, ms);
    }
  }

  /**
   * The kernel itself ends this wait within microseconds (a page it READs from
   * remote memory): the process may spin for it rather than sleep.
   */
  soon(): void {
    Atomics.store(this.proc.trap, Trap.KERNEL_HOLDS, 0);
  }

  /** True while the wait may still complete: not ended, and its process alive. */
  get pending(): boolean {
    return !this.#ended && this.proc.blocked === this && this.proc.state === "running";
  }

  /** Completes the trap with a result (and a second one); false if it had ended. */
  complete(result: number, result2 = 0): boolean {
    if (!this.#end()) return false;
    this.#finish(this.proc, result, 0, result2, "");
    return true;
  }

  /** Fails the trap with `errno` and a reason; false if it had ended. */
  fail(errno: number, detail: string): boolean {
    if (!this.#end()) return false;
    this.#finish(this.proc, -1, errno, 0, detail);
    return true;
  }

  /** Fails an interruptible wait with EINTR (its queue entries dropped); false if not. */
  interrupt(): boolean {
    if (!this.#interruptible || !this.pending) return false;
    this.#onCancel?.();
    return this.fail(Errno.EINTR, "interrupted by a signal");
  }

  /**
   * Ends the wait so that its trap is served again from the start (a copy that
   * waited for pages to be paged in); false if it had ended.
   */
  restart(): boolean {
    return this.#end();
  }

  /** Ends the wait without completing it: its process died, or was killed. */
  cancel(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onCancel?.();
  }

  #end(): boolean {
    if (!this.pending) return false;
    this.#ended = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.proc.blocked = null;
    return true;
  }
}
