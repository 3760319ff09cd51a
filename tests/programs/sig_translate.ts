/**
 * Address translation of signals (001 §3.1, Fig. 2). Binds a 3-page segment at
 * VADDR, starts one sig_receiver per RECEIVER_VADDR (each binds the same segment
 * there), waits until all are ready, then signals a few offsets and reports what
 * each Signal() queued.
 *
 *   sig_translate VADDR RECEIVER_VADDR...
 *
 * Page 0 carries the receivers' handlers, page 1 the sender's own "ready" handler,
 * page 2 no handler at all. A signal at offset 0 tells the receivers to stop (each
 * expects three signals).
 */

import {
  bind,
  CreateSegment,
  PAGE_SIZE,
  Rights,
  Sig,
  Signal,
  signalAddress,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const RECEIVER = new URL("./sig_receiver.ts", import.meta.url).href;

export default function main(args: string[]): number {
  const [at, ...receivers] = args.map(Number);
  const segment = CreateSegment(3 * PAGE_SIZE);
  const base = bind(segment, at);
  const ready: number[] = [];
  SignalHandler(base + PAGE_SIZE, PAGE_SIZE, (addr: number) => ready.push(addr));
  const share = [{ segment, rights: Rights.READ | Rights.WRITE }];
  const pids = receivers.map((r) => spawn(RECEIVER, [String(segment), String(r), "3"], { share }));
  while (ready.length < pids.length) {
    if (SigWait(10_000) === 0) return 2;
  }
  const readyAt = [...ready];
  const queued = {
    a: Signal(base + 0x124),
    b: Signal(base + 0x800),
    self: Signal(base + PAGE_SIZE + 8),
    none: Signal(base + 2 * PAGE_SIZE + 8),
    stop: Signal(base),
  };
  const errors = {
    unmapped: attempt(() => Signal(0x7000_0000)),
    reserved: attempt(() => Signal(signalAddress(Sig.SIGTERM))),
  };
  const selfGot = ready.slice(readyAt.length);
  const children = pids.map((pid) => wait(pid));
  report({ base, readyAt, selfGot, queued, errors, children });
  return 0;
}
