/**
 * Zero-fill on first touch: a fresh 4-page segment reads as zero; the first touch of
 * each page is one counted page fault (and zero-fill); touching a page again, even
 * after a TLB flush or with a store after a load, is not another fault.
 */

import {
  bind,
  CreateSegment,
  flushTlb,
  info,
  load32,
  load8,
  PAGE_SIZE,
  read,
  release,
  store32,
  tlbMisses,
  write,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const PAGES = 4;

function counters(): { pagefaults: number; zeroFills: number } {
  const s = info("self");
  return { pagefaults: s.pagefaults, zeroFills: s.zeroFills };
}

export default function main(): number {
  // A segment that was written and released must not leak into the next one.
  const old = CreateSegment(PAGES * PAGE_SIZE);
  const oldAt = bind(old);
  write(oldAt, new Uint8Array(PAGES * PAGE_SIZE).fill(0xa5));
  release(old);

  const seg = CreateSegment(PAGES * PAGE_SIZE);
  const at = bind(seg);
  const c0 = counters();
  const steps: { pagefaults: number; zeroFills: number }[] = [];
  const firstLoads: number[] = [];
  // First touch of each page: a load at a different offset in each.
  for (let p = 0; p < PAGES; p++) {
    firstLoads.push(load32(at + p * PAGE_SIZE + 8 * p));
    steps.push(counters());
  }
  const c1 = counters();
  // Second touches: loads, then a store after the load fill, then after a TLB flush.
  for (let p = 0; p < PAGES; p++) load8(at + p * PAGE_SIZE + 100);
  for (let p = 0; p < PAGES; p++) store32(at + p * PAGE_SIZE + 4, p + 1);
  const missesBefore = tlbMisses();
  flushTlb();
  let sum = 0;
  for (let p = 0; p < PAGES; p++) sum += load32(at + p * PAGE_SIZE + 4);
  const missesAfter = tlbMisses();
  const c2 = counters();
  const bytes = read(at, PAGES * PAGE_SIZE);
  let nonZero = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0 && !(i % PAGE_SIZE === 4)) nonZero++;
  }
  report({
    firstLoads,
    nonZero,
    before: c0,
    steps,
    afterFirst: c1,
    afterSecond: c2,
    sum,
    tlbMissesOnReload: missesAfter - missesBefore,
  });
  return 0;
}
