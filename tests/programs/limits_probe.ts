/**
 * Runs into the node's limits (issue 11, hole 9) and reports where it stopped.
 *
 *   limits_probe retain N BYTES   makes, binds, touches and releases N segments one
 *                                 after another (their buffers stay in this worker)
 *   limits_probe descriptors N    opens N descriptors (the heartbeat well-known export)
 *   limits_probe spawn N          starts N children that wait, then kills them
 *   limits_probe child            waits for signals until killed
 */

import {
  bind,
  closeDescriptor,
  CreateSegment,
  importWellKnown,
  info,
  kill,
  release,
  Sig,
  SigWait,
  spawn,
  store32,
  SysError,
  wait,
  WellKnown,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

/** Runs `step(i)` up to n times; returns how many succeeded and the error that stopped it. */
function until(n: number, step: (i: number) => void): { done: number; code: string; why: string } {
  for (let i = 0; i < n; i++) {
    try {
      step(i);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      return { done: i, code: e.code, why: e.message };
    }
  }
  return { done: n, code: "", why: "" };
}

export default function main(args: string[]): number {
  const n = Number(args[1]);
  if (args[0] === "child") {
    for (;;) SigWait(60_000);
  }
  if (args[0] === "retain") {
    const bytes = Number(args[2]);
    report(until(n, () => {
      const seg = CreateSegment(bytes);
      store32(bind(seg), 1);
      release(seg);
    }));
    return 0;
  }
  if (args[0] === "descriptors") {
    const open: number[] = [];
    const r = until(n, () => open.push(importWellKnown(0, WellKnown.HEARTBEAT)));
    const listed = info("descriptors").length;
    closeDescriptor(open.pop()!);
    const again = until(1, () => open.push(importWellKnown(0, WellKnown.HEARTBEAT)));
    report({ ...r, listed, reopened: again.done });
    return 0;
  }
  const kids: number[] = [];
  const r = until(n, () => kids.push(spawn(import.meta.url, ["child"])));
  for (const pid of kids) kill(pid, Sig.SIGKILL);
  for (const pid of kids) wait(pid, 10_000);
  const again = until(1, () => kids.push(spawn(import.meta.url, ["child"])));
  kill(kids[kids.length - 1], Sig.SIGKILL);
  report({ ...r, respawned: again.done });
  return 0;
}
