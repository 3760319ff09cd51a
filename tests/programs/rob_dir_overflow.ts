/**
 * More handler ranges on one segment than a signal directory holds: 300 ranges of
 * 8 bytes by this process. Signals the last range and the first; reports the
 * directory's COUNT, what Signal returned, and which handlers ran.
 */

import { Directory } from "../../kernel/abi/layout.ts";
import { allocate, PAGE_SIZE, Signal, SignalHandler, SigWait } from "../../userland/lib/mod.ts";
import { slotDirectory } from "../../userland/lib/rt/trap.ts";
import { report } from "./report.ts";

const RANGES = 300;

export default function main(): number {
  const at = allocate(PAGE_SIZE);
  const hits: number[] = [];
  for (let i = 0; i < RANGES; i++) SignalHandler(at + i * 8, 8, () => hits.push(i));
  const dirs = slotDirectory.filter((d) => d !== undefined);
  const count = dirs.length === 1 ? Atomics.load(dirs[0]!, Directory.COUNT) : null;
  const last = Signal(at + (RANGES - 1) * 8 + 4);
  const first = Signal(at);
  const deadline = performance.now() + 5000;
  while (hits.length < 2 && performance.now() < deadline) SigWait(deadline - performance.now());
  SigWait(0);
  report({ count, last, first, hits });
  return 0;
}
