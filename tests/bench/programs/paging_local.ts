// Bench program for suite `paging`, on one node with frames to spare:
//   fault-zero         a first touch of a fresh anonymous page (the kernel zero-fills it)
//   copy-4k            a 4 KiB Uint8Array.set in this worker (the peer: a page's copy)
//   fault-pager-process  a fresh page of a segment this process pages (setPager),
//                      touched by a child that shares it; this process answers each
//                      PAGE_FAULT event from its queue with supplyPage from a page of
//                      its own: the pager protocol plus a thread switch each way.
//                      (fault-pager-local, the protocol alone: paging_own.ts.)
// For the second this process is the pager; the child ("client SEG...") measures and
// prints the BENCH line. args: [quick|full] or ["client", quick|full, SEG...].

import {
  allocate,
  bind,
  CreateSegment,
  load32,
  nextPageRequest,
  PAGE_SIZE,
  println,
  Rights,
  setPager,
  spawn,
  store32,
  supplyPage,
  SysError,
  wait,
} from "../../../userland/lib/mod.ts";
import { measureAndReport } from "./bench_report.ts";

/** Operations per sample of the fault cases: a fault costs µs, so a batch of 16 is timed. */
export const FAULT_BATCH = 16;
/** Segments of this many MiB give the fresh pages. */
const SEGMENT_MIB = 32;
const PAGES_PER_SEGMENT = SEGMENT_MIB * 1024 * 1024 / PAGE_SIZE;

/**
 * Samples of `batch` operations each, `count` of them after `warm` untimed operations;
 * returns per-operation µs. `op(i)` is the i-th operation overall; `prepare(i)`, if
 * given, runs untimed before each batch (warm ones too) that starts with op(i).
 */
export function sampleOps(
  op: (i: number) => void,
  batch: number,
  count: number,
  warm: number,
  prepare?: (i: number) => void,
): { samples_us: number[]; n: number; batch: number } {
  let i = 0;
  while (i < warm) {
    prepare?.(i);
    for (let j = 0; j < batch && i < warm; j++) op(i++);
  }
  const samples_us: number[] = [];
  for (let s = 0; s < count; s++) {
    prepare?.(i);
    const t0 = performance.now();
    for (let j = 0; j < batch; j++) op(i++);
    samples_us.push((performance.now() - t0) * 1000 / batch);
  }
  return { samples_us, n: count * batch, batch };
}

/** How many samples and untimed operations a fault case takes. */
export const plan = (quick: boolean) => quick ? { count: 30, warm: 32 } : { count: 900, warm: 256 };

/** Fresh pages to touch: a new segment of SEGMENT_MIB whenever the last runs out. */
function freshPages(): (i: number) => number {
  const bases: number[] = [];
  return (i) => {
    const s = Math.floor(i / PAGES_PER_SEGMENT);
    while (bases.length <= s) bases.push(allocate(SEGMENT_MIB * 1024 * 1024));
    return bases[s] + (i % PAGES_PER_SEGMENT) * PAGE_SIZE;
  };
}

function client(quick: boolean, segments: number[]): number {
  const bases = segments.map((s) => bind(s, 0, Rights.READ | Rights.WRITE));
  const { count, warm } = plan(quick);
  const r = sampleOps(
    (i) => {
      const base = bases[Math.floor(i / PAGES_PER_SEGMENT)];
      load32(base + (i % PAGES_PER_SEGMENT) * PAGE_SIZE);
    },
    FAULT_BATCH,
    count,
    warm,
  );
  println(`BENCH ${JSON.stringify({ case: "fault-pager-process", ...r })}`);
  return 0;
}

/** Segments of SEGMENT_MIB enough for a fault case's pages, each paged by this process. */
function pagedSegments(needed: number): number[] {
  const segments: number[] = [];
  for (let p = 0; p < needed; p += PAGES_PER_SEGMENT) {
    segments.push(CreateSegment(SEGMENT_MIB * 1024 * 1024));
  }
  for (const s of segments) setPager(s);
  return segments;
}

export default async function main(args: string[]): Promise<number> {
  if (args[0] === "client") return client(args[1] === "quick", args.slice(2).map(Number));
  const quick = args[0] === "quick";
  const { count, warm } = plan(quick);

  // fault-zero: a first touch of anonymous memory, each on a page never touched.
  const fresh = freshPages();
  const zero = sampleOps((i) => store32(fresh(i), 1), FAULT_BATCH, count, warm);
  println(`BENCH ${JSON.stringify({ case: "fault-zero", ...zero })}`);

  // copy-4k: one page copied between two buffers of this worker.
  const from = new Uint8Array(PAGE_SIZE).fill(3), to = new Uint8Array(2 * PAGE_SIZE);
  let flip = 0;
  await measureAndReport(
    (k) => {
      for (let i = 0; i < k; i++) to.set(from, flip ^= PAGE_SIZE);
    },
    quick,
    "copy-4k",
  );

  const needed = warm + count * FAULT_BATCH;
  const source = allocate(PAGE_SIZE);
  store32(source, 0x5a5a5a5a);

  // fault-pager-process: this process pages the segments its child touches.
  const segments = pagedSegments(needed);
  const pid = spawn(new URL(import.meta.url).pathname, [
    "client",
    quick ? "quick" : "full",
    ...segments.map(String),
  ], { share: segments.map((segment) => ({ segment, rights: Rights.READ | Rights.WRITE })) });
  for (;;) {
    const r = nextPageRequest(100);
    if (r) {
      if (!r.pagedOut && !r.freed) supplyPage(r.segment, r.page, source);
      continue;
    }
    try {
      return wait(pid, 0).status;
    } catch (e) {
      if (!(e instanceof SysError)) throw e; // still running
    }
  }
}
