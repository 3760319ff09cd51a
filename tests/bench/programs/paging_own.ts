// Bench program for suite `paging`, case fault-pager-local, on a node with FRAMES
// page frames (the suite boots it so): a segment of four times as many pages that
// this process pages itself (setPager, onPageFault). One round touches every page
// (each supplied by its handler from a page of its own, in the faulting thread);
// then the timed rounds go on in the same order, so under the clock every access
// is a fault on a page evicted clean since (dropped: no page-out) that the handler
// supplies again: the pager protocol alone, on host memory already touched (a
// first touch of fresh memory costs the host a page fault of its own, 2.4 µs).
// args: [quick|full].

import {
  allocate,
  bind,
  CreateSegment,
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

export default function main(args: string[]): number {
  const { count, warm } = plan(args[0] === "quick");
  const pages = 4 * info("stats").pageFrames;
  const seg = CreateSegment(pages * PAGE_SIZE);
  setPager(seg);
  const base = bind(seg);
  const source = allocate(PAGE_SIZE);
  store32(source, 0x5a5a5a5a);
  onPageFault((r) => supplyPage(r.segment, r.page, source));
  let bad = 0;
  const touch = (i: number) => {
    if (load32(base + (i % pages) * PAGE_SIZE) !== 0x5a5a5a5a) bad++;
  };
  for (let i = 0; i < pages; i++) touch(i); // the first round: the host's first touches
  const e0 = info("stats").evictions;
  const r = sampleOps((i) => touch(i + pages), FAULT_BATCH, count, warm);
  const per = (info("stats").evictions - e0) / (r.n + warm);
  println(
    `BENCH ${
      JSON.stringify({ case: "fault-pager-local", ...r, evictionsPerAccess: per, wrong: bad })
    }`,
  );
  return 0;
}
