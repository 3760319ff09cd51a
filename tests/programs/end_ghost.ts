/**
 * A killed child must change nothing anyone can see (issue 11, hole 3). The parent
 * shares a one-page segment with a child, lets it get going, kills it with SIGKILL,
 * and then watches the segment: a child that is still running after `kill` (Deno's
 * `worker.terminate()` does not stop a busy worker) would keep writing it.
 *
 *   end_ghost parent MODE   MODE is how the child spends its life:
 *     store    stores a rising counter at 0x0 through the MMU, forever
 *     wait     blocks in a raw Atomics.wait on 0x4, then stores at 0xC forever
 *     trap     makes null traps forever, counting them at 0x0
 *     view     stores the counter at 0x0 through a raw view (view32), outside the
 *              MMU, for 300 ms of its own clock, then loads through the MMU: the
 *              boundary (README, "The protection boundary")
 *
 * Words: 0x0 the child's counter, 0x4 the parent's "go" (notified after the kill),
 * 0x8 the child's "about to wait", 0xC what a woken child writes.
 */

import {
  bind,
  CreateSegment,
  kill,
  load32,
  nap,
  nullTrap,
  PAGE_SIZE,
  Rights,
  Sig,
  spawn,
  store32,
  view32,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const DEADLINE_MS = 10_000;

function poll(cond: () => boolean): boolean {
  const end = performance.now() + DEADLINE_MS;
  while (!cond()) {
    if (performance.now() > end) return false;
    nap(1);
  }
  return true;
}

function parent(mode: string): number {
  const seg = CreateSegment(PAGE_SIZE);
  const a = bind(seg);
  const pid = spawn(import.meta.url, ["child", mode, String(seg)], {
    share: [{ segment: seg, rights: Rights.READ | Rights.WRITE }],
  });
  const started = poll(() => load32(a) > 0 || load32(a + 8) === 1);
  // Give a waiting child time to be inside Atomics.wait, not just before it.
  if (mode === "wait") nap(20);
  const killedAt = performance.now();
  kill(pid, Sig.SIGKILL);
  const st = wait(pid, DEADLINE_MS);
  // The waiting child is woken as a peer would wake it; a ghost would now run on.
  store32(a + 4, 1);
  Atomics.notify(view32(a + 4, 1), 0);
  // Within 100 ms of the kill the child stops; from then on nothing may change.
  nap(Math.max(0, 100 - (performance.now() - killedAt)));
  const after100 = [load32(a), load32(a + 12)];
  nap(300);
  const after400 = [load32(a), load32(a + 12)];
  nap(300);
  const after700 = [load32(a), load32(a + 12)];
  report({ mode, started, status: st.status, reason: st.reason, after100, after400, after700 });
  return 0;
}

function child(mode: string, seg: number): number {
  const a = bind(seg);
  if (mode === "store") {
    for (let i = 1;; i++) store32(a, i);
  }
  if (mode === "view") {
    const words = view32(a, 1, true);
    const until = performance.now() + 300;
    for (let i = 1; performance.now() < until; i++) Atomics.store(words, 0, i);
    for (;;) load32(a + 8);
  }
  if (mode === "trap") {
    for (let i = 1;; i++) {
      nullTrap();
      store32(a, i);
    }
  }
  const go = view32(a + 4, 1);
  store32(a + 8, 1);
  while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0);
  for (let i = 1;; i++) store32(a + 12, i);
}

export default function main(args: string[]): number {
  if (args[0] === "child") return child(args[1], Number(args[2]));
  return parent(args[1]);
}
