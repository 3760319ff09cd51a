/**
 * The kernel's (producer's) side of a process's signal FIFO (001 §3.1.2): a ring of
 * [address, handler id] pairs in a page shared with the process. The kernel is the
 * only writer of TAIL and DROPPED; the process is the only writer of HEAD. When the
 * ring is full the signal is dropped and counted, never blocking the sender.
 */

import { Fifo, fifoBytes } from "../abi/layout.ts";

export class SignalFifo {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buffer = new SharedArrayBuffer(fifoBytes(capacity));
    this.words = new Int32Array(this.buffer);
    this.words[Fifo.CAPACITY] = capacity;
  }

  /**
   * Appends a signal and wakes the process if it waits on the FIFO. Returns false
   * (and counts a drop) when the FIFO is full.
   */
  push(vaddr: number, handlerId: number): boolean {
    const w = this.words;
    const tail = w[Fifo.TAIL];
    const head = Atomics.load(w, Fifo.HEAD);
    if (((tail - head) | 0) >= this.capacity) {
      Atomics.add(w, Fifo.DROPPED, 1);
      return false;
    }
    const at = Fifo.ENTRIES + (tail % this.capacity) * 2;
    w[at] = vaddr | 0;
    w[at + 1] = handlerId;
    Atomics.store(w, Fifo.TAIL, (tail + 1) | 0);
    Atomics.notify(w, Fifo.TAIL);
    return true;
  }

  dropped(): number {
    return Atomics.load(this.words, Fifo.DROPPED);
  }

  /** Signals queued and not yet taken by the process. */
  pending(): number {
    return (Atomics.load(this.words, Fifo.TAIL) - Atomics.load(this.words, Fifo.HEAD)) | 0;
  }
}
