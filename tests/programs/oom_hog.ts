/**
 * Exhausts its JavaScript heap (issue 11, hole 2): prints its pid, then keeps 8 MiB
 * arrays of doubles forever, never trapping, pausing `PAUSE_MS` (default 10) in a raw
 * `Atomics.wait` after each so the growth (at most ~800 MB/s) leaves the host's
 * heap watch a few samples before V8 aborts the host.
 *
 *   oom_hog [PAUSE_MS]
 */

import { getpid, println } from "../../userland/lib/mod.ts";

export default function main(args: string[]): number {
  const pause = args.length ? Number(args[0]) : 10;
  println(`oom_hog: pid ${getpid()} growing its heap`);
  const held: number[][] = [];
  const park = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    held.push(new Array(1 << 20).fill(0.5));
    if (pause > 0) Atomics.wait(park, 0, 0, pause);
  }
}
