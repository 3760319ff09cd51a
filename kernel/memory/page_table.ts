/**
 * A two-level page table for a 32-bit address space with 4 KiB pages, kept by the
 * kernel in a growable SharedArrayBuffer that the process's MMU reads.
 *
 * Layout (Int32 words): the directory is words [0, 1024); directory entry d holds
 * the 1-based number of the level-2 table for addresses with top ten bits d, or 0.
 * Level-2 table t (1-based) starts at byte PT_DIR_BYTES + (t-1)·PT_TABLE_BYTES and
 * holds 1024 entries of two words: [flags | pageIndex << 12, slot]. The buffer grows
 * by one table at a time; tables are never freed while the process lives.
 *
 * Only the kernel writes entries, except the A and D bits, which the MMU sets with a
 * compare-and-swap; the kernel's rewrites are atomic read-modify-writes too, so no
 * bit the MMU sets is lost between a read and a write. Any change that removes a right must be followed by a TLB shootdown
 * (the caller bumps the process's TLB epoch). The kernel finds tables through its
 * own private copy of the directory, never through the shared one a process could
 * scribble on.
 */

import {
  PAGE_SHIFT,
  PT_DIR_BYTES,
  PT_ENTRIES,
  PT_LEVEL_BITS,
  PT_MAX_BYTES,
  PT_TABLE_BYTES,
  Pte,
  PTE_WORDS,
} from "../abi/layout.ts";

export class PageTable {
  readonly buffer: SharedArrayBuffer;
  #words: Int32Array;
  #tables = 0;
  /** The kernel's copy of the directory: table number per directory index. */
  readonly #dir = new Int32Array(PT_ENTRIES);

  constructor() {
    // deno-lint-ignore no-explicit-any
    this.buffer = new (SharedArrayBuffer as any)(PT_DIR_BYTES, { maxByteLength: PT_MAX_BYTES });
    this.#words = new Int32Array(this.buffer);
  }

  /** Returns the word index of the entry for `vpn`, allocating its table if asked. */
  #entryIndex(vpn: number, allocate: boolean): number {
    const dir = (vpn >>> PT_LEVEL_BITS) & (PT_ENTRIES - 1);
    let table = this.#dir[dir];
    if (table === 0) {
      if (!allocate) return -1;
      table = ++this.#tables;
      // deno-lint-ignore no-explicit-any
      (this.buffer as any).grow(PT_DIR_BYTES + table * PT_TABLE_BYTES);
      this.#words = new Int32Array(this.buffer);
      this.#dir[dir] = table;
      Atomics.store(this.#words, dir, table);
    }
    const base = (PT_DIR_BYTES + (table - 1) * PT_TABLE_BYTES) >> 2;
    return base + (vpn & (PT_ENTRIES - 1)) * PTE_WORDS;
  }

  /**
   * Writes the entry for `vpn`. If it maps the same page as before, the accessed and
   * dirty bits the MMU set are kept: the word is replaced with a compare-and-swap, so
   * a bit the MMU ORs in meanwhile is never lost. `marks` (ACCESSED, DIRTY) are set
   * as the MMU would for an access about to be made.
   */
  set(vpn: number, flags: number, pageIndex: number, slot: number, marks = 0): void {
    const i = this.#entryIndex(vpn, true);
    const word = (flags & ~(Pte.ACCESSED | Pte.DIRTY)) | marks | (pageIndex << PAGE_SHIFT);
    const sameSlot = this.#words[i + 1] === slot;
    Atomics.store(this.#words, i + 1, slot);
    for (let old = Atomics.load(this.#words, i);;) {
      const same = sameSlot && old >>> PAGE_SHIFT === pageIndex;
      const next = word | (same ? old & (Pte.ACCESSED | Pte.DIRTY) : 0);
      const seen = Atomics.compareExchange(this.#words, i, old, next);
      if (seen === old) return;
      old = seen;
    }
  }

  /**
   * Makes the entry for `vpn` not present in one atomic step (an eviction): its flags
   * become `flags` without PRESENT, ACCESSED and DIRTY, its page and slot stay.
   * Returns the old word, which has every DIRTY bit the MMU set up to that instant;
   * or -1, the entry unchanged, if `ifIdle` and its ACCESSED bit is set (the process
   * filled its TLB with the page since the bit was last cleared). 0 if no entry.
   */
  unmap(vpn: number, flags: number, ifIdle: boolean): number {
    const i = this.#entryIndex(vpn, false);
    if (i < 0) return 0;
    const keep = ~(Pte.PRESENT | Pte.ACCESSED | Pte.DIRTY);
    for (let old = Atomics.load(this.#words, i);;) {
      if (ifIdle && (old & Pte.ACCESSED) !== 0) return -1;
      const next = (old & ~((1 << PAGE_SHIFT) - 1)) | (flags & keep);
      const seen = Atomics.compareExchange(this.#words, i, old, next);
      if (seen === old) return old;
      old = seen;
    }
  }

  /** Puts back word `old` that `unmap` returned for `vpn` (an eviction given up). */
  restore(vpn: number, old: number): void {
    const i = this.#entryIndex(vpn, false);
    if (i >= 0) Atomics.store(this.#words, i, old);
  }

  /** Clears the entry for `vpn` (no-op if its table does not exist). */
  clear(vpn: number): void {
    const i = this.#entryIndex(vpn, false);
    if (i >= 0) Atomics.store(this.#words, i, 0);
  }

  /** Returns word 0 of the entry for `vpn` (flags and page index), or 0. */
  get(vpn: number): number {
    const i = this.#entryIndex(vpn, false);
    return i < 0 ? 0 : Atomics.load(this.#words, i);
  }

  /** Replaces the flag bits in `mask` of an existing entry with `flags`. */
  update(vpn: number, mask: number, flags: number): void {
    const i = this.#entryIndex(vpn, false);
    if (i < 0) return;
    for (let old = Atomics.load(this.#words, i);;) {
      const seen = Atomics.compareExchange(this.#words, i, old, (old & ~mask) | (flags & mask));
      if (seen === old) return;
      old = seen;
    }
  }

  /**
   * Clears the accessed bit of the entry for `vpn` atomically (the MMU may be setting
   * the dirty bit meanwhile); true if it was set. The caller shoots down the TLB, or
   * the MMU, which sets the bit on a TLB fill, never sets it again.
   */
  clearAccessed(vpn: number): boolean {
    const i = this.#entryIndex(vpn, false);
    return i >= 0 && (Atomics.and(this.#words, i, ~Pte.ACCESSED) & Pte.ACCESSED) !== 0;
  }

  /** Bytes of page-table memory in use. */
  bytes(): number {
    return this.buffer.byteLength;
  }
}

/**
 * Reads an entry from a page-table buffer: the MMU's walk, shared with tests.
 * Returns -1 when no level-2 table covers `vpn`, else the index of word 0.
 */
export function walkPageTable(words: Int32Array, vpn: number): number {
  const table = Atomics.load(words, vpn >>> PT_LEVEL_BITS);
  if (table === 0) return -1;
  return ((PT_DIR_BYTES + (table - 1) * PT_TABLE_BYTES) >> 2) +
    (vpn & (PT_ENTRIES - 1)) * PTE_WORDS;
}
