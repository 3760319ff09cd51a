/**
 * Address-valued signals (001 §3.1.1): SignalHandler and Signal. SigWait needs no
 * trap: the process waits on its own FIFO page (userland/lib/signals.ts).
 *
 * Delivery maps the sender's address to (segment, offset) through its bindings, then
 * for every binding of that segment computes the receiver's own address for the
 * same offset and queues it if the receiver has a handler there (001 Fig. 2).
 */

import { SIGNAL_REGION } from "../abi/layout.ts";
import type { Handler } from "../trap/dispatch.ts";
import type { Kernel } from "../kernel.ts";
import { fail, hex } from "../panic.ts";
import type { Process } from "../proc/process.ts";

/** Delivers a signal at `from`'s address `vaddr`; returns receivers queued. */
export function deliverSignal(k: Kernel, from: Process, vaddr: number): number {
  const b = from.space.find(vaddr);
  if (!b) fail("EFAULT", `signal: ${hex(vaddr)} is not mapped`);
  return k.signalSegment(b.segment, vaddr - b.vaddr);
}

export function signalHandlers(k: Kernel): Record<string, Handler> {
  return {
    signal_handler: (p, [vaddr, size, id]) => {
      if (vaddr + Math.max(size, 1) > 2 ** 32) fail("EINVAL", "handler range wraps");
      let removed = 0;
      if (id === 0) removed = p.handlers.remove(vaddr, Math.max(size, 1));
      else {
        if (size === 0) fail("EINVAL", "SignalHandler: size 0");
        if (p.handlers.size >= 4096) fail("ENOSPC", "too many handler ranges");
        p.handlers.add(vaddr, size, id);
      }
      // Only the segments bound where the handler range lies have new directories.
      const end = vaddr + Math.max(size, 1);
      for (const b of p.space.bindings) {
        if (b.vaddr < end && vaddr < b.vaddr + b.size) k.refreshDirectory(b.segment);
      }
      return removed;
    },

    signal: (p, [vaddr]) => {
      if (vaddr >= SIGNAL_REGION) fail("EINVAL", `${hex(vaddr)} is reserved: use kill`);
      p.counters.signalsSent++;
      return deliverSignal(k, p, vaddr);
    },
  };
}
