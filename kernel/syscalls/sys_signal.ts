/**
 * Address-valued signals (001 §3.1.1): SignalHandler and Signal. SigWait needs no
 * trap: the process waits on its own FIFO page (userland/lib/rt/signals.ts).
 *
 * Delivery maps the sender's address to (segment, offset) through its bindings, then
 * for every binding of that segment computes the receiver's own address for the
 * same offset and queues it if the receiver has a handler there (001 Fig. 2).
 */

import { SIGNAL_REGION } from "../abi/layout.ts";
import type { NodeParts } from "../parts.ts";
import type { Handlers } from "../trap/trap_entry.ts";
import { fail, hex } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import type { HandlerTable } from "../signal/handler_table.ts";

/** Delivers a signal at `from`'s address `vaddr`; returns receivers queued. */
export function deliverSignal(k: NodeParts, from: Process, vaddr: number): number {
  const b = from.space.find(vaddr);
  if (!b) fail("EFAULT", `signal: ${hex(vaddr)} is not mapped`);
  return k.signals.signalSegment(b.segment, vaddr - b.vaddr);
}

/**
 * Registers [vaddr, vaddr+size) with `id` in one of a process's range tables
 * (handlers, or ranges whose signals become events), or with id 0 removes the
 * ranges overlapping it; returns how many were removed. The signal directories of
 * the segments bound where the change lies are rewritten: over the new range, or
 * over the ranges removed (which may reach past [vaddr, vaddr+size)).
 */
export function setRange(
  k: NodeParts,
  p: Process,
  table: HandlerTable,
  vaddr: number,
  size: number,
  id: number,
  max: number,
  what: string,
): number {
  if (vaddr + Math.max(size, 1) > 2 ** 32) fail("EINVAL", `${what}: the range wraps`);
  // The extent the change touches: the new range, or every range removed.
  let first = vaddr, end = vaddr + Math.max(size, 1), removed = 0;
  if (id === 0) {
    const gone = table.removeRanges(vaddr, Math.max(size, 1));
    if (gone.length === 0) return 0;
    removed = gone.length;
    first = Math.min(...gone.map((r) => r.vaddr));
    end = Math.max(...gone.map((r) => r.vaddr + r.size));
  } else {
    if (size === 0) fail("EINVAL", `${what}: size 0`);
    if (table.size >= max) fail("ENOSPC", `${what}: ${max} ranges registered`);
    table.add(vaddr, size, id);
  }
  for (const b of p.space.bindings) {
    if (b.vaddr < end && first < b.vaddr + b.size) k.signals.refreshDirectory(b.segment);
  }
  return removed;
}

export function signalHandlers(k: NodeParts): Handlers<"signal_handler" | "signal"> {
  return {
    signal_handler: (p, [vaddr, size, id]) =>
      setRange(k, p, p.handlers, vaddr, size, id, 4096, "SignalHandler"),

    signal: (p, [vaddr]) => {
      if (vaddr >= SIGNAL_REGION) fail("EINVAL", `${hex(vaddr)} is reserved: use kill`);
      p.counters.signalsSent++;
      return deliverSignal(k, p, vaddr);
    },
  };
}
