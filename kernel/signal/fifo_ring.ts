/**
 * The signal FIFO as emulated hardware: a bounded multi-producer, single-consumer
 * ring in a shared page, run by the kernel and by senders' memory systems (the
 * producers) and by the process's runtime (the consumer). Pure functions on the
 * page's words, so both sides share one algorithm.
 *
 * An entry is [sequence, a, b, 0]. A producer reserves position t by advancing TAIL
 * with compareExchange (dropping and counting if t − HEAD ≥ capacity), writes a and
 * b, then publishes by storing sequence = t + 1. The consumer at HEAD = h takes the
 * entry once its sequence is h + 1, so a reserved but unpublished entry is never
 * read half-written.
 *
 * A signal should move one cache line between two processors, the entry's, and
 * nothing else: layout.ts keeps the consumer's words (HEAD), the producers' words
 * (TAIL) and the rarely written ones on separate lines; the consumer watches the
 * entry, not TAIL, while it spins; and producers check for room against HEAD_SEEN,
 * the last HEAD any of them read, reading the consumer's HEAD only when that says
 * the ring may be full. HEAD only grows, so HEAD_SEEN is never ahead of it: the
 * check can only be too cautious, and then it reads HEAD.
 *
 * A producer that dies between reserving and publishing (a worker terminated
 * mid-post) leaves a hole; the kernel counts such deaths in PRODUCER_DEATHS, and the
 * consumer skips one stuck entry per death, never an entry of a producer that is
 * merely slow.
 *
 * Entry kinds: b > 0 is a translated signal (a = the receiver's address, b = its
 * handler id), posted by the kernel; b < 0 is a physical address (a = offset,
 * −b = segment id), posted on the hardware path and translated by the receiver.
 */

import { Fifo, FIFO_ENTRY_WORDS } from "../abi/layout.ts";

/** The FIFO's capacity, from its size: never from a word its consumer can write. */
export function fifoCapacity(w: Int32Array): number {
  return ((w.length - Fifo.ENTRIES) / FIFO_ENTRY_WORDS) | 0;
}

/** The word index of the entry for position `pos`. */
export function fifoCell(cap: number, pos: number): number {
  return Fifo.ENTRIES + ((pos >>> 0) % cap) * FIFO_ENTRY_WORDS;
}

/** Posts one entry; returns false (and counts a drop) when the FIFO is full. */
export function fifoPost(w: Int32Array, a: number, b: number): boolean {
  const cap = fifoCapacity(w);
  const every = w[Fifo.LOSS_EVERY];
  if (every > 0 && (Atomics.add(w, Fifo.POSTS, 1) + 1) % every === 0) {
    Atomics.add(w, Fifo.DROPPED, 1); // injected loss
    return false;
  }
  for (;;) {
    const t = Atomics.load(w, Fifo.TAIL);
    if (((t - Atomics.load(w, Fifo.HEAD_SEEN)) | 0) >= cap) {
      const head = Atomics.load(w, Fifo.HEAD);
      Atomics.store(w, Fifo.HEAD_SEEN, head);
      if (((t - head) | 0) >= cap) {
        Atomics.add(w, Fifo.DROPPED, 1);
        return false;
      }
    }
    if (Atomics.compareExchange(w, Fifo.TAIL, t, (t + 1) | 0) !== t) continue;
    const at = fifoCell(cap, t);
    w[at + 1] = a;
    w[at + 2] = b;
    Atomics.store(w, at, (t + 1) | 0);
    if (Atomics.load(w, Fifo.WAITING) !== 0) Atomics.notify(w, Fifo.TAIL);
    return true;
  }
}

/** Entries reserved and not yet consumed. */
export function fifoPending(w: Int32Array): number {
  return (Atomics.load(w, Fifo.TAIL) - Atomics.load(w, Fifo.HEAD)) | 0;
}
