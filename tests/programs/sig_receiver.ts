/**
 * Signal receiver for the signal tests. Binds a shared segment at the address it is
 * given, handles signals on the segment's first page, says it is ready by signalling
 * the second page (where its parent has a handler), and reports every address it
 * received once it has `count` of them.
 *
 *   sig_receiver SEGMENT VADDR COUNT
 */

import {
  bind,
  getpid,
  PAGE_SIZE,
  Signal,
  signalCounters,
  SignalHandler,
  SigWait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const [segment, at, count] = args.map(Number);
  const base = bind(segment, at);
  const got: number[] = [];
  SignalHandler(base, PAGE_SIZE, (addr: number) => got.push(addr));
  Signal(base + PAGE_SIZE); // ready
  while (got.length < count) {
    if (SigWait(10_000) === 0) break;
  }
  report({ pid: getpid(), base, got, counters: signalCounters() });
  return got.length === count ? 0 : 1;
}
