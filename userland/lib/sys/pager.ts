/**
 * External pagers (kernel/memory/pager_table.ts; README "Pagers"): a process takes
 * segments to page with `setPager`; every fault on a page not present (or a store to
 * a page it write-protected) waits in the kernel and comes to it as a PAGE_FAULT
 * event; it answers with `supplyPage` (from its own memory), `zeroPage` or
 * `failPage`, or for a write-protect fault `protectForPager(…, false)`. A dirty page
 * the kernel evicts comes as a PAGE_OUT event, and `takePage` fetches its contents.
 * Every call throws SysError on a bad answer (EPERM, EINVAL, ENOENT, EFAULT).
 */

import { EventKind, PAGE_FAULT_HELD, PAGE_FAULT_WP, PagerOp } from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { collectGrants, events, ownPager, trap } from "../rt/trap.ts";
import { SysError } from "../../../kernel/abi/errors.ts";
import { type QueuedEvent, waitEvent } from "./tripwire.ts";

/** A page request (PAGE_FAULT) or a paged-out page (PAGE_OUT), as the pager gets it. */
export interface PageRequest {
  segment: number;
  page: number;
  /** Access.READ or Access.WRITE. */
  access: number;
  /** A store to a page this pager write-protected: answer by unprotecting (or failing). */
  writeProtect: boolean;
  /** A PAGE_OUT: the page was evicted dirty; `takePage` copies its contents. */
  pagedOut: boolean;
  /** A SEGMENT_FREED: the segment is gone (page 0); forget every page of it. */
  freed: boolean;
  /**
   * A PAGE_FAULT for a page the kernel still holds evicted (its PAGE_OUT not yet
   * taken): `takePage` it and answer with that, the newest contents.
   */
  held: boolean;
}

/**
 * Makes this process the pager of segment `id` (a NORMAL segment it holds, with no
 * pager yet: EINVAL, EPERM, EBUSY).
 *
 * @example
 * ```ts
 * import { CreateSegment, nextPageRequest, setPager, zeroPage } from "../lib/mod.ts";
 *
 * export default function main(): number {
 *   const seg = CreateSegment(4 * 4096);
 *   setPager(seg);
 *   // … share seg with a child; then answer what it touches:
 *   for (let r; (r = nextPageRequest(100)) !== null;) zeroPage(r.segment, r.page);
 *   return 0;
 * }
 * ```
 */
export function setPager(id: number): void {
  trap(Sys.set_pager, id);
  if (!events.page) collectGrants();
}

/**
 * Makes this process the pager of its own faults: a fault on a segment it pages
 * itself (setPager) runs `handler` in the faulting thread, with the request, and
 * the access is made again once it returns (as a userfaultfd's SIGBUS mode has the
 * faulting thread resolve its own fault). The handler answers as any pager does
 * (supplyPage, zeroPage, failPage, protectForPager); it must not touch memory this
 * process pages itself. Such faults are never events in its queue. null removes it,
 * and such a fault then ends the process.
 *
 * @example
 * ```ts
 * const seg = CreateSegment(16 * PAGE_SIZE);
 * setPager(seg);
 * const store = allocate(PAGE_SIZE);
 * onPageFault((r) => supplyPage(r.segment, r.page, store));
 * load32(bind(seg)); // answered by the handler above, then read
 * ```
 */
export function onPageFault(handler: ((r: PageRequest) => void) | null): void {
  ownPager.handler = handler && ((segment, info) => handler(faultRequest(segment, info)));
}

/** The request a PAGE_FAULT's segment and info word are. */
function faultRequest(segment: number, info: number): PageRequest {
  return {
    segment,
    page: info >>> 4,
    access: info & 3,
    writeProtect: (info & PAGE_FAULT_WP) !== 0,
    pagedOut: false,
    freed: false,
    held: (info & PAGE_FAULT_HELD) !== 0,
  };
}

/** The page request an event of the queue is, or null for any other event. */
export function pageRequestOf(e: QueuedEvent): PageRequest | null {
  const plain = { access: 0, writeProtect: false, pagedOut: false, freed: false, held: false };
  if (e.kind === EventKind.PAGE_OUT) {
    return { ...plain, segment: e.id, page: e.info, pagedOut: true };
  }
  if (e.kind === EventKind.SEGMENT_FREED) return { ...plain, segment: e.id, page: 0, freed: true };
  return e.kind === EventKind.PAGE_FAULT ? faultRequest(e.id, e.info) : null;
}

/**
 * Waits up to `timeoutMs` for the next page request; null on timeout. Events of
 * other kinds are dropped: a pager that also uses the queue for Tripwires or
 * completions reads it with `waitEvent` and decodes with `pageRequestOf`.
 */
export function nextPageRequest(timeoutMs: number): PageRequest | null {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const e = waitEvent(Math.max(0, deadline - performance.now()));
    if (!e) return null;
    const r = pageRequestOf(e);
    if (r) return r;
  }
}

/** Supplies `page` of `segment` with the PAGE_SIZE bytes of this process's memory at `vaddr`. */
export function supplyPage(segment: number, page: number, vaddr: number): void {
  trap(Sys.pager_answer, segment, page, PagerOp.SUPPLY, vaddr);
}

/** Supplies `page` of `segment` as zeros. */
export function zeroPage(segment: number, page: number): void {
  trap(Sys.pager_answer, segment, page, PagerOp.ZERO, 0);
}

/** Fails the faults waiting for `page`: each faulting process gets a protection fault. */
export function failPage(segment: number, page: number): void {
  trap(Sys.pager_answer, segment, page, PagerOp.FAIL, 0);
}

/**
 * Tells the kernel that a complete copy of `page` of `segment` (one this process
 * pages) is at `offset` of remote descriptor `desc`: the page's next fault is a
 * READ the kernel makes from there itself, with no request to this pager, until
 * the page is paged out again (a TAKE forgets it) or `desc` is -1 here. Call it once
 * the copy's WRITE has completed. A READ that fails becomes an ordinary request.
 */
export function locatePage(segment: number, page: number, desc: number, offset: number): void {
  trap(Sys.pager_locate, segment, page, desc, offset);
}

/** Copies the contents of a paged-out page (a PAGE_OUT) to this process's `vaddr`. */
export function takePage(segment: number, page: number, vaddr: number): void {
  trap(Sys.pager_answer, segment, page, PagerOp.TAKE, vaddr);
}

/**
 * Write-protects (or, with `on` false, unprotects) pages [page, page+count) of a
 * segment this process pages, in every binding: a store to a protected page waits
 * and comes as a PAGE_FAULT with `writeProtect`; unprotecting lets it complete.
 */
export function protectForPager(segment: number, page: number, count: number, on = true): void {
  trap(Sys.pager_protect, segment, page, count, on ? 1 : 0);
}

/**
 * Drops pages [page, page+count) of `segment` (one this process pages): each present
 * one becomes not present in every binding and its contents are discarded, not paged
 * out (a DSM's invalidation, a pager's MADV_DONTNEED), so its next touch is a fault to
 * this pager. A page another running process maps is dropped once that process has
 * acknowledged the TLB shootdown (at its next memory access or wait): this retries
 * for up to a second, then throws EAGAIN. Throws SysError: EPERM, EINVAL, EBUSY (a
 * pinned page, or one with a write-protect fault waiting).
 */
export function dropPages(segment: number, page: number, count: number): void {
  const deadline = performance.now() + DROP_RETRY_MS;
  for (;;) {
    try {
      trap(Sys.pager_drop, segment, page, count);
      return;
    } catch (e) {
      if (!(e instanceof SysError && e.code === "EAGAIN") || performance.now() > deadline) throw e;
    }
  }
}

/** How long dropPages retries a page whose mapper has not acknowledged (ms). */
const DROP_RETRY_MS = 1000;

/**
 * Makes this process the node's swap pager (service capability; EBUSY while another
 * runs): every swappable page the kernel evicts dirty comes to it as a PAGE_OUT, and
 * a fault on a page it took comes to it as a PAGE_FAULT; SEGMENT_FREED says a
 * segment's pages may be forgotten. servers/pager/ is the one the node runs.
 */
export function swapAttach(): void {
  trap(Sys.swap_attach);
  if (!events.page) collectGrants();
}

/**
 * Lets (`on` true) or keeps (`on` false) the node's swap pager from paging out
 * segment `id` (an anonymous segment this process holds), whatever the node's
 * default (`--swap-scope`). Throws SysError: EBADF, EPERM, EINVAL.
 */
export function setSwap(id: number, on: boolean): void {
  trap(Sys.set_swap, id, on ? 1 : 0);
}
