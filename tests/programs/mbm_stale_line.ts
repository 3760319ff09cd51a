/**
 * Repro: a line left open in the MMU's line buffer when its segment is unbound is
 * later written into whatever is bound at that address.
 *
 *   mbm_stale_line rebind   7 words into message segment A's line 0, unbind A, bind
 *                           message segment B at the same address, store B's last word
 *                           of line 0: B's line 0 as a reader of B sees it
 *   mbm_stale_line normal   same, but a NORMAL segment is bound there afterwards and
 *                           8 other message lines are then opened (evicting the stale
 *                           line): the NORMAL segment's first 32 bytes as seen after
 */

import {
  bind,
  CreateSegment,
  load32,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
  store32,
  unbind,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const AT = 0x1000_0000;

export default function main(args: string[]): number {
  const a = CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  bind(a, AT);
  for (let w = 0; w < 7; w++) store32(AT + 4 * w, 0xaaaa_0000 + w);
  unbind(AT);
  const words = (va: number) => Array.from({ length: 8 }, (_, w) => load32(va + 4 * w));
  if (args[0] === "rebind") {
    const b = CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
    bind(b, AT);
    const other = bind(b, 0, Rights.READ); // a second view of B, as a reader would see it
    store32(AT + 28, 0xbbbb_0007);
    report({ seenThroughOther: words(other) });
  } else {
    const n = CreateSegment(PAGE_SIZE);
    bind(n, AT);
    store32(AT + 64, 5); // present and writable
    const m = bind(CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE));
    for (let i = 0; i < 8; i++) store32(m + 32 * i, 1); // open 8 lines: evicts the stale one
    report({ normal: words(AT) });
  }
  return 0;
}
