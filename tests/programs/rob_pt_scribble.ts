/**
 * A process that scribbles its page table's directory and then exits.
 *
 *   rob_pt_scribble          the parent: spawns the scribbler, waits for it (5 s at
 *                            most), reports the wait and the node's memory in use
 *   rob_pt_scribble --child  allocates 64 KiB, touches it, reports memory in use,
 *                            fills directory words 0..1023 with garbage, returns 0
 */

import { PT_ENTRIES } from "../../kernel/abi/layout.ts";
import { allocate, info, spawn, store32, wait } from "../../userland/lib/mod.ts";
import { rt } from "../../userland/lib/rt/runtime.ts";
import { attempt, report } from "./report.ts";

function child(): number {
  const at = allocate(64 * 1024);
  for (let off = 0; off < 64 * 1024; off += 4096) store32(at + off, off + 1);
  report({ child: rt().pid, at, used: info("stats").memoryUsed });
  const pt = rt().pageTable;
  for (let i = 0; i < PT_ENTRIES; i++) pt[i] = 100_000 + i * 7919;
  return 0;
}

function parent(): number {
  const before = info("stats").memoryUsed;
  const pid = spawn(import.meta.url, ["--child"]);
  const waited = attempt(() => wait(pid, 5000));
  const after = info("stats").memoryUsed;
  report({ pid, before, waited, after });
  return 0;
}

export default function main(args: string[]): number {
  return args[0] === "--child" ? child() : parent();
}
