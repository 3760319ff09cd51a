/**
 * The swap pager's page-location table: which slot of backing store holds each
 * page it took (segment, page → slot). A slot is one page on the swap disk (byte
 * offset slot × 4 KiB) and, where the memory server gave room for it, one page of
 * the remote pool (servers/pager/remote_pool.ts). Slots are reused once their
 * segment is freed.
 */

export class SlotTable {
  /** The slots the disk has room for. */
  readonly capacity: number;
  readonly #bySegment = new Map<number, Map<number, number>>();
  readonly #free: number[] = [];
  #next = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** The slot holding `page` of `segment`, or -1. */
  find(segment: number, page: number): number {
    return this.#bySegment.get(segment)?.get(page) ?? -1;
  }

  /** The page's slot, taking a fresh one if it has none; -1 when the disk is full. */
  place(segment: number, page: number): number {
    let pages = this.#bySegment.get(segment);
    const had = pages?.get(page);
    if (had !== undefined) return had;
    const slot = this.#free.length > 0
      ? this.#free.pop()!
      : this.#next < this.capacity
      ? this.#next++
      : -1;
    if (slot < 0) return -1;
    if (!pages) this.#bySegment.set(segment, pages = new Map());
    pages.set(page, slot);
    return slot;
  }

  /** Forgets every page of `segment` (it was freed); returns how many slots came back. */
  dropSegment(segment: number): number {
    const pages = this.#bySegment.get(segment);
    if (!pages) return 0;
    this.#bySegment.delete(segment);
    for (const slot of pages.values()) this.#free.push(slot);
    return pages.size;
  }

  /** Slots holding a page now. */
  get used(): number {
    return this.#next - this.#free.length;
  }
}
