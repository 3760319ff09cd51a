/**
 * A process's signal handler registrations (001 §3.1.1 `SignalHandler`): ranges of
 * its own virtual address space, each with the id of a handler function that lives
 * in the process. The kernel matches a translated signal address against them;
 * the most recently registered range that contains the address wins.
 */

export interface HandlerRange {
  readonly vaddr: number;
  readonly size: number;
  readonly id: number;
}

export class HandlerTable {
  readonly ranges: HandlerRange[] = [];

  /** Registers a handler on [vaddr, vaddr+size). */
  add(vaddr: number, size: number, id: number): void {
    this.ranges.push({ vaddr, size, id });
  }

  /** Removes every range that overlaps [vaddr, vaddr+size); returns how many. */
  remove(vaddr: number, size: number): number {
    return this.removeRanges(vaddr, size).length;
  }

  /** Removes every range that overlaps [vaddr, vaddr+size); returns them. */
  removeRanges(vaddr: number, size: number): HandlerRange[] {
    const gone: HandlerRange[] = [];
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i];
      if (vaddr < r.vaddr + r.size && r.vaddr < vaddr + size) {
        this.ranges.splice(i, 1);
        gone.push(r);
      }
    }
    return gone;
  }

  /** Returns the handler id for `vaddr`, or 0 if no range contains it. */
  lookup(vaddr: number): number {
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i];
      if (vaddr >= r.vaddr && vaddr - r.vaddr < r.size) return r.id;
    }
    return 0;
  }

  get size(): number {
    return this.ranges.length;
  }
}
