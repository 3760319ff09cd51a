/**
 * A segment: a contiguous run of 4 KiB pages with its own SharedArrayBuffer, the
 * unit of sharing (001 §3.2, 000 §3.1). A segment bound by two processes on one node
 * is the same memory for both, at possibly different virtual addresses.
 *
 * Pages start not present. The first touch of a page by any process is a page fault
 * that the segment's pager satisfies; the default pager zero-fills (the buffer is
 * already zero, so "filling" is marking the page present and counting the fault).
 * External pagers (memory server, DSM, checkpointer) plug in at `pager`: a pager
 * process's requests and answers are kernel/memory/pager_table.ts.
 */

import { Access, PAGE_SIZE } from "../abi/layout.ts";
import type { Binding } from "./binding.ts";
import { SignalDirectory } from "../signal/signal_directory.ts";
import type { ChannelLink } from "./channel_link.ts";
import type { FrameTable } from "./frame_table.ts";

/**
 * How a page request ends for one waiter: errno 0 once the page is present (and, for
 * a write-protect fault, writable), else the errno and a reason naming the pager.
 */
export type PageWaiter = (errno: number, reason: string) => void;

/** Supplies the contents of a page that is not present; the seam for external pagers. */
export interface Pager {
  /**
   * Makes `page` of `segment` present now (true), fails the fault now (false), or
   * has asked for it and calls `waiter` once it is answered ("wait"). Without a
   * waiter the caller cannot wait: it is told "wait" and the request still goes out.
   * `writeProtect` says the page is present but write-protected for its pager.
   */
  supply(
    segment: Segment,
    page: number,
    access: number,
    writeProtect: boolean,
    waiter?: PageWaiter,
  ): boolean | "wait";
}

/** The default pager: anonymous memory, zero-filled on first touch. */
export const zeroFillPager: Pager = {
  supply: () => true,
};

/** What `Segment.fault` came to. */
export type PageOutcome = "present" | "filled" | "failed" | "waiting";

export interface SegmentAttributes {
  size: number;
  mode: number;
  unit: number;
  notifyPolicy: number;
}

export class Segment {
  readonly id: number;
  readonly size: number;
  readonly pages: number;
  readonly buffer: SharedArrayBuffer;
  /** The kernel's views of the buffer (remote accesses, deposits). */
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  /** Pins per page (000 §3.1.1): a pinned page stays resident. */
  readonly pins: Uint16Array;
  readonly mode: number;
  readonly unit: number;
  readonly notifyPolicy: number;
  /** Bumped whenever the segment's identity for remote users changes (issue 3). */
  generation = 1;
  pager: Pager = zeroFillPager;
  /**
   * One byte per page, 1 while its external pager has write-protected it
   * (`pager_protect`): a store faults to the pager. Null until a pager protects a page.
   */
  writeProtected: Uint8Array | null = null;
  /** One byte per page: 1 once the page has been supplied. Kernel-owned. */
  readonly present: Uint8Array;
  /** Every current binding of this segment, in any process. */
  readonly bindings = new Set<Binding>();
  /** Processes entitled to bind it, with the rights each may use. */
  readonly holders = new Map<number, number>();
  /** Processes that were handed the buffer and have not exited (segment_table.ts). */
  readonly handedTo = new Set<number>();
  /** Set once the segment table has freed it (its buffer may still be held). */
  freed = false;
  /**
   * A device segment (kernel/dev/): only the driver it was made for holds it, so
   * it can be neither granted nor exported.
   */
  driverOnly = false;
  /** Which processes have handlers where: read by senders on the hardware path. */
  readonly directory = new SignalDirectory();
  /** A kernel-side signal handler (the name channel): called with the signalled offset. */
  kernelHandler: ((offset: number) => void) | null = null;
  /** Set once a message segment is bound on more than one node (message_channels.ts). */
  channel: ChannelLink | null = null;
  /** Pages supplied by the pager (first-touch faults). */
  zeroFills = 0;
  /**
   * The node's page frames (set by the segment table; null for a kernel-private
   * segment outside it), and the frame each page holds (-1: none; null until one).
   */
  frames: FrameTable | null = null;
  frameOf: Int32Array | null = null;
  /**
   * Made by `create_segment` (a process's own memory, not a kernel-shared page):
   * only such a segment may be swapped (kernel/memory/pager_table.ts).
   */
  anonymous = false;
  /** `set_swap`: true or false overrides the node's default (`KernelConfig.swapAll`). */
  swap: boolean | null = null;
  /** One byte per page, 1 while the swap pager holds a copy of it (null until swapped). */
  held: Uint8Array | null = null;
  /**
   * One byte per page, 1 once the kernel has stored into it (a remote WRITE, a READ's
   * deposit, a trap's copy): the MMU's dirty bits see only the processes' own stores.
   * Null while the segment has no external pager (nothing to keep in step).
   */
  kernelDirty: Uint8Array | null = null;
  readonly creator: number;

  constructor(id: number, creator: number, attrs: SegmentAttributes) {
    this.id = id;
    this.creator = creator;
    this.pages = Math.ceil(attrs.size / PAGE_SIZE);
    this.size = this.pages * PAGE_SIZE;
    this.mode = attrs.mode;
    this.unit = attrs.unit;
    this.notifyPolicy = attrs.notifyPolicy;
    this.buffer = new SharedArrayBuffer(this.size);
    this.bytes = new Uint8Array(this.buffer);
    this.words = new Int32Array(this.buffer);
    this.present = new Uint8Array(this.pages);
    this.pins = new Uint16Array(this.pages);
  }

  /**
   * Ensures `page` is present (and writable, for a WRITE, if its pager write-protected
   * it), asking the pager on first touch. "waiting": an external pager was asked and
   * calls `waiter` when it answers. Throws KernelError(ENOMEM) when a zero-filled
   * page can get no frame (kernel/memory/frame_table.ts).
   */
  fault(page: number, access: number = Access.READ, waiter?: PageWaiter): PageOutcome {
    // A write-protect fault is a store to a present page; one not present is paged in
    // first, and the store, still not writable, faults again.
    const wp = access === Access.WRITE && this.present[page] === 1 &&
      this.writeProtected !== null && this.writeProtected[page] === 1;
    if (this.present[page] && !wp) return "present";
    const r = this.pager.supply(this, page, access, wp, waiter);
    if (r === "wait") return "waiting";
    if (!r) return "failed";
    if (this.present[page]) return "present";
    this.frames?.take(this, page); // ENOMEM when no frame can be had
    this.present[page] = 1;
    this.zeroFills++;
    return "filled";
  }

  /** Number of pages currently present. */
  residentPages(): number {
    let n = 0;
    for (const p of this.present) n += p;
    return n;
  }
}
