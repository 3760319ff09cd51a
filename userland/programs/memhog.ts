/**
 * memhog: a program that needs more memory than its node may have. It fills MIB
 * mebibytes of anonymous memory (in segments of at most 64 MiB) with a pattern
 * that depends on every page's address and the pass, sweeps it PASSES times
 * (reading every word it wrote, then rewriting it for the next pass), and prints
 * a checksum and the node's page frames and evictions. Every word is checked: a
 * page that came back wrong ends it with status 1, naming the first.
 *
 *   run memhog MIB [PASSES]          (PASSES 2 by default)
 *
 * With `deno task boot --memory-mib 8 --swap --run userland/programs/memhog.ts 24`
 * it runs to completion on 8 MiB of frames through the swap pager.
 */

import { allocate, info, load32, PAGE_SIZE, println, store32 } from "../lib/mod.ts";

const SEGMENT_MIB = 64;
/** Words written per page: enough to touch it, few enough to keep a sweep about paging. */
const WORDS = 16;

function pattern(page: number, word: number, pass: number): number {
  return Math.imul(page + 1, 0x9e3779b1) ^ Math.imul(word + 1, 0x85ebca6b) ^ pass;
}

/**
 * memhog's run: fills `mib` MiB of fresh anonymous memory and sweeps it `passes`
 * times; returns the checksum of every word read. A word that is not what was
 * written goes to `wrong`, which says whether to stop there (null is returned).
 * The bench's sweeps (tests/bench/programs/paging_swap.ts) time this.
 */
export function hog(
  mib: number,
  passes: number,
  wrong: (page: number, word: number, pass: number, got: number, want: number) => boolean,
): number | null {
  const bases: number[] = [];
  for (let left = mib; left > 0; left -= SEGMENT_MIB) {
    bases.push(allocate(Math.min(left, SEGMENT_MIB) * 1024 * 1024));
  }
  const pages = mib * (1024 * 1024 / PAGE_SIZE);
  const perSegment = SEGMENT_MIB * (1024 * 1024 / PAGE_SIZE);
  const addr = (page: number, word: number) =>
    bases[Math.floor(page / perSegment)] + (page % perSegment) * PAGE_SIZE + word * 64;
  for (let p = 0; p < pages; p++) {
    for (let w = 0; w < WORDS; w++) store32(addr(p, w), pattern(p, w, 0));
  }
  let sum = 0;
  for (let pass = 0; pass < passes; pass++) {
    for (let p = 0; p < pages; p++) {
      for (let w = 0; w < WORDS; w++) {
        const v = load32(addr(p, w)) | 0, want = pattern(p, w, pass);
        if (v !== want && wrong(p, w, pass, v, want)) return null;
        sum = (Math.imul(sum, 31) + v) | 0;
        store32(addr(p, w), pattern(p, w, pass + 1));
      }
    }
  }
  return sum;
}

export default function main(args: string[]): number {
  const mib = Number(args[0] ?? 16), passes = Number(args[1] ?? 2);
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(passes) || passes < 1) {
    println("usage: memhog MIB [PASSES]");
    return 2;
  }
  const sum = hog(mib, passes, (p, w, pass, v, want) => {
    println(`memhog: page ${p} word ${w} pass ${pass}: ${v} where ${want} was written`);
    return true;
  });
  if (sum === null) return 1;
  const s = info("stats");
  println(
    `memhog: ${mib} MiB, ${passes} passes, checksum ${(sum >>> 0).toString(16)}; ` +
      `${s.pageFrames} frames (${(s.pageFrames * PAGE_SIZE) >> 20} MiB), ${s.evictions} evictions`,
  );
  return 0;
}
