/**
 * A process's address space as the kernel sees it: its page table, its bindings
 * (sorted by address) and the slots through which it has been handed segment
 * buffers.
 *
 * Bindings are written into the page table at bind time with the present bit clear;
 * the first touch of each page traps as a page fault (`fault`), which asks the
 * segment for the page and sets the present bit. A change that removes rights
 * (unbind, protect down, release) returns true so the caller shoots down the TLB.
 */

import {
  Access,
  PAGE_MASK,
  PAGE_SHIFT,
  Pte,
  Rights,
  SegMode,
  SegUnit,
  USER_AUTO_BASE,
  USER_BASE,
  USER_TOP,
} from "../abi/layout.ts";
import type { Binding } from "./binding.ts";
import { PageTable } from "./page_table.ts";
import type { PageWaiter, Segment } from "./segment.ts";

/** What a page fault came to. */
export type FaultOutcome =
  | { kind: "mapped"; filled: boolean }
  | { kind: "unmapped" }
  | { kind: "protection"; rights: number }
  | { kind: "pager-failed" }
  | { kind: "waiting" };

export class AddressSpace {
  readonly pageTable = new PageTable();
  /** Sorted by vaddr; no two overlap. */
  readonly bindings: Binding[] = [];
  /** Segment id → slot number handed to the process. */
  readonly slots = new Map<number, number>();
  #nextSlot = 1;
  readonly pid: number;

  constructor(pid: number) {
    this.pid = pid;
  }

  /** Returns the binding containing `vaddr`, or undefined. */
  find(vaddr: number): Binding | undefined {
    let lo = 0, hi = this.bindings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.bindings[mid];
      if (vaddr < b.vaddr) hi = mid - 1;
      else if (vaddr >= b.vaddr + b.size) lo = mid + 1;
      else return b;
    }
    return undefined;
  }

  /** True if [vaddr, vaddr+size) overlaps no binding and lies in user space. */
  isFree(vaddr: number, size: number): boolean {
    if (vaddr < USER_BASE || vaddr + size > USER_TOP) return false;
    return !this.bindings.some((b) => vaddr < b.vaddr + b.size && b.vaddr < vaddr + size);
  }

  /** Returns a free page-aligned address for `size` bytes, or -1 if none. */
  choose(size: number): number {
    let at = USER_AUTO_BASE;
    for (const b of this.bindings) {
      if (b.vaddr + b.size <= at) continue;
      if (b.vaddr >= at + size) break;
      at = b.vaddr + b.size;
    }
    return at + size <= USER_TOP ? at : -1;
  }

  /** Returns the slot for a segment and whether it is new (so its buffer must be posted). */
  slotFor(segment: Segment): { slot: number; fresh: boolean } {
    const known = this.slots.get(segment.id);
    if (known !== undefined) return { slot: known, fresh: false };
    const slot = this.#nextSlot++;
    this.slots.set(segment.id, slot);
    return { slot, fresh: true };
  }

  /** Maps `segment` at `vaddr` (free, page-aligned) with `rights`. */
  bind(segment: Segment, vaddr: number, rights: number, slot: number): Binding {
    const b: Binding = {
      pid: this.pid,
      vaddr,
      size: segment.size,
      segment,
      rights,
      slot,
      pageRights: new Uint8Array(segment.pages).fill(rights),
    };
    const at = this.bindings.findIndex((x) => x.vaddr > vaddr);
    this.bindings.splice(at < 0 ? this.bindings.length : at, 0, b);
    segment.bindings.add(b);
    const base = vaddr >>> PAGE_SHIFT;
    for (let p = 0; p < segment.pages; p++) {
      this.pageTable.set(base + p, this.#flags(b, p, false), p, slot);
    }
    return b;
  }

  /** Removes a binding and its page-table entries. */
  unbind(b: Binding): void {
    const i = this.bindings.indexOf(b);
    if (i >= 0) this.bindings.splice(i, 1);
    b.segment.bindings.delete(b);
    const base = b.vaddr >>> PAGE_SHIFT;
    for (let p = 0; p < b.segment.pages; p++) this.pageTable.clear(base + p);
  }

  /** Removes every binding of `segment` and forgets its slot. */
  unbindSegment(segment: Segment): boolean {
    const mine = this.bindings.filter((b) => b.segment === segment);
    for (const b of mine) this.unbind(b);
    this.slots.delete(segment.id);
    return mine.length > 0;
  }

  /**
   * Sets the rights of the pages in [vaddr, vaddr+len), which must all lie in one
   * binding, to `rights` (never more than the binding's). Returns true if any page
   * lost a right.
   */
  protect(b: Binding, vaddr: number, len: number, rights: number): boolean {
    let lost = false;
    const first = (vaddr - b.vaddr) >>> PAGE_SHIFT;
    const last = (vaddr + len - 1 - b.vaddr) >>> PAGE_SHIFT;
    for (let p = first; p <= last; p++) {
      if (b.pageRights[p] & ~rights) lost = true;
      b.pageRights[p] = rights;
      const present = b.segment.present[p] === 1 &&
        (this.pageTable.get((b.vaddr >>> PAGE_SHIFT) + p) & Pte.PRESENT) !== 0;
      this.pageTable.set((b.vaddr >>> PAGE_SHIFT) + p, this.#flags(b, p, present), p, b.slot);
    }
    return lost;
  }

  /**
   * Handles a page fault at `vaddr` for `access`: maps the page if the binding allows
   * the access, asking the segment's pager on first touch. "waiting": an external
   * pager was asked and calls `waiter`; the fault is then handled again. `touched`:
   * the entry is made with the accessed (and for a store dirty) bit already set, as
   * the MMU sets them, for an access the process is about to make again.
   */
  fault(vaddr: number, access: number, waiter?: PageWaiter, touched = false): FaultOutcome {
    const b = this.find(vaddr);
    if (!b) return { kind: "unmapped" };
    const page = (vaddr - b.vaddr) >>> PAGE_SHIFT;
    const rights = b.pageRights[page];
    const need = access === Access.WRITE ? Rights.WRITE : Rights.READ;
    if (!(rights & need)) return { kind: "protection", rights };
    const outcome = b.segment.fault(page, access, waiter);
    if (outcome === "failed") return { kind: "pager-failed" };
    if (outcome === "waiting") return { kind: "waiting" };
    const marks = !touched ? 0 : access === Access.WRITE ? Pte.ACCESSED | Pte.DIRTY : Pte.ACCESSED;
    this.pageTable.set(vaddr >>> PAGE_SHIFT, this.#flags(b, page, true), page, b.slot, marks);
    return { kind: "mapped", filled: outcome === "filled" };
  }

  /** Pages of its bindings that are present (hold a frame), counted once per binding. */
  residentPages(): number {
    let n = 0;
    for (const b of this.bindings) {
      const present = b.segment.present;
      for (let p = 0, end = b.size >>> PAGE_SHIFT; p < end; p++) n += present[p];
    }
    return n;
  }

  /**
   * Rewrites the entry of `page` of binding `b` after its pager changed it: not
   * present if `present` is false (an eviction: `unmap`), else with the present bit
   * it had and write access as the write-protect bit now allows (the MMU's accessed
   * and dirty bits kept). Returns the entry's old flags.
   */
  refresh(b: Binding, page: number, present: boolean): number {
    if (!present) return this.unmap(b, page, false);
    const vpn = (b.vaddr >>> PAGE_SHIFT) + page;
    const old = this.pageTable.get(vpn);
    this.pageTable.set(vpn, this.#flags(b, page, (old & Pte.PRESENT) !== 0), page, b.slot);
    return old;
  }

  /**
   * Makes the entry of `page` of binding `b` not present in one atomic exchange (an
   * eviction); returns its old flags, whose DIRTY bit says whether the process wrote
   * it, or -1 (nothing changed) if `ifIdle` and its accessed bit is set.
   */
  unmap(b: Binding, page: number, ifIdle: boolean): number {
    return this.pageTable.unmap(
      (b.vaddr >>> PAGE_SHIFT) + page,
      this.#flags(b, page, false),
      ifIdle,
    );
  }

  /** Puts back the entry `unmap` returned (an eviction given up). */
  restore(b: Binding, page: number, old: number): void {
    this.pageTable.restore((b.vaddr >>> PAGE_SHIFT) + page, old);
  }

  #flags(b: Binding, page: number, present: boolean): number {
    const r = b.pageRights[page];
    let f = present && (r & Rights.READ) ? Pte.PRESENT : 0;
    const seg = b.segment;
    if ((r & Rights.WRITE) && seg.writeProtected?.[page] !== 1) f |= Pte.WRITABLE;
    if (seg.mode !== SegMode.NORMAL) {
      f |= Pte.MESSAGE;
      if (seg.mode === SegMode.MESSAGE) f |= Pte.SIGNAL_ON_WRITE;
      if (seg.unit === SegUnit.PAGE) f |= Pte.UNIT_PAGE;
    }
    return f;
  }
}

/** True if `vaddr` is page-aligned. */
export function pageAligned(vaddr: number): boolean {
  return (vaddr & PAGE_MASK) === 0;
}
