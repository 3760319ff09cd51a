// Bench program for suite `paging`, on node 0 of a cluster whose node 0 has a swap
// disk, few page frames and the swap pager (servers/pager/), and whose swap pager
// may page to the memory server on node 1 (servers/memory/). Modes:
//
//   faults quick|full CASE PAGES BATCH OPS [peer]
//       writes PAGES pages of anonymous memory (more than the node's frames), reads
//       them once round, then times reads going round them in the same order: under
//       the clock every access is a fault on a page evicted since, clean (so no page
//       goes out: the pager holds its copy), served by the swap pager from the memory
//       server or the disk. OPS accesses, BATCH a sample. With "peer", first times the
//       peer: one remote 4 KiB READ of the memory server's pool (block-read-4k).
//   diskread quick|full CASE
//       the peer of a page-in from the disk: this process drives disk 0 (a plain
//       disk, no swap pager) and times one 4 KiB READ at a time (DiskDriver.read).
//   sweep CASE MIB PASSES
//       memhog's run (userland/programs/memhog.ts hog: fill MIB, then PASSES sweeps
//       that read and rewrite 16 words a page), timed whole; a word that comes back
//       wrong is counted and reported beside the figure rather than ending the run.
//
// Each prints BENCH lines; the fault line says how many evictions each access cost
// (1.0 when every measured access faulted), and both how many words came back wrong.

import {
  allocate,
  awaitRemote,
  bind,
  CreateSegment,
  DiskDriver,
  info,
  load32,
  memoryName,
  PAGE_SIZE,
  poolOffset,
  println,
  READ,
  release,
  remoteCounters,
  setSwap,
  SigWait,
  store32,
  unbind,
  waitForName,
} from "../../../userland/lib/mod.ts";
import { hog } from "../../../userland/programs/memhog.ts";
import { measureAndReport } from "./bench_report.ts";
import { sampleOps } from "./paging_local.ts";

/** Waits until the node's swap pager has attached (it opens the memory server's pool first). */
function awaitSwapPager(): void {
  const deadline = performance.now() + 30_000;
  while (info("stats").swapPager <= 0) { // its pid, or 0
    if (performance.now() > deadline) throw new Error("no swap pager attached in 30 s");
    SigWait(20);
  }
}

async function blockRead(quick: boolean, server: number): Promise<void> {
  const { desc } = waitForName(memoryName(server), 10_000, { hint: server });
  const local = CreateSegment(PAGE_SIZE);
  setSwap(local, false);
  bind(local);
  // A page far into the pool, past what the swap pager will take here.
  const at = poolOffset(8192);
  await measureAndReport(
    (k) => {
      for (let i = 0; i < k; i++) {
        const before = remoteCounters();
        READ(desc, at, PAGE_SIZE, local, 0);
        awaitRemote(before);
      }
    },
    quick,
    "block-read-4k",
  );
}

async function faults(args: string[]): Promise<number> {
  const [mode, name, pagesArg, batchArg, opsArg, peer] = args;
  const quick = mode === "quick";
  awaitSwapPager();
  const stats = info("stats");
  if (peer === "peer") await blockRead(quick, stats.memoryServerNode);
  const pages = Number(pagesArg), batch = Number(batchArg);
  const seg = CreateSegment(pages * PAGE_SIZE);
  const base = bind(seg);
  for (let p = 0; p < pages; p++) store32(base + p * PAGE_SIZE, p + 1);
  // Push the pages still resident (dirty) out with a throwaway segment's first
  // touches, which the kernel zero-fills without the pager, so the pager takes every
  // PAGE_OUT while no fault of ours waits (a fault on a page not yet taken would
  // be a TAKE, not the page-in measured). Then every eviction below is of a clean
  // page, and no page goes out while we measure.
  const frames = info("stats").pageFrames;
  const push = CreateSegment((frames + 64) * PAGE_SIZE);
  const pushAt = bind(push);
  for (let p = 0; p < frames + 64; p++) store32(pushAt + p * PAGE_SIZE, 1);
  unbind(pushAt);
  release(push);
  SigWait(frames); // about a millisecond a page-out, at most
  let wrong = 0;
  const touch = (i: number) => {
    const p = i % pages;
    if (load32(base + p * PAGE_SIZE) !== p + 1) wrong++;
  };
  for (let i = 0; i < pages; i++) touch(i); // one round: every page is clean and swapped
  const count = Math.max(4, Math.round(Number(opsArg) / batch));
  const e0 = info("stats").evictions;
  const r = sampleOps((i) => touch(i + pages), batch, count, 0);
  const per = (info("stats").evictions - e0) / r.n;
  println(`BENCH ${JSON.stringify({ case: name, ...r, evictionsPerAccess: per, wrong })}`);
  return 0;
}

function sweep(args: string[]): number {
  const [name, mibArg, passesArg] = args;
  const mib = Number(mibArg), passes = Number(passesArg);
  if (info("stats").swapDisk >= 0) awaitSwapPager();
  const e0 = info("stats").evictions;
  const t0 = performance.now();
  let wrong = 0;
  hog(mib, passes, () => {
    wrong++; // counted, not the end of the run as in memhog
    return false;
  });
  const us = (performance.now() - t0) * 1000;
  const evictions = info("stats").evictions - e0;
  println(
    `BENCH ${JSON.stringify({ case: name, samples_us: [us], n: 1, batch: 1, evictions, wrong })}`,
  );
  return 0;
}

async function diskRead(args: string[]): Promise<number> {
  const [mode, name] = args;
  const disk = DiskDriver.attach(0);
  const buf = allocate(PAGE_SIZE);
  store32(buf, 1);
  const slots = Math.floor(disk.size / PAGE_SIZE);
  let i = 0;
  await measureAndReport(
    (k) => {
      for (let j = 0; j < k; j++) disk.read(((i++ * 7919) % slots) * PAGE_SIZE, buf, PAGE_SIZE);
    },
    mode === "quick",
    name,
  );
  return 0;
}

export default function main(args: string[]): number | Promise<number> {
  if (args[0] === "faults") return faults(args.slice(1));
  if (args[0] === "sweep") return sweep(args.slice(1));
  if (args[0] === "diskread") return diskRead(args.slice(1));
  throw new Error(`paging_swap: unknown mode ${args[0]}`);
}
