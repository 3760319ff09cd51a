/**
 * Signal FIFO overflow (001 §3.1.2: a full FIFO drops). Three roles:
 *
 *   sig_overflow                      the receiver: binds a segment at 0x10000000,
 *                                     handles signals on it, starts a sleeper child
 *                                     and blocks in wait() for it (so it drains
 *                                     nothing) until the test kills the sleeper
 *   sig_overflow --sleep              waits for signals that never come
 *   sig_overflow --send SEG VADDR N   binds SEG at VADDR and sends N signals at
 *                                     distinct words, reporting what each queued
 */

import {
  bind,
  CreateSegment,
  getpid,
  info,
  PAGE_SIZE,
  Signal,
  signalCounters,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

function receiver(): number {
  const segment = CreateSegment(PAGE_SIZE);
  const base = bind(segment, 0x1000_0000);
  const got: number[] = [];
  SignalHandler(base, PAGE_SIZE, (addr: number) => got.push(addr));
  const sleeper = spawn(import.meta.url, ["--sleep"]);
  report({ ready: true, segment, base, sleeper });
  const waited = wait(sleeper); // blocks: no safe point until the sleeper dies
  const handledOnReturn = got.length;
  report({
    got,
    handledOnReturn,
    counters: signalCounters(),
    selfDropped: info("self").signalsDropped,
    psDropped: info("ps").find((q: { pid: number }) => q.pid === getpid())?.signalsDropped,
    waited,
  });
  return 0;
}

function sender(segment: number, at: number, n: number): number {
  const base = bind(segment, at);
  const queued: number[] = [];
  for (let i = 0; i < n; i++) queued.push(Signal(base + 4 * i));
  report({ queued });
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "--sleep") {
    for (;;) SigWait(60_000);
  }
  if (args[0] === "--send") return sender(Number(args[1]), Number(args[2]), Number(args[3]));
  return receiver();
}
