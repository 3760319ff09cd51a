/**
 * A process's signal FIFO page, as the kernel holds it (001 §3.1.2). The kernel
 * posts translated signals; on the hardware path other processes' memory systems
 * post physical ones into the same ring (kernel/signal/fifo_ring.ts).
 */

import { Fifo, fifoBytes } from "../abi/layout.ts";
import { fifoPending, fifoPost } from "./fifo_ring.ts";

export class SignalFifo {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly capacity: number;

  constructor(capacity: number, lossEvery = 0) {
    this.capacity = capacity;
    this.buffer = new SharedArrayBuffer(fifoBytes(capacity));
    this.words = new Int32Array(this.buffer);
    this.words[Fifo.CAPACITY] = capacity;
    this.words[Fifo.LOSS_EVERY] = lossEvery;
  }

  /** Queues a translated signal; returns false (and counts a drop) when full. */
  push(vaddr: number, handlerId: number): boolean {
    return fifoPost(this.words, vaddr | 0, handlerId);
  }

  dropped(): number {
    return Atomics.load(this.words, Fifo.DROPPED);
  }

  /** Signals queued and not yet taken by the process. */
  pending(): number {
    return fifoPending(this.words);
  }
}
