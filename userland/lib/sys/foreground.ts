/**
 * Waiting for a child and the keyboard at once, as a shell does while a program
 * runs in the foreground: the console read is interruptible, and SIGCHLD (which
 * the kernel sends the parent of every child that ends) interrupts it. The
 * handler only notes that a child ended; the child is reaped here, outside it.
 *
 * Wait for a state, not a signal: the handler may run on the return of any trap,
 * so the note is checked before every read (a SIGCHLD queued after the check is
 * still in the FIFO when the read begins, and the kernel fails the read at once).
 */

import { Sig, signalAddress } from "../../../kernel/abi/layout.ts";
import { SignalHandler } from "../rt/signals.ts";
import { SysError } from "../../../kernel/abi/errors.ts";
import {
  type ConsoleInput,
  readConsole,
  type ReadConsoleOptions,
  wait,
  type WaitResult,
} from "./process.ts";

let armed = false;
/** Set by the SIGCHLD handler; cleared before each poll for an exited child. */
let childEnded = false;

/** What happened first: a child exited (and was reaped), or console input came. */
export type ForegroundEvent = { kind: "child"; child: WaitResult } | ConsoleInput;

/**
 * Returns the next event: a child that exited (reaped), or a piece of console
 * input read with `read` (`{ onlyKeys: true }` while a job runs in the foreground,
 * leaving lines typed ahead queued). With `read` null (input has ended) it only
 * waits for a child. Throws SysError ECHILD when there is no child to wait for
 * and no input is read.
 *
 * @example
 * ```ts
 * const e = awaitChildOrInput({ onlyKeys: true });
 * if (e.kind === "key" && e.key === ConsoleKey.INTERRUPT) kill(pid, Sig.SIGINT);
 * ```
 */
export function awaitChildOrInput(read: ReadConsoleOptions | null): ForegroundEvent {
  if (!armed) {
    SignalHandler(signalAddress(Sig.SIGCHLD), 4, () => childEnded = true);
    armed = true;
    childEnded = true; // one may have ended before the handler was there
  }
  if (read === null) return { kind: "child", child: wait(-1) };
  for (;;) {
    if (childEnded) {
      childEnded = false;
      const child = poll();
      if (child) {
        childEnded = true; // there may be more
        return { kind: "child", child };
      }
      continue; // its handler may have run on the poll's return
    }
    try {
      return readConsole({ ...read, interruptible: true });
    } catch (e) {
      if (!(e instanceof SysError && e.code === "EINTR")) throw e;
    }
  }
}

/** Reaps one exited child without waiting, or returns null. */
function poll(): WaitResult | null {
  try {
    return wait(-1, 0);
  } catch (e) {
    if (e instanceof SysError && (e.code === "EAGAIN" || e.code === "ECHILD")) return null;
    throw e;
  }
}
