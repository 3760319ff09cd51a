/**
 * Helpers for test programs: print results the test reads back, and run a step
 * capturing its error code.
 */

import { println, SysError } from "../../userland/lib/mod.ts";

/** Prints one `RESULT <json>` line for the test to parse. */
export function report(value: unknown): void {
  println(`RESULT ${JSON.stringify(value)}`);
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
