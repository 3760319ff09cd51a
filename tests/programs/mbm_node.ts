/**
 * One end of a message segment bound on two nodes (001 §3.2.3). The segment's lower
 * half carries lines the owner writes ("down"), its upper half lines the member
 * writes ("up"); each end handles signals on the other's half only, recording the
 * address and the line's 8 words as read in the handler.
 *
 *   mbm_node owner NAME VADDR PAGES COUNT
 *       creates a MESSAGE segment of PAGES pages with 32-byte lines, binds it at
 *       VADDR, exports it as NAME (and a NORMAL segment as NAME-normal)
 *   mbm_node member NAME VADDR COUNT [all]
 *       imports NAME from node 0, attaches it (a replica here) and binds it at VADDR;
 *       with "all" it handles signals on the whole segment (a third node that only
 *       listens)
 *
 * Both report {role, node, ready, …} and then obey the test, which sends Unix signals:
 *   SIGHUP   first: write COUNT lines of its half, all but the last word of the last
 *            line, and report {partial}; second: that word, and report {wrote}
 *   SIGINT   report {got, units} and exit
 *
 * Every word of line i written from node n holds ((n + 1) << 28 | i) + 1.
 */

import {
  attach,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  load32,
  nodeId,
  PAGE_SIZE,
  SegMode,
  SegUnit,
  Sig,
  signalAddress,
  signalCounters,
  SignalHandler,
  SigWait,
  store32,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const LINE = 32;
const DEADLINE_MS = 30_000;

export default function main(args: string[]): number {
  const [role, name] = args;
  const owner = role === "owner";
  const at = Number(args[2]);
  let size: number, segment: number, count: number;
  const ready: Record<string, unknown> = { ready: true };
  if (owner) {
    size = Number(args[3]) * PAGE_SIZE;
    count = Number(args[4]);
    segment = CreateSegment(size, SegMode.MESSAGE, SegUnit.CACHE_LINE);
    ready.exportId = exportSegment(segment, name);
    exportSegment(CreateSegment(PAGE_SIZE), `${name}-normal`);
  } else {
    count = Number(args[3]);
    const imported = importSegment(name, { hint: 0 });
    size = imported.size;
    segment = attach(imported.desc);
  }
  const base = bind(segment, at);
  const half = size / 2;
  const mine = owner ? base : base + half;
  const theirs = owner ? base + half : base;
  const watched = !owner && args[4] === "all" ? size : half;
  const got: number[] = [];
  const units: number[][] = [];
  SignalHandler(theirs, watched, (addr: number) => {
    got.push(addr);
    units.push(Array.from({ length: 8 }, (_, w) => load32(addr + 4 * w)));
  });
  let hups = 0, done = 0, stop = false;
  SignalHandler(signalAddress(Sig.SIGHUP), 4, () => hups++);
  SignalHandler(signalAddress(Sig.SIGINT), 4, () => stop = true);
  const node = nodeId();
  const say = (r: Record<string, unknown>) => report({ role, node, ...r });
  say({ ...ready, segment, base, size });

  const value = (i: number) => (((node + 1) << 28) | i) + 1;
  const end = performance.now() + DEADLINE_MS;
  while (!stop) {
    if (performance.now() > end) return 2;
    SigWait(1_000);
    if (hups > done && done === 0) {
      for (let i = 0; i < count; i++) {
        const words = i === count - 1 ? 7 : 8;
        for (let w = 0; w < words; w++) store32(mine + LINE * i + 4 * w, value(i));
      }
      say({ partial: true });
      done = 1;
    }
    if (hups > done && done === 1) {
      store32(mine + LINE * (count - 1) + 28, value(count - 1));
      say({ wrote: count });
      done = 2;
    }
  }
  say({ base, got, units, counters: signalCounters() });
  return 0;
}
