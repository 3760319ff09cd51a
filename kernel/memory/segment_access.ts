/**
 * The kernel's loads and stores on a segment, for remote accesses served at the
 * owner and data deposited at the issuer. Aligned 32-bit words move with atomics, so
 * a process's aligned 32-bit access is never torn by a remote one (000 §3.1.2); pages
 * not yet present are supplied by the segment's pager first.
 */

import { Access, PAGE_SHIFT } from "../abi/layout.ts";
import { Errno } from "../abi/errors.ts";
import { fail, KernelError } from "../panic.ts";
import type { PageOutcome, PageWaiter, Segment } from "./segment.ts";

/** `seg.fault`, with a page that can get no frame (ENOMEM) as "failed". */
function faultPage(seg: Segment, page: number, access?: number, waiter?: PageWaiter): PageOutcome {
  try {
    return seg.fault(page, access, waiter);
  } catch (e) {
    if (e instanceof KernelError) return "failed";
    throw e;
  }
}

/**
 * Supplies every page of [offset, offset+count); false if the pager refuses one or
 * an external pager must be waited for (the request goes out: a retry may succeed).
 */
export function supplyRange(seg: Segment, offset: number, count: number): boolean {
  if (count === 0) return true;
  const last = (offset + count - 1) >>> PAGE_SHIFT;
  for (let p = offset >>> PAGE_SHIFT; p <= last; p++) {
    const o = faultPage(seg, p);
    if (o === "failed" || o === "waiting") return false;
  }
  return true;
}

/**
 * A kernel copy met pages its segment's pager must supply first (their requests are
 * out): the trap entry waits for them and serves the trap again from the start, as
 * a Unix kernel retries a copy after faulting its pages in. Outside a trap it is an
 * ordinary EIO.
 */
export class PageWanted extends KernelError {
  readonly segment: Segment;
  readonly offset: number;
  readonly count: number;
  readonly access: number;
  constructor(seg: Segment, offset: number, count: number, access: number, what: string) {
    super("EIO", `${what}: segment ${seg.id} must be paged in first`);
    this.segment = seg;
    this.offset = offset;
    this.count = count;
    this.access = access;
  }
}

/**
 * Supplies every page of [offset, offset+count) for a kernel copy: throws PageWanted
 * when a pager must be waited for, EIO when one cannot be supplied.
 */
export function requireRange(
  seg: Segment,
  offset: number,
  count: number,
  access: number,
  what: string,
): void {
  if (count === 0) return;
  const last = (offset + count - 1) >>> PAGE_SHIFT;
  let wanted = false;
  for (let p = offset >>> PAGE_SHIFT; p <= last; p++) {
    const o = faultPage(seg, p, access === Access.WRITE ? Access.WRITE : Access.READ);
    if (o === "failed") {
      fail("EIO", `${what}: page ${p} of segment ${seg.id} could not be paged in`);
    }
    if (o === "waiting") wanted = true;
  }
  if (wanted) throw new PageWanted(seg, offset, count, access, what);
}

/**
 * Supplies every page of [offset, offset+count) for `access`, waiting for an external
 * pager where it must: true if all are there now; otherwise `done` is called once,
 * with 0 when every page has come or with the first failure's errno and reason.
 */
export function supplyRangeThen(
  seg: Segment,
  offset: number,
  count: number,
  access: number,
  done: PageWaiter,
): boolean {
  if (count === 0) return true;
  let waiting = 0, ended = false, scanned = false;
  const one: PageWaiter = (errno, reason) => {
    if (ended) return;
    if (errno !== 0 || (--waiting === 0 && scanned)) {
      ended = true;
      done(errno, reason);
    }
  };
  const last = (offset + count - 1) >>> PAGE_SHIFT;
  for (let p = offset >>> PAGE_SHIFT; p <= last && !ended; p++) {
    waiting++;
    const o = faultPage(seg, p, access, one);
    if (o === "failed") {
      one(Errno.EIO, `page ${p} of segment ${seg.id} could not be supplied`);
    } else if (o !== "waiting") waiting--;
  }
  scanned = true;
  if (ended) return false;
  if (waiting === 0) return true;
  return false;
}

/**
 * Notes that the kernel stored into [offset, offset+count) of a paged segment, so
 * an eviction pages it out even though no process's dirty bit is set.
 */
export function kernelStored(seg: Segment, offset: number, count: number): void {
  const kd = seg.kernelDirty;
  if (kd === null || count === 0) return;
  const last = (offset + count - 1) >>> PAGE_SHIFT;
  for (let p = offset >>> PAGE_SHIFT; p <= last; p++) kd[p] = 1;
}

/** Copies `bytes` into the segment at `offset` (bounds already checked). */
export function storeBytes(seg: Segment, offset: number, bytes: Uint8Array): void {
  kernelStored(seg, offset, bytes.length);
  const u8 = seg.bytes, i32 = seg.words, b = bytes;
  let i = 0;
  while (i < b.length) {
    const at = offset + i;
    if ((at & 3) === 0 && i + 4 <= b.length) {
      Atomics.store(i32, at >> 2, b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
      i += 4;
    } else {
      u8[at] = bytes[i++];
    }
  }
}

/** Copies `count` bytes out of the segment at `offset` into a new array. */
export function loadBytes(seg: Segment, offset: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const dst = new DataView(out.buffer);
  const u8 = seg.bytes, i32 = seg.words;
  let i = 0;
  while (i < count) {
    const at = offset + i;
    if ((at & 3) === 0 && i + 4 <= count) {
      dst.setInt32(i, Atomics.load(i32, at >> 2), true);
      i += 4;
    } else {
      out[i] = u8[at];
      i++;
    }
  }
  return out;
}
