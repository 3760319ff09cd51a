/**
 * Page frames (ARCHITECTURE Wave 2, issue 13 item 1): a node has a fixed number of
 * 4 KiB frames (`KernelConfig.memoryFrames`), and a present page holds one. A frame
 * is taken when a page becomes present (a zero-fill on first touch, a pager's SUPPLY
 * or ZERO) and given back when the page is evicted or its segment is freed.
 *
 * When none is free the table evicts by the clock (second-chance) policy, the one
 * Multics and BSD use: a hand goes round the frames; a page whose accessed bit is set
 * in any binding has it cleared and is passed over once, the first one found with
 * every bit clear is evicted. Clock rather than exact LRU because the MMU keeps one
 * accessed bit per entry, not a time, and rather than FIFO because it keeps pages
 * touched since the hand last passed. The owner (the pager table) says which pages
 * may go: only those of externally paged segments, never a pinned one (anonymous
 * pages have nowhere to go until a swap pager exists). Only when a sweep of two
 * turns finds nothing does `take` fail with ENOMEM naming the node's frames.
 *
 * The runtime's MMU sets the accessed bit only when it fills its TLB, so a cleared
 * bit is set again only after a TLB flush: the owner shoots down each process whose
 * bits a sweep cleared, once per sweep (`sweepDone`), not once per page.
 *
 * An eviction waits for those shootdowns to be acknowledged (the owner says "busy"
 * until they are): a page is passed over like a referenced one, and only when a
 * sweep found nothing else are the busy pages tried again, a bounded number of
 * times (#settle), before `take` fails with EAGAIN (a fault or a pager's answer
 * then waits a millisecond and tries again).
 *
 * Owner: the kernel's thread; nothing here is shared with a process.
 */

import { fail } from "../panic.ts";
import type { Segment } from "./segment.ts";

/** What the frame table asks of the pages' owner (the pager table, or a test's fake). */
export interface FrameOwner {
  /** True if `page` of `segment` may be evicted now (externally paged, not pinned). */
  evictable(segment: Segment, page: number): boolean;
  /** True if any binding's accessed bit of the page was set; clears them all. */
  referenced(segment: Segment, page: number): boolean;
  /**
   * Evicts the page (it releases its frame here); what it was. "busy": not now, a
   * process that maps it has not acknowledged a TLB shootdown (pager_table.ts).
   */
  evict(segment: Segment, page: number): "absent" | "pinned" | "busy" | "clean" | "dirty";
  /** A sweep ended: shoot down the TLBs whose accessed bits it cleared. */
  sweepDone(): void;
  /** `segment` was freed (after its frames were). */
  segmentFreed?(segment: Segment): void;
}

/** The node's frames: which page holds each, the free ones, and the clock's hand. */
export class FrameTable {
  readonly total: number;
  readonly #node: number;
  readonly #owner: FrameOwner;
  readonly #segmentOf: (Segment | null)[];
  readonly #pageOf: Int32Array;
  /** Frames [#fresh, total) were never used; #freed[0, #top) were given back. */
  #fresh = 0;
  readonly #freed: Int32Array;
  #top = 0;
  #hand = 0;
  /** Pages the last sweep found busy and #settle could not evict (for ENOMEM's reason). */
  #waiting = 0;
  /** Pages the clock evicted to free a frame. */
  evictions = 0;

  constructor(total: number, node: number, owner: FrameOwner) {
    if (!Number.isInteger(total) || total < 1) fail("EINVAL", `memoryFrames ${total}`);
    this.total = total;
    this.#node = node;
    this.#owner = owner;
    this.#segmentOf = new Array(total).fill(null);
    this.#pageOf = new Int32Array(total);
    this.#freed = new Int32Array(total);
  }

  get used(): number {
    return this.total - this.free;
  }

  get free(): number {
    return this.total - this.#fresh + this.#top;
  }

  /** A free frame, or -1. */
  #pop(): number {
    if (this.#top > 0) return this.#freed[--this.#top];
    return this.#fresh < this.total ? this.#fresh++ : -1;
  }

  /**
   * Gives `page` of `segment` a frame (no-op if it has one), evicting by the clock
   * when none is free; throws ENOMEM when nothing can be evicted, EAGAIN when only
   * pages whose shootdowns are not yet acknowledged could be (try again later).
   */
  take(segment: Segment, page: number): void {
    const map = segment.frameOf ??= new Int32Array(segment.pages).fill(-1);
    if (map[page] >= 0) return;
    let f = this.#pop();
    if (f < 0) {
      this.#reclaim();
      f = this.#pop();
    }
    if (f < 0 && this.#waiting > 0) {
      // Not for good: a fault or a pager's answer waits and tries again (EAGAIN).
      fail(
        "EAGAIN",
        `node ${this.#node} has no free page frame yet: ${this.#waiting} of its ` +
          `${this.total} wait for a process to acknowledge a TLB shootdown`,
      );
    }
    if (f < 0) {
      fail(
        "ENOMEM",
        `node ${this.#node} has no free page frame: all ${this.total} hold pages that ` +
          `cannot be evicted (anonymous or pinned)`,
      );
    }
    this.#segmentOf[f] = segment;
    this.#pageOf[f] = page;
    map[page] = f;
  }

  /** Frees the frame of `page` of `segment`, if it holds one. */
  release(segment: Segment, page: number): void {
    const f = segment.frameOf?.[page] ?? -1;
    if (f < 0) return;
    segment.frameOf![page] = -1;
    this.#segmentOf[f] = null;
    this.#freed[this.#top++] = f;
  }

  /** Frees every frame `segment` holds (it was freed). */
  releaseSegment(segment: Segment): void {
    const map = segment.frameOf;
    if (map) { for (let p = 0; p < map.length; p++) this.release(segment, p); }
    this.#owner.segmentFreed?.(segment);
  }

  /**
   * The clock: evicts a batch of pages (1/64 of the frames, 1 to RECLAIM_MAX), going
   * round at most twice (one pass clears bits). A batch, as a kernel's reclaim frees
   * frames to a watermark: the sweep, and the one TLB shootdown per process whose
   * accessed bits it cleared, are paid once for many faults, not once each.
   */
  #reclaim(): void {
    const busy: (Segment | number)[] = [];
    const want = Math.max(1, Math.min(RECLAIM_MAX, this.total >> 6));
    let freed = 0;
    this.#waiting = 0;
    try {
      for (let n = 0; n < 2 * this.total; n++) {
        const f = this.#hand;
        this.#hand = (f + 1) % this.total;
        const seg = this.#segmentOf[f];
        const page = this.#pageOf[f];
        if (!seg || !this.#owner.evictable(seg, page)) continue;
        if (this.#owner.referenced(seg, page)) continue; // second chance
        const r = this.#evict(seg, page);
        if (r === "evicted" && ++freed >= want) return;
        if (r === "busy" && busy.length < 2 * BUSY_KEPT && !busyHas(busy, seg, page)) {
          busy.push(seg, page);
        }
      }
    } finally {
      this.#owner.sweepDone();
    }
    if (freed === 0 && busy.length > 0 && !this.#settle(busy)) this.#waiting = busy.length / 2;
  }

  /** Evicts `page` of `seg` through the owner. */
  #evict(seg: Segment, page: number): "evicted" | "busy" | "kept" {
    const r = this.#owner.evict(seg, page);
    if (r === "clean" || r === "dirty") {
      this.release(seg, page); // the owner's evict may have already
      this.evictions++;
      return "evicted";
    }
    return r === "busy" ? "busy" : "kept";
  }

  /**
   * Nothing could go but pages whose mappers have not acknowledged a TLB shootdown
   * yet (`busy`: segment, page pairs). Those processes run on threads of their own
   * and acknowledge at their next memory access, so the table waits for them as a
   * kernel waits for the acknowledgements of its shootdown interrupts: it tries the
   * pages again, a bounded number of times (no clock: the kernel core reads none);
   * false if none went, and take fails with EAGAIN: its caller waits and retries.
   */
  #settle(busy: (Segment | number)[]): boolean {
    const rounds = Math.ceil(SETTLE_TRIES / (busy.length / 2));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < busy.length; i += 2) {
        const seg = busy[i] as Segment, page = busy[i + 1] as number;
        if (this.#owner.evictable(seg, page) && this.#evict(seg, page) === "evicted") return true;
      }
    }
    return false;
  }
}

/** True if `busy` (segment, page pairs) has `page` of `seg`. */
function busyHas(busy: (Segment | number)[], seg: Segment, page: number): boolean {
  for (let i = 0; i < busy.length; i += 2) if (busy[i] === seg && busy[i + 1] === page) return true;
  return false;
}

/** The most pages one reclaim frees (#reclaim). */
const RECLAIM_MAX = 32;
/** How many busy pages a sweep keeps to try again (#settle). */
const BUSY_KEPT = 16;
/**
 * How many evictions #settle tries in all, round the busy pages: about 5 ms at
 * 0.3 µs a try (measured with one mapper), spent in full only when the processes
 * that map them make no memory access and no trap meanwhile.
 */
const SETTLE_TRIES = 16_384;
