/**
 * A process to be killed. Allocates and touches memory, reports that it is ready,
 * then either waits for signals forever (`--sigwait`, with a handler on its memory)
 * or spins forever in a loop of loads (`--spin`).
 */

import {
  allocate,
  getpid,
  load32,
  PAGE_SIZE,
  SignalHandler,
  SigWait,
  store32,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const at = allocate(2 * PAGE_SIZE);
  store32(at, 1);
  store32(at + PAGE_SIZE, 2);
  if (args[0] === "--sigwait") {
    SignalHandler(at, PAGE_SIZE, () => {});
    report({ ready: getpid(), mode: "sigwait" });
    for (;;) SigWait(60_000);
  }
  report({ ready: getpid(), mode: "spin" });
  let sum = 0;
  for (;;) sum += load32(at) + load32(at + PAGE_SIZE);
}
