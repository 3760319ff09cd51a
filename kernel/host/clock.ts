/**
 * The host's clock and randomness, as the kernel's host interface takes them: the
 * monotonic `performance.now()`, the event loop's timers, and the platform's CSPRNG.
 */

import { setImmediate } from "node:timers";
import type { Clock } from "../host_interface.ts";

export const hostClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as number | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as number | undefined),
  setImmediate: (fn) => void setImmediate(fn),
};

/** 32 random bits from the platform's CSPRNG. */
export function hostRandom32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
