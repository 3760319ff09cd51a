// Bench program: the owner side of the remote and names suites. Exports
// "bench.target" (16 KiB, notify CONDITIONAL) and "bench.name", prints READY, and
// serves (its handler takes the notifications) until killed.

import {
  bind,
  CreateSegment,
  exportSegment,
  NotifyPolicy,
  println,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
} from "../../../userland/lib/mod.ts";

export default function main(): number {
  const seg = CreateSegment(16384, SegMode.NORMAL, SegUnit.CACHE_LINE, NotifyPolicy.CONDITIONAL);
  const base = bind(seg);
  let notified = 0;
  SignalHandler(base, 16384, () => notified++);
  exportSegment(seg, "bench.target");
  exportSegment(CreateSegment(4096), "bench.name");
  println("READY");
  for (;;) SigWait(60_000);
}
