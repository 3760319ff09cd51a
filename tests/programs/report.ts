/**
 * Helpers for test programs: print results the test reads back, run a step
 * capturing its error code, and wait for the test's go-ahead signal.
 */

import {
  println,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  SysError,
} from "../../userland/lib/mod.ts";

/** Prints one `RESULT <json>` line for the test to parse. */
export function report(value: unknown): void {
  println(`RESULT ${JSON.stringify(value)}`);
}

/** Runs `fn`; returns "ok", or the error code it failed with (SysError's; others throw). */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof SysError) return e.code;
    throw e;
  }
}

/** Runs `fn`; returns its value, or the error code it failed with ("EINVAL", …). */
export function attempt<T>(fn: () => T): T | string {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SysError) return e.code;
    if (e instanceof Error) return `${e.name}: ${e.message}`;
    throw e;
  }
}

/**
 * Registers for signal `sig` (SIGHUP) now, before the program says it is ready,
 * so the test's signal is never missed; returns a function that sleeps (in
 * SigWait: no spinning) until the signal has come, throwing after `timeoutMs`.
 */
export function signalGate(sig: number = Sig.SIGHUP, timeoutMs = 30_000): () => void {
  let came = false;
  SignalHandler(signalAddress(sig), 4, () => came = true);
  return () => {
    const end = performance.now() + timeoutMs;
    while (!came) {
      if (performance.now() > end) throw new Error(`no signal ${sig} in ${timeoutMs} ms`);
      SigWait(1000);
    }
  };
}
