/**
 * The meta-instructions (000 §3.1.1) and their controls: WRITE (from the message
 * registers, or a block from local memory), READ, CAS, the sticky error status,
 * pin/unpin and write inhibit. All are non-blocking: each checks what the issuing
 * side can check (descriptor, staleness, node state, rights, bounds, alignment),
 * sends one request and returns its sequence number; completion is seen in the
 * destination memory, in the trap page's REMOTE_DONE count, or by a notification.
 */

import {
  DMA_CAPACITY,
  MREGS_BYTES,
  MREGS_OFFSET,
  PAGE_SHIFT,
  Rights,
  Trap,
} from "../abi/layout.ts";
import { HEARTBEAT_BYTES, MAILBOX_BYTES, REGISTRY_BYTES, WellKnown } from "../abi/names.ts";
import type { Kernel } from "../kernel.ts";
import { supplyRange } from "../memory/segment_access.ts";
import type { Segment } from "../memory/segment.ts";
import { FrameType, MAX_PAYLOAD } from "../net/wire.ts";
import { fail, hex } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import type { Handler } from "../trap/dispatch.ts";
import type { Descriptor } from "../remote/descriptor_table.ts";
import { dmaQueue, drainDma } from "../remote/dma_queue.ts";

/** What an importer may assume of each well-known export (the owner checks again). */
const WELL_KNOWN: Record<number, { name: string; rights: number; size: number }> = {
  [WellKnown.REGISTRY]: { name: "names.registry", rights: Rights.READ, size: REGISTRY_BYTES },
  [WellKnown.HEARTBEAT]: { name: "kernel.heartbeat", rights: Rights.READ, size: HEARTBEAT_BYTES },
  [WellKnown.MAILBOX]: {
    name: "names.mailbox",
    rights: Rights.READ | Rights.WRITE,
    size: MAILBOX_BYTES,
  },
};

/** The descriptor `id` of `p` if it can be used for `need` at [off, off+count). */
export function usableDescriptor(
  k: Kernel,
  p: Process,
  id: number,
  need: number,
  off: number,
  count: number,
): Descriptor {
  const d = p.descriptors.get(id);
  if (!d) fail("EBADF", `no descriptor ${id}`);
  if (d.stale) fail("ESTALE", `descriptor ${id} (${d.name}) was revoked`);
  if (k.nodeDown(d.node)) fail("EHOSTDOWN", `node ${d.node} is down`);
  if (!(d.rights & need)) fail("EPERM", `descriptor ${id} lacks the right ${need}`);
  if (off + count > d.size) {
    fail("EINVAL", `offset ${off}+${count} is outside the ${d.size}-byte segment`);
  }
  return d;
}

export function remoteHandlers(k: Kernel): Record<string, Handler> {
  const usable = (p: Process, id: number, need: number, off: number, count: number) =>
    usableDescriptor(k, p, id, need, off, count);

  /** A local segment the caller holds with write rights, for a deposit at [off, off+n). */
  const deposit = (p: Process, id: number, off: number, n: number): Segment => {
    const seg = k.segments.get(id);
    if (!seg) fail("EBADF", `no segment ${id}`);
    if (!((seg.holders.get(p.pid) ?? 0) & Rights.WRITE)) {
      fail("EPERM", `pid ${p.pid} cannot write segment ${id}`);
    }
    if (off + n > seg.size) fail("EINVAL", `deposit at ${off}+${n} is outside segment ${id}`);
    if (!supplyRange(seg, off, n)) fail("EIO", `segment ${id} could not be paged in`);
    return seg;
  };

  return {
    remote_write: (p, [id, off, count, notify]) => {
      if (count === 0 || count > MREGS_BYTES) fail("EINVAL", `WRITE of ${count} bytes (1..40)`);
      const d = usable(p, id, Rights.WRITE, off, count);
      // The registers are encoded into the frame before the trap returns: no copy.
      return k.remote.write(
        p,
        d,
        off,
        notify !== 0,
        new Uint8Array(p.trapBuffer, MREGS_OFFSET, count),
      );
    },

    remote_write_block: (p, [id, off, vaddr, count, notify]) => {
      if (count > MAX_PAYLOAD) fail("EINVAL", `block of ${count} bytes exceeds ${MAX_PAYLOAD}`);
      const d = usable(p, id, Rights.WRITE, off, count);
      return k.remote.write(p, d, off, notify !== 0, readLocal(p, vaddr, count));
    },

    remote_read: (p, [id, soff, count, local, doff, notify]) => {
      if (count > MAX_PAYLOAD) fail("EINVAL", `READ of ${count} bytes exceeds ${MAX_PAYLOAD}`);
      const d = usable(p, id, Rights.READ, soff, count);
      const seg = deposit(p, local, doff, count);
      return k.remote.issue(FrameType.READ, d, { offset: soff, count, notify: false }, {
        proc: p,
        descId: id,
        local: seg,
        localOffset: doff,
        notify: notify !== 0,
      });
    },

    remote_cas: (p, [id, doff, local, soff, oldValue, newValue]) => {
      if (doff & 3) fail("EINVAL", `CAS at offset ${doff} is not 4-aligned`);
      if (soff & 3) fail("EINVAL", `CAS result at offset ${soff} is not 4-aligned`);
      const d = usable(p, id, Rights.CAS, doff, 4);
      const seg = deposit(p, local, soff, 4);
      return k.remote.issue(FrameType.CAS, d, {
        offset: doff,
        count: 4,
        notify: false,
        arg0: oldValue,
        arg1: newValue,
      }, { proc: p, descId: id, local: seg, localOffset: soff, notify: false });
    },

    dma_flush: (p) => {
      dmaQueue(p); // made and handed over on the first call
      // The kernel emptied the ring before serving this trap (serveTrap): report it.
      let n = p.dmaTaken;
      for (let got = 1; got > 0;) n += got = drainDma(k, p, DMA_CAPACITY);
      return n;
    },

    remote_status: (p) => {
      const errors = Atomics.exchange(p.trap, Trap.REMOTE_ERRORS, 0);
      const errno = Atomics.exchange(p.trap, Trap.REMOTE_ERRNO, 0);
      Atomics.store(p.trap, Trap.REMOTE_ERR_DESC, 0);
      return { result: errors, result2: errno };
    },

    pin: (p, [vaddr, len]) => pinRange(p, vaddr, len, +1),
    unpin: (p, [vaddr, len]) => pinRange(p, vaddr, len, -1),

    write_inhibit: (p, [exportId, on]) => {
      const e = k.exports.get(exportId);
      if (!e || e.owner !== p.pid) fail("EPERM", `export ${exportId} is not the caller's`);
      e.inhibited = on !== 0;
      return 0;
    },

    import_wellknown: (p, [node, which]) => {
      const known = WELL_KNOWN[which];
      if (!known) fail("EINVAL", `no well-known export ${which}`);
      if (which === WellKnown.MAILBOX && p !== k.clerk) {
        fail("EPERM", "only the name clerk writes other clerks' mailboxes");
      }
      if (k.nodeDown(node)) fail("EHOSTDOWN", `node ${node} is down`);
      return p.descriptors.add({ ...known, node, exportId: which, genHi: 0, genLo: 0 }).id;
    },
  };
}

/** Copies `count` bytes of the caller's memory at `vaddr` (for a block WRITE). */
export function readLocal(p: Process, vaddr: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  let done = 0;
  while (done < count) {
    const at = vaddr + done;
    const b = p.space.find(at);
    if (!b) fail("EFAULT", `block WRITE source ${hex(at)} is not mapped`);
    const off = at - b.vaddr;
    const n = Math.min(count - done, b.size - off);
    if (!supplyRange(b.segment, off, n)) fail("EIO", "source could not be paged in");
    out.set(b.segment.bytes.subarray(off, off + n), done);
    done += n;
  }
  return out;
}

/** Adds `delta` to the pin count of every page of [vaddr, vaddr+len), making them resident. */
function pinRange(p: Process, vaddr: number, len: number, delta: number): number {
  const b = p.space.find(vaddr);
  if (!b || vaddr + len > b.vaddr + b.size) {
    fail("EINVAL", `pin: ${hex(vaddr)}+${len} is not inside one binding`);
  }
  const first = (vaddr - b.vaddr) >>> PAGE_SHIFT;
  const last = (vaddr + len - 1 - b.vaddr) >>> PAGE_SHIFT;
  const pins = b.segment.pins;
  for (let i = first; i <= last; i++) {
    if (delta < 0 && pins[i] === 0) fail("EINVAL", `unpin: page ${i} is not pinned`);
  }
  for (let i = first; i <= last; i++) {
    if (delta > 0 && b.segment.fault(i) === "failed") fail("EIO", "page could not be pinned");
    pins[i] += delta;
  }
  return last - first + 1;
}
