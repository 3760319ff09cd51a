/**
 * API misuse caught by the runtime and by the kernel alike: each case reports
 * {name, code, errno} of the SysError it threw, or {name, other} naming any other
 * error. Then the fault counters: two first touches (page faults) and one handled
 * protection fault, as info("self"), info("ps") and info("stats") report them.
 */

import {
  allocate,
  bind,
  CreateSegment,
  getpid,
  info,
  load32,
  onFault,
  PAGE_SIZE,
  protect,
  QueueReceiver,
  RawChannel,
  Rights,
  SegMode,
  SegUnit,
  spawn,
  startOn,
  store32,
  SysError,
  view,
  view32,
  WRITE,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

function attempt(name: string, fn: () => unknown): void {
  try {
    fn();
    report({ name, returned: true });
  } catch (e) {
    if (e instanceof SysError) report({ name, code: e.code, errno: e.errno });
    else report({ name, other: `${(e as Error).name}: ${(e as Error).message}` });
  }
}

function misuse(): void {
  const at = allocate(2 * PAGE_SIZE);
  // The runtime's checks.
  attempt("write41", () => WRITE(1, 0, new Uint8Array(41)));
  attempt("spawnLong", () => spawn("hello", ["x".repeat(4000)]));
  attempt("startOnLong", () => startOn(0, "hello", ["x".repeat(5000)]));
  attempt("viewZero", () => view(at, 0));
  attempt("view32Unaligned", () => view32(at + 2, 1));
  attempt("queueSlots", () => new QueueReceiver("q", 1, 64));
  const chan = bind(CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE));
  attempt("rawRecords", () => new RawChannel(chan, PAGE_SIZE, 33));
  attempt("rawTooLong", () => new RawChannel(chan, PAGE_SIZE).send(new Uint8Array(25)));
  // The kernel's checks, for comparison: the same error type.
  attempt("bindBadRights", () => bind(CreateSegment(PAGE_SIZE), 0, Rights.WRITE));
  attempt("protectBadRights", () => protect(at, PAGE_SIZE, 7));
}

function counters(): void {
  const at = allocate(2 * PAGE_SIZE);
  const before = info("self");
  store32(at, 1); // page fault
  store32(at + PAGE_SIZE, 2); // page fault
  protect(at, PAGE_SIZE, Rights.READ);
  onFault(() => protect(at, PAGE_SIZE, Rights.READ | Rights.WRITE));
  store32(at, 3); // a protection fault, repaired by the handler
  const after = info("self");
  const row = info("ps").find((p: any) => p.pid === getpid());
  report({
    counters: true,
    value: load32(at),
    pagefaults: after.pagefaults - before.pagefaults,
    protfaults: after.protfaults - before.protfaults,
    selfKeys: Object.keys(after),
    psRow: row,
    stats: info("stats"),
  });
}

export default function main(): number {
  misuse();
  counters();
  return 0;
}
