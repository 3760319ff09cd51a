/**
 * Automatic signal-on-write costs the writer no trap on the hardware path (001 §3.3).
 *
 *   mbm_notrap                  the writer: makes a MESSAGE segment, starts a reader
 *                               on it, completes one line and waits for its signal,
 *                               reports {ready}; on SIGHUP completes 64 more lines
 *                               (one store each, the last word) and reports {done,
 *                               signalled} (the reader's count of those)
 *   mbm_notrap --reader SEG CTL the reader: counts signals on the segment, says ready
 *                               in word 0 of CTL, and copies its count to word 1
 *
 * The test counts the writer's traps between {ready} and {done}.
 */

import {
  bind,
  CreateSegment,
  load32,
  nap,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  spawn,
  store32,
} from "../../userland/lib/mod.ts";
import { report, signalGate } from "./report.ts";

const LINES = 64;

function reader(seg: number, ctl: number): number {
  const base = bind(seg, 0, Rights.READ);
  const c = bind(ctl);
  let n = 0;
  SignalHandler(base, PAGE_SIZE, () => store32(c + 4, ++n));
  store32(c, 1);
  while (n < LINES + 1) SigWait(10_000);
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "--reader") return reader(Number(args[1]), Number(args[2]));
  const seg = CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  const ctl = CreateSegment(PAGE_SIZE);
  const base = bind(seg), c = bind(ctl);
  spawn(new URL(import.meta.url).pathname, ["--reader", String(seg), String(ctl)], {
    share: [{ segment: seg, rights: Rights.READ }, {
      segment: ctl,
      rights: Rights.READ | Rights.WRITE,
    }],
  });
  for (const deadline = performance.now() + 10_000; load32(c) !== 1;) {
    if (performance.now() > deadline) throw new Error("the reader never started");
    nap(1);
  }
  // Before the count starts: the page's write fault, and one line completed and seen,
  // so the reader's FIFO has been handed over (a grant can take a moment to arrive).
  store32(base + 28, 1);
  for (const deadline = performance.now() + 10_000; load32(c + 4) < 1;) {
    if (performance.now() > deadline) throw new Error("the first line was never signalled");
    nap(1);
  }
  const go = signalGate();
  report({ ready: true });
  go();
  for (let i = 1; i <= LINES; i++) store32(base + i * 32 + 28, i + 1);
  for (const deadline = performance.now() + 10_000; load32(c + 4) < LINES + 1;) {
    if (performance.now() > deadline) break;
    nap(1);
  }
  report({ done: true, signalled: load32(c + 4) - 1 });
  return 0;
}
