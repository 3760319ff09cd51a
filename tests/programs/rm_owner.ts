/**
 * Remote-memory owner: creates a segment, exports it as args[0] (rights args[1],
 * default all), reports {exported, segment, vaddr} and then serves until killed,
 * reporting each notification it gets as {notified: offset, addr, name}: the offset
 * in the segment and the address its handler was called with.
 *
 *   rm_owner.ts NAME [RIGHTS] [always|never|conditional]
 */
import {
  bind,
  CreateSegment,
  exportSegment,
  NotifyPolicy,
  RIGHTS_ALL,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  store32,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const POLICY: Record<string, number> = {
  always: NotifyPolicy.ALWAYS,
  never: NotifyPolicy.NEVER,
  conditional: NotifyPolicy.CONDITIONAL,
};

export default function main(args: string[]): number {
  const [name, rights, policy] = args;
  const seg = CreateSegment(8192, SegMode.NORMAL, SegUnit.CACHE_LINE, POLICY[policy ?? "never"]);
  const base = bind(seg);
  store32(base + 100, 0x1234);
  SignalHandler(base, 8192, (addr) => report({ notified: addr - base, addr, name }));
  const id = exportSegment(seg, name, rights ? Number(rights) : RIGHTS_ALL);
  report({ exported: id, segment: seg, vaddr: base, name });
  for (;;) SigWait(60_000);
}
