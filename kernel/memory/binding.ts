/**
 * A binding: one segment mapped into one process at a virtual address, with rights.
 * `pageRights` holds the per-page rights after `protect`, never more than `rights`.
 */

import type { Segment } from "./segment.ts";

export interface Binding {
  readonly pid: number;
  readonly vaddr: number;
  readonly size: number;
  readonly segment: Segment;
  readonly rights: number;
  /** The process's slot for the segment's buffer (its index in the runtime's table). */
  readonly slot: number;
  readonly pageRights: Uint8Array;
}

/** True if `vaddr` lies inside the binding. */
export function bindingContains(b: Binding, vaddr: number): boolean {
  return vaddr >= b.vaddr && vaddr < b.vaddr + b.size;
}
