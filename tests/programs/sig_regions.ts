/**
 * One process, handlers on several regions (001 §3.1.3): two segments, a handler on
 * each, a third (more recent) handler on a sub-range of the second, and the same
 * function on a third segment. Signals itself on each and reports which handler ran
 * with which address, then removes a handler and signals again.
 */

import {
  bind,
  CreateSegment,
  PAGE_SIZE,
  removeSignalHandler,
  Signal,
  SignalHandler,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(): number {
  const a = bind(CreateSegment(PAGE_SIZE), 0x1000_0000);
  const b = bind(CreateSegment(2 * PAGE_SIZE), 0x2000_0000);
  const c = bind(CreateSegment(PAGE_SIZE), 0x3000_0000);
  const log: string[] = [];
  const shared = (tag: string) => (addr: number) => log.push(`${tag}@${addr.toString(16)}`);
  const onA = shared("A");
  SignalHandler(a, PAGE_SIZE, onA);
  SignalHandler(b, 2 * PAGE_SIZE, shared("B"));
  SignalHandler(b + PAGE_SIZE, 64, shared("C"));
  SignalHandler(c, PAGE_SIZE, onA); // the same function on another segment
  const counts = [
    Signal(a + 8),
    Signal(b + 8),
    Signal(b + PAGE_SIZE + 4),
    Signal(b + PAGE_SIZE + 64),
    Signal(c + 12),
  ];
  const removed = removeSignalHandler(a, PAGE_SIZE);
  const afterRemove = Signal(a + 8);
  report({ a, b, c, log, counts, removed, afterRemove });
  return 0;
}
