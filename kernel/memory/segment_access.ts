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

/**
 * Copies `bytes` into the segment at `offset` (bounds already checked), in address
 * order: aligned words with plain Int32 stores (tear-free), the last one with an
 * Atomics store, so a process that reads the last word atomically sees every byte
 * before it (the publication an endpoint's flag after its message relies on). A
 * word at a time with Atomics cost 10 µs a page; this costs 0.5.
 */
export function storeBytes(seg: Segment, offset: number, bytes: Uint8Array): void {
  kernelStored(seg, offset, bytes.length);
  const n = bytes.length;
  if (n === 0) return;
  const u8 = seg.bytes, i32 = seg.words, b = bytes;
  let i = 0;
  // Bytes up to the first aligned word, then whole words, then the tail's bytes.
  for (; i < n && ((offset + i) & 3) !== 0; i++) u8[offset + i] = b[i];
  const words = (n - i) >> 2;
  if (words > 0) {
    const base = (offset + i) >> 2;
    const last = words - 1;
    if ((b.byteOffset + i) % 4 === 0) {
      const src = new Int32Array(b.buffer, b.byteOffset + i, words);
      for (let w = 0; w < last; w++) i32[base + w] = src[w];
    } else {
      for (let w = 0, j = i; w < last; w++, j += 4) {
        i32[base + w] = b[j] | (b[j + 1] << 8) | (b[j + 2] << 16) | (b[j + 3] << 24);
      }
    }
    const j = i + 4 * last;
    Atomics.store(i32, base + last, b[j] | (b[j + 1] << 8) | (b[j + 2] << 16) | (b[j + 3] << 24));
    i += 4 * words;
  }
  for (; i < n; i++) u8[offset + i] = b[i];
}

/**
 * Copies `count` bytes out of the segment at `offset` into a new array: aligned
 * words with plain (tear-free) Int32 loads after an Atomics fence.
 */
export function loadBytes(seg: Segment, offset: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const u8 = seg.bytes, i32 = seg.words;
  Atomics.load(i32, offset >> 2); // acquire: what was published before is seen
  let i = 0;
  for (; i < count && ((offset + i) & 3) !== 0; i++) out[i] = u8[offset + i];
  const words = (count - i) >> 2;
  if (words > 0) {
    const base = (offset + i) >> 2;
    if (i === 0) {
      const dst = new Int32Array(out.buffer, 0, words);
      for (let w = 0; w < words; w++) dst[w] = i32[base + w];
    } else {
      const dv = new DataView(out.buffer);
      for (let w = 0; w < words; w++) dv.setInt32(i + 4 * w, i32[base + w], true);
    }
    i += 4 * words;
  }
  for (; i < count; i++) out[i] = u8[offset + i];
  return out;
}
