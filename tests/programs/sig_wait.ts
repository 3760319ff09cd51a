/**
 * SigWait(timeout) (001 §3.1.1): "Delay a process until a signal arrives or until the
 * requested time interval has passed. The amount of time remaining is returned."
 *
 *   sig_wait timeout MS   nothing arrives: SigWait(MS) and SigWait(0) both give 0
 *   sig_wait early MS     a child signals once the test has seen this process block
 *                         in SigWait (the flag word goes 0 → 1 here, 1 → GO by the test)
 *   sig_wait --poke SEG   (the child) waits for the flag word to be GO, signals word 8
 */

import {
  bind,
  CreateSegment,
  load32,
  PAGE_SIZE,
  Rights,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

/** The flag word's offset in the segment (the test finds the segment by its creator). */
const FLAG = 128;
/** The flag's value once the test has seen the parent blocked in SigWait. */
const GO = 2;

function timeout(ms: number): number {
  const t0 = performance.now();
  const r = SigWait(ms);
  const el = performance.now() - t0;
  const t1 = performance.now();
  const r0 = SigWait(0);
  const el0 = performance.now() - t1;
  report({ r, el, r0, el0 });
  return 0;
}

function early(ms: number): number {
  const segment = CreateSegment(PAGE_SIZE);
  const base = bind(segment, 0x1000_0000);
  store32(base + FLAG, 0); // fault the page in and dirty it: later stores do not trap
  const got: number[] = [];
  SignalHandler(base, 64, (addr: number) => got.push(addr));
  const child = spawn(import.meta.url, ["--poke", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  // No trap between raising the flag and SigWait, so the child's signal cannot be
  // handled anywhere but inside SigWait.
  store32(base + FLAG, 1);
  const t0 = performance.now();
  const r = SigWait(ms);
  const el = performance.now() - t0;
  const gotInWait = [...got];
  const c = wait(child);
  report({ base, r, el, got: gotInWait, child: c });
  return 0;
}

function poke(segment: number): number {
  const base = bind(segment, 0x2000_0000);
  while (load32(base + FLAG) !== GO) { /* the test has not yet seen the parent block */ }
  Signal(base + 8);
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "--poke") return poke(Number(args[1]));
  if (args[0] === "early") return early(Number(args[1]));
  return timeout(Number(args[1] ?? 100));
}
