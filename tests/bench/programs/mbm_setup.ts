// Bench program: 001 Table 3's setup and tear-down system calls, one channel
// segment at a time: CreateSegment(4096, MESSAGE), bind, SignalHandler on it,
// removeSignalHandler, unbind, release. Every cycle creates and releases its own
// segment, so the process always holds one channel (as when a proxy connects to
// an object), and each call is timed on its own (performance.now() resolves well
// below 1 µs) and summed over a batch of cycles. One BENCH line per call.

import {
  bind,
  CreateSegment,
  println,
  release,
  removeSignalHandler,
  SegMode,
  SegUnit,
  SignalHandler,
  unbind,
} from "../../../userland/lib/mod.ts";
import { DeadlineError } from "../peers/worker_common.ts";

const SIZE = 4096;
const SETUP_CALLS = [
  "create-segment",
  "bind",
  "enable-signal",
  "disable-signal",
  "unbind",
  "release",
] as const;

const TARGET_BATCH_US = 1_500; // a batch of cycles: ~250 µs per call
const SAMPLES = { quick: 20, full: 500 };
const WARMUP_MS = { quick: 10, full: 150 };

const noop = () => {};

/** Runs `k` connect/disconnect cycles, adding each call's time (ms) to `acc`. */
function cycles(k: number, acc: Float64Array): void {
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    const segment = CreateSegment(SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
    const t1 = performance.now();
    const at = bind(segment);
    const t2 = performance.now();
    SignalHandler(at, SIZE, noop);
    const t3 = performance.now();
    removeSignalHandler(at, SIZE);
    const t4 = performance.now();
    unbind(at);
    const t5 = performance.now();
    release(segment);
    const t6 = performance.now();
    acc[0] += t1 - t0;
    acc[1] += t2 - t1;
    acc[2] += t3 - t2;
    acc[3] += t4 - t3;
    acc[4] += t5 - t4;
    acc[5] += t6 - t5;
  }
}

export default function main(args: string[]): number {
  const quick = args[0] === "quick";
  const deadline = performance.now() + (quick ? 10_000 : 30_000);
  const acc = new Float64Array(SETUP_CALLS.length);
  const batch = (k: number): number => {
    if (performance.now() > deadline) throw new DeadlineError("setup calls");
    acc.fill(0);
    const t0 = performance.now();
    cycles(k, acc);
    return (performance.now() - t0) * 1000;
  };

  // Calibrate, warm up, then re-size from warm batches (as measureBatches does:
  // the first, cold cycles overestimate the calls).
  const grow = (k: number, us: number) =>
    Math.min(k * 8, Math.ceil((k * TARGET_BATCH_US * 1.2) / Math.max(us, 1)));
  let k = 1;
  for (let us = batch(k); us < TARGET_BATCH_US; us = batch(k)) k = grow(k, us);
  const warmEnd = performance.now() + (quick ? WARMUP_MS.quick : WARMUP_MS.full);
  while (performance.now() < warmEnd) batch(k);
  for (let round = 0; round < 6; round++) {
    const warm = Array.from({ length: 7 }, () => batch(k)).sort((a, b) => a - b);
    if (warm[3] >= TARGET_BATCH_US) break;
    k = grow(k, warm[3]);
  }

  const count = quick ? SAMPLES.quick : SAMPLES.full;
  const samples: number[][] = SETUP_CALLS.map(() => []);
  for (let s = 0; s < count; s++) {
    batch(k);
    for (let c = 0; c < SETUP_CALLS.length; c++) samples[c].push((acc[c] * 1000) / k);
  }
  SETUP_CALLS.forEach((name, c) => {
    const r = { case: name, samples_us: samples[c], n: count * k, batch: k };
    println(`BENCH ${JSON.stringify(r)}`);
  });
  return 0;
}
