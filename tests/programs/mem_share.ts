/**
 * One segment, two processes, two virtual addresses. The parent binds a segment at
 * args[0] and shares it with a child that binds it at args[1]; each stores at its own
 * address and waits (polling loads with a deadline) to see the other's store at its
 * own address. The child also takes a Signal on the shared location, delivered at its
 * own (translated) address.
 *
 * Offsets in the segment: 0x010 parent's first word (before spawn), 0x1020 (page 1)
 * the child's word, 0x030 the parent's answer, 0x040 the child's "handler ready",
 * 0x044 the signalled word, 0x048 the test's "let go" (with args[2] "hold").
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

const DEADLINE_MS = 10_000;

/** Polls `cond` until it holds or the deadline passes; returns whether it held. */
function poll(cond: () => boolean): boolean {
  const end = performance.now() + DEADLINE_MS;
  while (!cond()) if (performance.now() > end) return false;
  return true;
}

function parent(at: number, childAt: number, hold: boolean): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const a = bind(seg, at);
  store32(a + 0x10, 0x11223344);
  const pid = spawn(import.meta.url, ["child", String(seg), String(childAt), hold ? "hold" : ""], {
    share: [{ segment: seg, rights: Rights.READ | Rights.WRITE }],
  });
  const sawChild = poll(() => load32(a + 0x1020) === 0xcafebabe);
  store32(a + 0x30, 0x5eed);
  const handlerReady = poll(() => load32(a + 0x40) === 1);
  store32(a + 0x44, 77);
  const delivered = Signal(a + 0x44);
  const st = wait(pid, DEADLINE_MS);
  report({
    who: "parent",
    seg,
    at: a,
    sawChild,
    childWord: load32(a + 0x1020),
    handlerReady,
    delivered,
    childStatus: st.status,
  });
  return 0;
}

function child(seg: number, at: number, hold: boolean): number {
  const b = bind(seg, at);
  const initial = load32(b + 0x10);
  store32(b + 0x1020, 0xcafebabe);
  const sawParent = poll(() => load32(b + 0x30) === 0x5eed);
  let signalled = -1;
  SignalHandler(b, 2 * PAGE_SIZE, (va: number) => {
    signalled = va;
  });
  store32(b + 0x40, 1);
  const end = performance.now() + DEADLINE_MS;
  while (signalled < 0 && performance.now() < end) SigWait(end - performance.now());
  report({
    who: "child",
    at: b,
    initial,
    sawParent,
    signalled,
    signalledWord: signalled < 0 ? -1 : load32(signalled),
  });
  // With "hold", stay bound until the test (which inspects the page tables) sets 0x048.
  if (hold) poll(() => load32(b + 0x48) === 1);
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "child") return child(Number(args[1]), Number(args[2]), args[3] === "hold");
  return parent(Number(args[0]), Number(args[1]), args[2] === "hold");
}
