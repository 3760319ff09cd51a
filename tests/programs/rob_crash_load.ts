/**
 * Throws at module load, before any main runs, with a message of more than 6000
 * characters ("boom:" and LENGTH x's).
 *
 *   rob_crash_load        throws at once
 *   rob_crash_load gate   first reports {gate: pid}, then throws only after a SIGHUP
 *                         (so a test can make sure its parent is blocked in wait())
 */

import { Sig, signalAddress, SignalHandler, SigWait } from "../../userland/lib/mod.ts";
import { rt } from "../../userland/lib/rt/runtime.ts";
import { report } from "./report.ts";

export const LENGTH = 6000;

function crash(): never {
  throw new Error("boom:" + "x".repeat(LENGTH));
}

if (rt().args[0] === "gate") {
  let go = false;
  SignalHandler(signalAddress(Sig.SIGHUP), 4, () => {
    go = true;
  });
  report({ gate: rt().pid });
  const until = performance.now() + 10_000;
  while (!go && performance.now() < until) SigWait(1000);
}
crash();

export default function main(): number {
  return 0;
}
