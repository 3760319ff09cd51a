/**
 * One message segment bound twice in one process: a line written through one
 * binding survives the unbind of the other (the write-back buffer names lines by
 * segment, not by address), and completes whole. Reports {got} (each signal's line).
 */

import {
  bind,
  CreateSegment,
  load32,
  PAGE_SIZE,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  store32,
  unbind,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(): number {
  const seg = CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  const a = bind(seg, 0x1000_0000), b = bind(seg, 0x2000_0000);
  const got: number[][] = [];
  SignalHandler(
    b,
    PAGE_SIZE,
    (at) => got.push(Array.from({ length: 8 }, (_, w) => load32(at + 4 * w))),
  );
  for (let w = 0; w < 7; w++) store32(b + 4 * w, 0x1111 * (w + 1));
  unbind(a);
  store32(b + 28, 0x8888);
  const deadline = performance.now() + 10_000;
  while (got.length === 0 && performance.now() < deadline) SigWait(100);
  report({ got });
  return 0;
}
