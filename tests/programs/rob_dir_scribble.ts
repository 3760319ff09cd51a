/**
 * A sender whose segment's signal directory was scribbled on, then signals a
 * location it has a handler on (it is its own receiver).
 *
 *   rob_dir_scribble odd        VERSION made odd (a writer that never finishes)
 *   rob_dir_scribble huge       COUNT = 2^30
 *   rob_dir_scribble negative   COUNT = -7
 *
 * Reports what Signal returned, how long it took and how many times the handler ran.
 */

import { Directory } from "../../kernel/abi/layout.ts";
import { allocate, PAGE_SIZE, Signal, SignalHandler, SigWait } from "../../userland/lib/mod.ts";
import { slotDirectory } from "../../userland/lib/rt/trap.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const at = allocate(PAGE_SIZE);
  let hits = 0;
  SignalHandler(at, 64, () => hits++);
  const dirs = slotDirectory.filter((d) => d !== undefined);
  if (dirs.length !== 1) throw new Error(`expected one directory, found ${dirs.length}`);
  const dir = dirs[0]!;
  const before = { version: dir[Directory.VERSION], count: dir[Directory.COUNT] };
  if (args[0] === "odd") Atomics.store(dir, Directory.VERSION, before.version | 1);
  else if (args[0] === "huge") Atomics.store(dir, Directory.COUNT, 1 << 30);
  else Atomics.store(dir, Directory.COUNT, -7);
  const t0 = performance.now();
  const n = Signal(at + 4);
  const el = performance.now() - t0;
  const deadline = performance.now() + 5000;
  while (hits === 0 && performance.now() < deadline) SigWait(deadline - performance.now());
  SigWait(0);
  report({ before, n, el, hits });
  return 0;
}
