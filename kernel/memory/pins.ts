/**
 * Pinning (000 §3.1.1): a pinned page stays resident, so remote accesses to it never
 * wait for a pager. Each segment counts pins per page; each process remembers the
 * pins it made, and those it did not undo are released when it exits.
 */

import { PAGE_SHIFT } from "../abi/layout.ts";
import { fail, hex } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import type { Segment } from "./segment.ts";

/**
 * Adds `delta` (+1 or -1) to the pin count of every page of [vaddr, vaddr+len),
 * making them resident; returns how many pages. Fails with EINVAL outside one
 * binding, or when unpinning a page this process did not pin.
 */
export function pinRange(p: Process, vaddr: number, len: number, delta: 1 | -1): number {
  const b = p.space.find(vaddr);
  if (!b || vaddr + len > b.vaddr + b.size) {
    fail("EINVAL", `pin: ${hex(vaddr)}+${len} is not inside one binding`);
  }
  const seg = b.segment;
  const first = (vaddr - b.vaddr) >>> PAGE_SHIFT;
  const last = (vaddr + len - 1 - b.vaddr) >>> PAGE_SHIFT;
  let mine = p.pins.get(seg);
  for (let i = first; i <= last; i++) {
    if (delta < 0 && seg.pins[i] === 0) fail("EINVAL", `unpin: page ${i} is not pinned`);
  }
  for (let i = first; i <= last; i++) {
    if (delta > 0 && seg.fault(i) === "failed") fail("EIO", "page could not be pinned");
  }
  if (!mine) p.pins.set(seg, mine = new Map());
  for (let i = first; i <= last; i++) {
    seg.pins[i] += delta;
    const n = (mine.get(i) ?? 0) + delta;
    if (n === 0) mine.delete(i);
    else mine.set(i, n);
  }
  if (mine.size === 0) p.pins.delete(seg);
  return last - first + 1;
}

/** Releases every pin `p` still holds (it exited). */
export function releasePins(p: Process): void {
  for (const [seg, pages] of p.pins) {
    for (const [page, n] of pages) {
      if (n > 0) seg.pins[page] = Math.max(0, seg.pins[page] - n);
    }
  }
  p.pins.clear();
}

/**
 * The kernel's own pins (a remote READ's deposit while its reply is on the way):
 * adds `delta` to the count of every page of [offset, offset+count) of `seg`.
 */
export function pinPages(seg: Segment, offset: number, count: number, delta: 1 | -1): void {
  if (count === 0) return;
  const last = (offset + count - 1) >>> PAGE_SHIFT;
  for (let i = offset >>> PAGE_SHIFT; i <= last; i++) {
    seg.pins[i] = Math.max(0, seg.pins[i] + delta);
  }
}
