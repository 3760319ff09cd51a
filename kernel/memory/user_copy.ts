/**
 * Copies out of a process's memory through its address space (xv6 copyin): the
 * source of a block WRITE, from the trap or the DMA queue.
 */

import { fail, hex } from "../panic.ts";
import type { AddressSpace } from "./address_space.ts";
import { supplyRange } from "./segment_access.ts";

/** Copies `count` bytes of the memory `space` maps at `vaddr`; EFAULT where nothing is mapped. */
export function readLocal(space: AddressSpace, vaddr: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  let done = 0;
  while (done < count) {
    const at = vaddr + done;
    const b = space.find(at);
    if (!b) fail("EFAULT", `block WRITE source ${hex(at)} is not mapped`);
    const off = at - b.vaddr;
    const n = Math.min(count - done, b.size - off);
    if (!supplyRange(b.segment, off, n)) fail("EIO", "source could not be paged in");
    out.set(b.segment.bytes.subarray(off, off + n), done);
    done += n;
  }
  return out;
}
