/**
 * The swap tests' program (tests/swap_test.ts): anonymous memory under pressure.
 *
 *   swap_probe pinned PAGES PIN     pin the first PIN of PAGES pages, fill them all twice;
 *                                   report, then wait to be killed (the test looks at
 *                                   the kernel's pages while it lives)
 *   swap_probe optin PAGES ON       fill PAGES pages after setSwap(segment, ON === "1")
 *                                   and read them back; report (or the error it met)
 *   swap_probe stall                become the swap pager and take nothing (its page-outs
 *                                   pile up in the kernel), until killed
 *   swap_probe source               export "swap-src" (2 KiB, 0x5eed at +4) and wait
 *   swap_probe remote PAGES         fill PAGES pages, then READ "swap-src" into the second
 *                                   half of each page in turn (a deposit into a page
 *                                   that may be swapped out) and check both halves
 */

import {
  allocate,
  awaitRemote,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  load32,
  PAGE_SIZE,
  pin,
  READ,
  remoteCounters,
  setSwap,
  SigWait,
  store32,
  swapAttach,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

function fill(base: number, pages: number, salt: number): void {
  for (let p = 0; p < pages; p++) store32(base + p * PAGE_SIZE, p * 1000 + salt);
}

/** The first page that does not hold what `fill` wrote, or -1. */
function check(base: number, pages: number, salt: number): number {
  for (let p = 0; p < pages; p++) if (load32(base + p * PAGE_SIZE) !== p * 1000 + salt) return p;
  return -1;
}

export default function main(args: string[]): number {
  const [mode, a, b] = args;
  const pages = Number(a);
  if (mode === "pinned") {
    const base = allocate(pages * PAGE_SIZE);
    pin(base, Number(b) * PAGE_SIZE);
    fill(base, pages, 1);
    const first = check(base, pages, 1);
    fill(base, pages, 2);
    report({ bad: first, bad2: check(base, pages, 2) });
    for (;;) SigWait(60_000);
  }
  if (mode === "optin") {
    const seg = CreateSegment(pages * PAGE_SIZE);
    const set = attempt(() => setSwap(seg, b === "1") ?? "ok");
    const base = bind(seg);
    const filled = attempt(() => fill(base, pages, 3) ?? "ok");
    report({ set, filled, bad: filled === "ok" ? check(base, pages, 3) : null });
    return 0;
  }
  if (mode === "stall") {
    swapAttach();
    for (;;) SigWait(60_000);
  }
  if (mode === "source") {
    const seg = CreateSegment(2048);
    store32(bind(seg) + 4, 0x5eed);
    exportSegment(seg, "swap-src");
    report({ exported: true });
    for (;;) SigWait(60_000);
  }
  if (mode === "remote") {
    const seg = CreateSegment(pages * PAGE_SIZE);
    const base = bind(seg);
    fill(base, pages, 4);
    const { desc } = importSegment("swap-src");
    let bad = -1;
    for (let p = 0; p < pages && bad < 0; p++) {
      const before = remoteCounters();
      READ(desc, 0, 2048, seg, p * PAGE_SIZE + 2048);
      awaitRemote(before);
      if (load32(base + p * PAGE_SIZE + 2048 + 4) !== 0x5eed) bad = p;
    }
    report({ bad, again: check(base, pages, 4) });
    return 0;
  }
  throw new Error(`swap_probe: unknown mode ${mode}`);
}
