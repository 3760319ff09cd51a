/**
 * FIFO delivery (001 §3.1.1): starts a sig_receiver on a shared segment, waits until
 * it is ready, then sends a burst of COUNT signals at distinct offsets in a scrambled
 * order, and reports the order sent and what each Signal() queued.
 *
 *   sig_fifo COUNT
 */

import {
  bind,
  CreateSegment,
  PAGE_SIZE,
  Rights,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const RECEIVER = new URL("./sig_receiver.ts", import.meta.url).href;

export default function main(args: string[]): number {
  const count = Number(args[0] ?? 64);
  const segment = CreateSegment(2 * PAGE_SIZE);
  const base = bind(segment, 0x1000_0000);
  let ready = 0;
  SignalHandler(base + PAGE_SIZE, PAGE_SIZE, () => ready++);
  const pid = spawn(RECEIVER, [String(segment), String(0x2000_0000), String(count)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  while (ready === 0) {
    if (SigWait(10_000) === 0) return 2;
  }
  // 37 is prime to any power of two ≤ 1024: a permutation of the word offsets.
  const sent = Array.from({ length: count }, (_, i) => ((i * 37) % count) * 4);
  const queued = sent.map((off) => Signal(base + off));
  const child = wait(pid);
  report({ sent, queued, child });
  return 0;
}
