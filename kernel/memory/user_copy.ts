/**
 * Copies out of and into a process's memory through its address space (xv6
 * copyin, copyout): the source of a block WRITE, from the trap or the DMA queue;
 * a disk command's buffer (kernel/dev/disk_rings.ts). A page its pager must supply
 * first throws PageWanted: a trap waits for it and is served again.
 */

import { Access, Rights } from "../abi/layout.ts";
import { fail, hex } from "../panic.ts";
import type { AddressSpace } from "./address_space.ts";
import { requireRange, storeBytes } from "./segment_access.ts";

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
    requireRange(b.segment, off, n, Access.READ, "source");
    out.set(b.segment.bytes.subarray(off, off + n), done);
    done += n;
  }
  return out;
}

/**
 * Checks that `space` maps [vaddr, vaddr+count) with `rights` (bindings' rights);
 * throws EFAULT naming the first address that is not.
 */
export function checkLocal(space: AddressSpace, vaddr: number, count: number, rights: number) {
  if (vaddr + count > 2 ** 32) fail("EFAULT", `${hex(vaddr)}+${count} wraps the address space`);
  for (let done = 0; done < count;) {
    const at = vaddr + done;
    const b = space.find(at);
    if (!b) fail("EFAULT", `${hex(at)} is not mapped`);
    if (rights & ~b.rights) fail("EFAULT", `${hex(at)} is not mapped with rights ${rights}`);
    done += Math.min(count - done, b.size - (at - b.vaddr));
  }
}

/** Copies `bytes` into the memory `space` maps writable at `vaddr`; EFAULT where it does not. */
export function writeLocal(space: AddressSpace, vaddr: number, bytes: Uint8Array): void {
  checkLocal(space, vaddr, bytes.length, Rights.WRITE);
  for (let done = 0; done < bytes.length;) {
    const at = vaddr + done;
    const b = space.find(at)!;
    const off = at - b.vaddr;
    const n = Math.min(bytes.length - done, b.size - off);
    requireRange(b.segment, off, n, Access.WRITE, "destination");
    storeBytes(b.segment, off, bytes.subarray(done, done + n));
    done += n;
  }
}
