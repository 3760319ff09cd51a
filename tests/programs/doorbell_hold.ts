/**
 * A process that holds down every word of its node's doorbell (issue 11, hole 7),
 * and a victim that makes null traps meanwhile.
 *
 *   doorbell_hold hold     stores 0 into the doorbell's words, forever (a load of its
 *                          own memory now and then lets the kernel stop it)
 *   doorbell_hold victim N makes N null traps and reports how long they took
 *   doorbell_hold idle     waits for signals, forever
 */

import { allocate, load32, nullTrap, println, SigWait } from "../../userland/lib/mod.ts";
import { rt } from "../../userland/lib/rt/runtime.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  if (args[0] === "victim") {
    const n = Number(args[1]);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) nullTrap();
    report({ traps: n, ms: performance.now() - t0 });
    return 0;
  }
  if (args[0] === "idle") {
    println("idling");
    for (;;) SigWait(60_000);
  }
  const db = rt().doorbell;
  const page = allocate(4096);
  println("holding the doorbell");
  for (let i = 0;; i++) {
    // Every word but SEQ, whose notify wakes the kernel whatever its value.
    for (let w = 1; w < db.length; w++) Atomics.store(db, w, 0);
    if ((i & 1023) === 0) load32(page);
  }
}
