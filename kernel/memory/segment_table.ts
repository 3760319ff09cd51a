/**
 * The segment table: a node's segments by id, who may bind each (its holders, with
 * rights), and the node's physical memory (the sum of all segment sizes). A segment
 * is freed once nobody holds or binds it; `onFree` lets the kernel revoke its
 * exports and forget its replica.
 *
 * A SharedArrayBuffer cannot be taken back from a worker, so a segment whose buffer
 * was handed to a process (`handedTo`) still costs the host its memory after it is
 * freed, until every such process has exited: it stays counted (the node's memory,
 * its creator's bytes and segments) until then ("retained"). So no process can hold
 * memory the kernel does not count by releasing segments and keeping their buffers.
 */

import { PAGE_SIZE, RIGHTS_ALL } from "../abi/layout.ts";
import { DEFAULT_LIMITS, framesOf, type Limits } from "../config.ts";
import type { NodeStats } from "../node_stats.ts";
import { fail } from "../panic.ts";
import { type FrameOwner, FrameTable } from "./frame_table.ts";
import { Segment, type SegmentAttributes } from "./segment.ts";

export class SegmentTable {
  readonly byId = new Map<number, Segment>();
  /** The node's page frames; the pager table decides which pages may be evicted. */
  readonly frames: FrameTable;
  readonly #memoryBytes: number;
  readonly #stats: NodeStats;
  readonly #onFree: (seg: Segment) => void;
  readonly #limits: Limits;
  /** Per creating pid: bytes and segments counted against it. */
  readonly #bytesOf = new Map<number, number>();
  readonly #countOf = new Map<number, number>();
  /** Per pid: the segments whose buffers it was handed. */
  readonly #handed = new Map<number, Set<Segment>>();
  /** Segments counted: live ones and freed ones whose buffers a process still holds. */
  #counted = 0;
  #retained = 0;
  #nextId = 1;

  constructor(
    config: { nodeId: number; memoryBytes: number; memoryFrames: number; limits?: Limits },
    node: { stats: NodeStats; pagers: FrameOwner },
    onFree: (seg: Segment) => void,
  ) {
    this.#memoryBytes = config.memoryBytes;
    this.#stats = node.stats;
    this.frames = new FrameTable(framesOf(config), config.nodeId, node.pagers);
    this.#onFree = onFree;
    this.#limits = config.limits ?? DEFAULT_LIMITS;
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
    const lim = this.#limits;
    if (this.#counted >= lim.segments) {
      fail(
        "ENOMEM",
        `the node has ${this.#counted} segments (${this.#retained} retained), its most`,
      );
    }
    if (pid > 0) {
      const count = this.#countOf.get(pid) ?? 0;
      if (count >= lim.processSegments) {
        fail("ENOMEM", `pid ${pid} has made ${count} segments still counted, its most`);
      }
      const bytes = this.#bytesOf.get(pid) ?? 0;
      if (bytes + size > lim.processMemoryBytes) {
        fail(
          "ENOMEM",
          `${size} bytes would exceed pid ${pid}'s ${lim.processMemoryBytes} (${bytes} counted)`,
        );
      }
    }
    const seg = new Segment(this.#nextId++, pid, attrs);
    seg.frames = this.frames;
    if (rights !== 0) seg.holders.set(pid, rights);
    this.byId.set(seg.id, seg);
    this.#charge(seg, 1);
    return seg;
  }

  /** Counts (sign 1) or stops counting (-1) a segment against the node and its creator. */
  #charge(seg: Segment, sign: 1 | -1): void {
    this.#stats.memoryUsed += sign * seg.size;
    this.#counted += sign;
    const pid = seg.creator;
    if (pid <= 0) return;
    const bytes = (this.#bytesOf.get(pid) ?? 0) + sign * seg.size;
    const count = (this.#countOf.get(pid) ?? 0) + sign;
    if (count === 0) {
      this.#bytesOf.delete(pid);
      this.#countOf.delete(pid);
    } else {
      this.#bytesOf.set(pid, bytes);
      this.#countOf.set(pid, count);
    }
  }

  /** `pid` has been handed `seg`'s buffer: it keeps it until it exits. */
  handOver(seg: Segment, pid: number): void {
    seg.handedTo.add(pid);
    let set = this.#handed.get(pid);
    if (!set) this.#handed.set(pid, set = new Set());
    set.add(seg);
  }

  /** Segments counted (live, and freed but still held by a process), and the retained ones. */
  counts(): { counted: number; retained: number } {
    return { counted: this.#counted, retained: this.#retained };
  }

  /** Lets `pid` bind `seg` with `rights` as well as what it held; EPERM for a device's segment. */
  grant(seg: Segment, pid: number, rights: number): void {
    if (seg.driverOnly) {
      fail("EPERM", `segment ${seg.id} is a device's: only its driver may bind it`);
    }
    seg.holders.set(pid, (seg.holders.get(pid) ?? 0) | rights);
  }

  /** `pid` no longer holds `seg`; the segment is freed if nobody else does. */
  drop(seg: Segment, pid: number): void {
    seg.holders.delete(pid);
    this.maybeFree(seg);
  }

  /** Drops every segment `pid` holds and every buffer it was handed (it exited). */
  dropAll(pid: number): void {
    for (const seg of [...this.byId.values()]) {
      if (seg.holders.delete(pid)) this.maybeFree(seg);
    }
    const handed = this.#handed.get(pid);
    if (!handed) return;
    this.#handed.delete(pid);
    for (const seg of handed) {
      seg.handedTo.delete(pid);
      if (seg.handedTo.size === 0 && !this.byId.has(seg.id) && seg.freed) {
        this.#retained--;
        this.#charge(seg, -1);
      }
    }
  }

  /** Frees a segment once nobody holds or binds it. */
  maybeFree(seg: Segment): void {
    if (seg.holders.size > 0 || seg.bindings.size > 0) return;
    if (!this.byId.delete(seg.id)) return;
    seg.freed = true;
    this.frames.releaseSegment(seg);
    if (seg.handedTo.size > 0) this.#retained++;
    else this.#charge(seg, -1);
    this.#onFree(seg);
  }
}
