/**
 * Provokes every error the memory system calls return and reports the codes (or the
 * result, for the calls that should succeed) as one RESULT per process.
 *
 * Modes (args[0]):
 *   main <memoryBytes>  the parent: most cases; spawns a "child" for the rights cases
 *   child <foreign> <ro> <kept>  holds nothing of <foreign>, READ of <ro>, all of <kept>
 *   no-room             fills the address space so a kernel-chosen bind finds no room
 *   rounding            node memory that is not a whole number of pages
 */

import {
  Access,
  bind,
  CreateSegment,
  getpid,
  grant,
  info,
  kill,
  load32,
  onFault,
  PAGE_SIZE,
  protect,
  release,
  Rights,
  Sig,
  spawn,
  store32,
  Sys,
  trap,
  unbind,
  wait,
} from "../../userland/lib/mod.ts";
import { MAX_SEGMENT_BYTES } from "../../kernel/abi/layout.ts";
import { attempt as attemptRaw, report } from "./report.ts";

/** Like `attempt`, with "ok" for a call that returns nothing. */
function attempt<T>(fn: () => T): T | string {
  const v = attemptRaw(fn);
  return v === undefined ? "ok" : v;
}

const RW = Rights.READ | Rights.WRITE;
const BASE = 0x2000_0000;
const DEADLINE_MS = 10_000;

function poll(cond: () => boolean): boolean {
  const end = performance.now() + DEADLINE_MS;
  while (!cond()) if (performance.now() > end) return false;
  return true;
}

function parent(memoryBytes: number): number {
  const r: Record<string, unknown> = {};
  const s = CreateSegment(2 * PAGE_SIZE);
  const t = CreateSegment(2 * PAGE_SIZE);

  // CreateSegment
  r.createSize0 = attempt(() => CreateSegment(0));
  r.createNegative = attempt(() => CreateSegment(-PAGE_SIZE));
  r.createTooBig = attempt(() => CreateSegment(MAX_SEGMENT_BYTES + 1));
  r.createBadMode = attempt(() => CreateSegment(PAGE_SIZE, 7));
  r.createBadUnit = attempt(() => CreateSegment(PAGE_SIZE, 0, 9));
  r.createBadPolicy = attempt(() => CreateSegment(PAGE_SIZE, 0, 0, 5));
  const used = info("stats").memoryUsed;
  const room = memoryBytes - used;
  r.room = room;
  r.createBeyondNode = attempt(() => CreateSegment(room + PAGE_SIZE));
  const fill = attempt(() => CreateSegment(room));
  r.createExactFit = typeof fill === "number" ? "ok" : fill;
  r.createWhenFull = attempt(() => CreateSegment(1));
  if (typeof fill === "number") release(fill);
  const after = attempt(() => CreateSegment(1));
  r.createAfterRelease = typeof after === "number" ? "ok" : after;
  if (typeof after === "number") release(after);

  // bind
  r.bindNeverIssued = attempt(() => bind(9999, BASE));
  r.bindMisaligned = attempt(() => bind(s, BASE + 0x10));
  r.bindSignalRegion = attempt(() => bind(s, 0xffff_0000));
  r.bindPastTop = attempt(() => bind(s, 0xfffe_f000));
  r.bindNoRead = attempt(() => bind(s, BASE, Rights.WRITE));
  r.bindNoRights = attempt(() => bind(s, BASE, 0));
  r.bindBadRights = attempt(() => bind(s, BASE, 8));
  r.bindOk = attempt(() => bind(s, BASE));
  r.bindSameAddress = attempt(() => bind(t, BASE));
  r.bindOverlapAbove = attempt(() => bind(t, BASE + PAGE_SIZE));
  r.bindOverlapBelow = attempt(() => bind(t, BASE - PAGE_SIZE));
  r.bindAdjacent = attempt(() => bind(t, BASE + 2 * PAGE_SIZE));

  // unbind
  r.unbindMiddle = attempt(() => unbind(BASE + PAGE_SIZE));
  r.unbindInsideFirstPage = attempt(() => unbind(BASE + 4));
  r.unbindNothing = attempt(() => unbind(0x7000_0000));
  r.unbindOk = attempt(() => unbind(BASE + 2 * PAGE_SIZE));
  r.unbindTwice = attempt(() => unbind(BASE + 2 * PAGE_SIZE));

  // protect
  r.protectBeyond = attempt(() => protect(BASE, 3 * PAGE_SIZE, Rights.READ));
  r.protectStraddlingEnd = attempt(() => protect(BASE + PAGE_SIZE, 2 * PAGE_SIZE, Rights.READ));
  r.protectMisaligned = attempt(() => protect(BASE + 4, PAGE_SIZE, Rights.READ));
  r.protectUnmapped = attempt(() => protect(0x7000_0000, PAGE_SIZE, Rights.READ));
  r.protectWriteOnly = attempt(() => protect(BASE, PAGE_SIZE, Rights.WRITE));
  r.protectCas = attempt(() => protect(BASE, PAGE_SIZE, Rights.READ | Rights.WRITE | Rights.CAS));
  r.protectZeroLength = attempt(() => protect(BASE, 0, Rights.READ));
  r.protectOk = attempt(() => protect(BASE, 2 * PAGE_SIZE, Rights.READ));

  // grant
  r.grantNoProcess = attempt(() => grant(s, 9999));
  r.grantPidZero = attempt(() => grant(s, 0));
  r.grantNeverIssued = attempt(() => grant(9999, getpid()));

  // release
  r.releaseNeverIssued = attempt(() => release(9999));
  const once = CreateSegment(PAGE_SIZE);
  r.releaseFirst = attempt(() => release(once));
  r.releaseTwice = attempt(() => release(once));

  // The MMU's page-fault trap.
  r.pageFaultBadAccess = attempt(() => trap(Sys.page_fault, BASE, 3));
  r.pageFaultMapped = attempt(() => trap(Sys.page_fault, BASE, Access.READ));
  onFault(() => {});
  r.pageFaultUnmapped = attempt(() => trap(Sys.page_fault, 0x7000_0000, Access.READ));

  // Rights held by another process: a child holds READ of `ro` and all of `kept`, and
  // nothing of `foreign`.
  const foreign = CreateSegment(PAGE_SIZE);
  const ro = CreateSegment(PAGE_SIZE);
  const kept = CreateSegment(PAGE_SIZE);
  const keptAt = bind(kept, 0x6000_0000);
  const pid = spawn(import.meta.url, ["child", String(foreign), String(ro), String(kept)], {
    share: [{ segment: ro, rights: Rights.READ }, { segment: kept, rights: RW }],
  });
  r.childReady = poll(() => load32(keptAt) === 1);
  // The child still holds `kept`: the segment outlives our release, and a second
  // release is refused because we no longer hold it.
  r.releaseSharedFirst = attempt(() => release(kept));
  r.releaseSharedTwice = attempt(() => release(kept));
  r.grantAfterRelease = attempt(() => grant(kept, pid));
  kill(pid, Sig.SIGKILL);
  r.childStatus = wait(pid, DEADLINE_MS).status;
  report({ who: "parent", ...r });
  return 0;
}

function child(foreign: number, ro: number, kept: number): number {
  const r: Record<string, unknown> = {};
  r.bindNotHeld = attempt(() => bind(foreign));
  r.releaseNotHeld = attempt(() => release(foreign));
  r.grantNotHeld = attempt(() => grant(foreign, getpid(), Rights.READ));
  r.bindMoreThanHeld = attempt(() => bind(ro, 0, RW));
  r.grantMoreThanHeld = attempt(() => grant(ro, getpid(), RW));
  const roAt = bind(ro, 0, Rights.READ);
  r.bindReadOnly = roAt > 0 ? "ok" : roAt;
  r.protectUp = attempt(() => protect(roAt, PAGE_SIZE, RW));
  r.protectDown = attempt(() => protect(roAt, PAGE_SIZE, Rights.READ));
  const keptAt = bind(kept);
  report({ who: "child", ...r });
  store32(keptAt, 1);
  // Wait to be killed (the deadline only bounds a broken test).
  poll(() => false);
  return 0;
}

function noRoom(): number {
  // 14 bindings of one 256 MiB segment cover [USER_AUTO_BASE, 0xf000_0000); what is left
  // below the signal region is 64 KiB short of another (and so is what lies below).
  const big = CreateSegment(MAX_SEGMENT_BYTES);
  const bound: number[] = [];
  for (let i = 0; i < 14; i++) bound.push(bind(big, 0x1000_0000 + i * MAX_SEGMENT_BYTES));
  const small = CreateSegment(PAGE_SIZE);
  report({
    bound: bound.length,
    autoNoRoom: attempt(() => bind(big)),
    // A small one still fits in the gap, and below USER_AUTO_BASE by address.
    autoSmall: attempt(() => bind(small)),
    fixedLow: attempt(() => bind(small, 0x1000)),
  });
  return 0;
}

function rounding(): number {
  // Segments occupy whole pages: with 1.5 pages of node memory, a one-page segment
  // leaves no room for even one byte more.
  report({
    first: attempt(() => CreateSegment(PAGE_SIZE)) === 1 ? "ok" : "unexpected id",
    oneByteMore: attempt(() => CreateSegment(1)),
    memoryUsed: info("stats").memoryUsed,
  });
  return 0;
}

export default function main(args: string[]): number {
  switch (args[0]) {
    case "rounding":
      return rounding();
    case "child":
      return child(Number(args[1]), Number(args[2]), Number(args[3]));
    case "no-room":
      return noRoom();
    default:
      return parent(Number(args[1]));
  }
}
