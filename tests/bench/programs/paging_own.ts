// Bench program for suite `paging`: faults on segments this process pages itself
// (setPager, onPageFault), each answered by its handler in the faulting thread with
// a SUPPLY from a page of its own. Two cases, on a node with FRAMES page frames (the
// suite boots it so):
//   fault-pager-local  the pager protocol alone: before each timed batch the pager
//                      drops the batch's pages (dropPages, untimed), so each access
//                      is a fault on a page not present, with a frame free for it
//   fault-pager-evict  the same under memory pressure: a segment of four times the
//                      node's frames touched in order, so each access faults on a
//                      page evicted clean since, and the fault pays the eviction
//                      (the clock, the unmap and shootdown, clearing the page) too
// Both run after a first round that touches every page, so the host's memory is
// already touched (a first touch of fresh memory costs the host a page fault of its
// own, 2.4 µs). args: [quick|full].

import {
  allocate,
  bind,
  CreateSegment,
  dropPages,
  info,
  load32,
  onPageFault,
  PAGE_SIZE,
  println,
  setPager,
  store32,
  supplyPage,
} from "../../../userland/lib/mod.ts";
import { FAULT_BATCH, plan, sampleOps } from "./paging_local.ts";

/** fault-pager-local's segment: a multiple of FAULT_BATCH pages, far below the frames. */
const LOCAL_PAGES = 16 * FAULT_BATCH;

export default function main(args: string[]): number {
  const { count, warm } = plan(args[0] === "quick");
  const source = allocate(PAGE_SIZE);
  store32(source, 0x5a5a5a5a);
  onPageFault((r) => supplyPage(r.segment, r.page, source));
  let bad = 0;
  /** A segment of `pages` this process pages, and an access to its page i % pages. */
  const paged = (pages: number) => {
    const seg = CreateSegment(pages * PAGE_SIZE);
    setPager(seg);
    const base = bind(seg);
    const touch = (i: number) => {
      if (load32(base + (i % pages) * PAGE_SIZE) !== 0x5a5a5a5a) bad++;
    };
    for (let i = 0; i < pages; i++) touch(i); // the first round: the host's first touches
    return { seg, touch };
  };
  const report = (name: string, r: ReturnType<typeof sampleOps>, evictions: number) => {
    const per = evictions / (r.n + warm);
    const line = { case: name, ...r, evictionsPerAccess: per, wrong: bad };
    println(`BENCH ${JSON.stringify(line)}`);
  };

  const local = paged(LOCAL_PAGES);
  let e0 = info("stats").evictions;
  const drop = (i: number) => dropPages(local.seg, i % LOCAL_PAGES, FAULT_BATCH);
  const r = sampleOps(local.touch, FAULT_BATCH, count, warm, drop);
  report("fault-pager-local", r, info("stats").evictions - e0);

  const pages = 4 * info("stats").pageFrames;
  const evict = paged(pages);
  e0 = info("stats").evictions;
  const r2 = sampleOps((i) => evict.touch(i + pages), FAULT_BATCH, count, warm);
  report("fault-pager-evict", r2, info("stats").evictions - e0);
  return 0;
}
