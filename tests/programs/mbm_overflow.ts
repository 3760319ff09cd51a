/**
 * Signal-on-write into a FIFO that is not drained (001 §3.1.2, §3.3). Two roles:
 *
 *   mbm_overflow N
 *     the receiver: creates a message segment of 32-byte lines, binds it read-only at
 *     0x20000000 with a handler on it, starts a gated writer child and blocks in
 *     wait() for it, so it drains nothing while the writer completes N lines. Once
 *     wait() returns (handlers run on its return), it starts a second writer for 4
 *     more lines and handles those in SigWait, then reports.
 *
 *   mbm_overflow --write SEGMENT FROM COUNT GATED
 *     binds SEGMENT at 0x50000000 and completes lines FROM…FROM+COUNT-1 (every word
 *     of line i holds i+1). When GATED is 1 it first reports {gate: pid} and waits
 *     for a SIGHUP (sent by the test once the receiver is blocked in wait()).
 */

import {
  bind,
  CreateSegment,
  getpid,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
  Sig,
  signalCounters,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  wait,
} from "../../userland/lib/mod.ts";
import { report, signalGate } from "./report.ts";

const DEADLINE_MS = 10_000;

function writer(segment: number, from: number, count: number, gated: boolean): number {
  const base = bind(segment, 0x5000_0000);
  if (gated) {
    const go = signalGate(Sig.SIGHUP, DEADLINE_MS);
    report({ gate: getpid() });
    go();
  }
  for (let i = from; i < from + count; i++) {
    for (let w = 0; w < 8; w++) store32(base + 32 * i + 4 * w, i + 1);
  }
  report({ wrote: count, from });
  return 0;
}

function receiver(n: number): number {
  const size = 2 * PAGE_SIZE;
  const segment = CreateSegment(size, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  const base = bind(segment, 0x2000_0000, Rights.READ);
  const got: number[] = [];
  SignalHandler(base, size, (addr: number) => got.push(addr));
  const share = [{ segment, rights: Rights.READ | Rights.WRITE }];
  const first = spawn(import.meta.url, ["--write", segment, 0, n, 1].map(String), { share });
  report({ ready: true, base, writer: first });
  const waited = wait(first); // blocks: nothing is drained until it returns
  const handledOnReturn = got.length;
  const overflowed = signalCounters();
  const second = spawn(import.meta.url, ["--write", segment, n, 4, 0].map(String), { share });
  const end = performance.now() + DEADLINE_MS;
  while (got.length < handledOnReturn + 4 && performance.now() < end) SigWait(1_000);
  const waited2 = wait(second);
  report({ base, got, handledOnReturn, overflowed, after: signalCounters(), waited, waited2 });
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "--write") {
    const [segment, from, count, gated] = args.slice(1).map(Number);
    return writer(segment, from, count, gated === 1);
  }
  return receiver(Number(args[0]));
}
