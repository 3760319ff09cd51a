/**
 * SigWait inside a handler: the first handler call sends two more signals to this
 * process, then calls SigWait(100). Reports what the nested SigWait returned, how
 * long it took, the log of handled offsets at that time and at the end, and the
 * FIFO counters.
 */

import {
  allocate,
  PAGE_SIZE,
  Signal,
  signalCounters,
  SignalHandler,
  SigWait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(): number {
  const at = allocate(PAGE_SIZE);
  const log: number[] = [];
  let inner: unknown = null;
  SignalHandler(at, 64, (a: number) => {
    log.push(a - at);
    if (log.length !== 1) return;
    const queued = [Signal(at + 4), Signal(at + 8)];
    const t0 = performance.now();
    const r = SigWait(100);
    inner = { r, el: performance.now() - t0, log: [...log], queued };
  });
  const queued = Signal(at);
  const deadline = performance.now() + 5000;
  while (log.length < 3 && performance.now() < deadline) SigWait(deadline - performance.now());
  SigWait(0); // anything delivered twice would be in the FIFO by now
  report({ queued, inner, log, counters: signalCounters() });
  return 0;
}
