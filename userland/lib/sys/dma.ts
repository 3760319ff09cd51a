/**
 * The DMA queue (002 §3.4): remote WRITEs posted without a trap. A request goes
 * into a ring this process shares with its kernel, and the kernel takes it
 * asynchronously, in order, and sends it; the caller goes on at once. The first
 * request makes the queue (one trap); after that a process traps only when the
 * ring is full. Requests leave in the order they were made, queued or trapped:
 * the kernel empties the ring before it serves any trap of this process.
 *
 * Making the queue also makes the event page, so `waitEvent` can wait for a tagged
 * request's COMPLETION event from the first request on. Completion is seen as for
 * any WRITE: in the destination memory, by an outgoing
 * Tripwire, in `remoteCounters()`, or, for a request given a `tag`, as a
 * COMPLETION event in the event queue (`waitEvent`). A request the kernel refuses
 * (a bad descriptor, out of bounds…) does not throw here: it completes with that
 * error, counted in `remoteCounters().errors` (sticky until `remoteStatus()`), and
 * in its COMPLETION event's `info`.
 *
 * A posted request (`posted: true`) never completes: only a refusal by the owner
 * comes back, as an error completion, and an outgoing Tripwire sees it as it
 * leaves.
 *
 * A block request reads its source when the kernel takes it, as a DMA engine
 * would: leave the source alone until `dmaIdle()` is true (or, for a request with
 * a completion, until it has completed).
 *
 * @example
 * ```ts
 * const { desc } = importSegment("inbox", { hint: 0 });
 * dmaWrite32(desc, 64, 1);                      // PIO: the word rides in the ring
 * dmaWriteBlock(desc, 128, buf, 4096, { tag: 7 }); // DMA from local memory
 * const e = waitEvent(1000);                     // { kind: COMPLETION, id: 7, info: 0 }
 * ```
 */

import {
  DMA_CAPACITY,
  DMA_ENTRY_WORDS,
  DMA_INLINE_BYTES,
  DMA_MAX_BLOCK,
  DmaEntry,
  DmaFlag,
  DmaOp,
  DmaQueue,
} from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { collectGrants, dma, ringDoorbell, trap } from "../rt/trap.ts";

export interface DmaOptions {
  /** The WRITE notifies at the owner (as `notify` on WRITE). */
  notify?: boolean;
  /** Non-zero: deliver a COMPLETION event with this id when it completes. */
  tag?: number;
  /**
   * Posted, like a PIO store: no completion (no REMOTE_DONE count, no event, no
   * tag), and half the frames; only a refusal by the owner comes back, as an error
   * completion. Outgoing Tripwires see it as it leaves.
   */
  posted?: boolean;
}

/** Options for a posted WRITE (the transfers' WRITEs: their protocols need no completion). */
export const POSTED: DmaOptions = Object.freeze({ posted: true });

let Q: Int32Array | null = null;
let Q8: Uint8Array | null = null;
let tail = 0;

/** The queue, made (one trap) on first use. */
function queue(): Int32Array {
  if (Q) return Q;
  trap(Sys.dma_flush);
  if (!dma.queue) collectGrants();
  if (!dma.queue) throw new Error("the kernel did not hand over the DMA queue");
  Q = dma.queue;
  Q8 = new Uint8Array(Q.buffer);
  tail = Atomics.load(Q, DmaQueue.TAIL);
  return Q;
}

/** The next free entry's first word, waiting (by trapping) while the ring is full. */
function reserve(): number {
  const q = queue();
  // Full: the kernel empties the ring before it answers the trap (waiting, if too
  // many requests are outstanding or the link is far behind).
  while (((tail - Atomics.load(q, DmaQueue.HEAD)) | 0) >= DMA_CAPACITY) trap(Sys.dma_flush);
  return DmaQueue.ENTRIES + ((tail >>> 0) % DMA_CAPACITY) * DMA_ENTRY_WORDS;
}

/** Publishes the entry at the tail and tells a sleeping kernel. */
function publish(): void {
  tail = (tail + 1) | 0;
  Atomics.store(Q!, DmaQueue.TAIL, tail);
  ringDoorbell();
}

function fill(at: number, op: number, desc: number, offset: number, count: number, o: DmaOptions) {
  if (o.posted && o.tag) {
    throw new SysError(Errno.EINVAL, "dma", "a posted WRITE has no completion to tag");
  }
  const q = Q!;
  q[at + DmaEntry.OP] = op | (o.notify ? DmaFlag.NOTIFY : 0) | (o.posted ? DmaFlag.POSTED : 0);
  q[at + DmaEntry.DESC] = desc;
  q[at + DmaEntry.OFFSET] = offset;
  q[at + DmaEntry.COUNT] = count;
  q[at + DmaEntry.TAG] = o.tag ?? 0;
}

const NONE: DmaOptions = {};

/** Queues a WRITE of up to DMA_INLINE_BYTES (40) bytes, carried in the ring itself. */
export function dmaWrite(desc: number, offset: number, data: Uint8Array, o = NONE): void {
  if (data.length === 0 || data.length > DMA_INLINE_BYTES) {
    throw new SysError(
      data.length === 0 ? Errno.EINVAL : Errno.EMSGSIZE,
      "dmaWrite",
      `${data.length} bytes: a queued WRITE carries 1..${DMA_INLINE_BYTES}; use dmaWriteBlock`,
    );
  }
  const at = reserve();
  fill(at, DmaOp.WRITE, desc, offset, data.length, o);
  Q8!.set(data, (at + DmaEntry.DATA) * 4);
  publish();
}

/** Queues a WRITE of one 32-bit word (little-endian). */
export function dmaWrite32(desc: number, offset: number, value: number, o = NONE): void {
  const at = reserve();
  fill(at, DmaOp.WRITE, desc, offset, 4, o);
  Q![at + DmaEntry.DATA] = value;
  publish();
}

/**
 * Queues a WRITE of `count` bytes of this process's memory at `vaddr`, read when the
 * kernel takes the request.
 */
export function dmaWriteBlock(
  desc: number,
  offset: number,
  vaddr: number,
  count: number,
  o = NONE,
): void {
  if (!Number.isInteger(count) || count < 1 || count > DMA_MAX_BLOCK) {
    throw new SysError(
      count > DMA_MAX_BLOCK ? Errno.EMSGSIZE : Errno.EINVAL,
      "dmaWriteBlock",
      `a queued block WRITE moves 1..${DMA_MAX_BLOCK} bytes, not ${count}`,
    );
  }
  const at = reserve();
  fill(at, DmaOp.WRITE_BLOCK, desc, offset, count, o);
  Q![at + DmaEntry.VADDR] = vaddr;
  publish();
}

/** Requests in the ring the kernel has not taken yet (no trap). */
export function dmaQueued(): number {
  return Q ? (tail - Atomics.load(Q, DmaQueue.HEAD)) | 0 : 0;
}

/** True when the kernel has taken every queued request (each is on its way). */
export function dmaIdle(): boolean {
  return dmaQueued() === 0;
}

/** Has the kernel take every queued request now (one trap); returns how many it took. */
export function dmaFlush(): number {
  return Q ? trap(Sys.dma_flush) : 0;
}
