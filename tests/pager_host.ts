// A PagerHost for tests that drive kernel/memory/pager_table.ts alone: a controlled
// clock, a quiet tracer, the given processes, and no remote memory (a located page
// would be an error here).

import { MemoryConsole } from "../kernel/host/console.ts";
import type { PagerHost } from "../kernel/memory/pager_table.ts";
import type { Process } from "../kernel/proc/process.ts";
import { ServiceRegistry } from "../kernel/proc/service_registry.ts";
import { Tracer } from "../kernel/trace.ts";
import { ManualClock } from "./manual_clock.ts";

export function fakePagerHost(
  procs: Map<number, Process>,
  o: { clock?: ManualClock; services?: ServiceRegistry; pagerTimeoutMs?: number } = {},
): PagerHost {
  return {
    clock: o.clock ?? new ManualClock(),
    services: o.services ?? new ServiceRegistry(),
    tracer: new Tracer(new MemoryConsole(), 0, new Set()),
    config: { pagerTimeoutMs: o.pagerTimeoutMs ?? 100 },
    procs: { get: (pid) => procs.get(pid) },
    remote: {
      issue: () => {
        throw new Error("no remote memory in this test");
      },
    },
    nodeDown: () => false,
  };
}
