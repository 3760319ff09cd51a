/**
 * The segment table: a node's segments by id, who may bind each (its holders, with
 * rights), and the node's physical memory (the sum of all segment sizes). A segment
 * is freed once nobody holds or binds it; `onFree` lets the kernel revoke its
 * exports and forget its replica.
 */

import { PAGE_SIZE, RIGHTS_ALL } from "../abi/layout.ts";
import type { NodeStats } from "../node_stats.ts";
import { fail } from "../panic.ts";
import { Segment, type SegmentAttributes } from "./segment.ts";

export class SegmentTable {
  readonly byId = new Map<number, Segment>();
  readonly #memoryBytes: number;
  readonly #stats: NodeStats;
  readonly #onFree: (seg: Segment) => void;
  #nextId = 1;

  constructor(memoryBytes: number, stats: NodeStats, onFree: (seg: Segment) => void) {
    this.#memoryBytes = memoryBytes;
    this.#stats = stats;
    this.#onFree = onFree;
  }

  get(id: number): Segment | undefined {
    return this.byId.get(id);
  }

  has(id: number): boolean {
    return this.byId.has(id);
  }

  keys(): IterableIterator<number> {
    return this.byId.keys();
  }

  values(): IterableIterator<Segment> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Creates a segment made by `pid` and held by it with `rights` (0: held by no one
   * yet, e.g. a kernel segment granted later); throws ENOMEM past the node's memory.
   */
  create(pid: number, attrs: SegmentAttributes, rights: number = RIGHTS_ALL): Segment {
    const size = Math.ceil(attrs.size / PAGE_SIZE) * PAGE_SIZE;
    const used = this.#stats.memoryUsed;
    if (used + size > this.#memoryBytes) {
      fail("ENOMEM", `${size} bytes would exceed the node's ${this.#memoryBytes} (${used} in use)`);
    }
    const seg = new Segment(this.#nextId++, pid, attrs);
    if (rights !== 0) seg.holders.set(pid, rights);
    this.byId.set(seg.id, seg);
    this.#stats.memoryUsed += seg.size;
    return seg;
  }

  /** Lets `pid` bind `seg` with `rights` as well as what it held. */
  grant(seg: Segment, pid: number, rights: number): void {
    seg.holders.set(pid, (seg.holders.get(pid) ?? 0) | rights);
  }

  /** `pid` no longer holds `seg`; the segment is freed if nobody else does. */
  drop(seg: Segment, pid: number): void {
    seg.holders.delete(pid);
    this.maybeFree(seg);
  }

  /** Drops every segment `pid` holds (it exited). */
  dropAll(pid: number): void {
    for (const seg of [...this.byId.values()]) {
      if (seg.holders.delete(pid)) this.maybeFree(seg);
    }
  }

  /** Frees a segment once nobody holds or binds it. */
  maybeFree(seg: Segment): void {
    if (seg.holders.size > 0 || seg.bindings.size > 0) return;
    if (!this.byId.delete(seg.id)) return;
    this.#stats.memoryUsed -= seg.size;
    this.#onFree(seg);
  }
}
