/**
 * The meta-instructions (000 §3.1.1) and their controls: WRITE (from the message
 * registers, or a block from local memory), READ, CAS, the sticky error status,
 * pin/unpin and write inhibit. All are non-blocking: each checks what the issuing
 * side can check (descriptor, staleness, node state, rights, bounds, alignment),
 * sends one request and returns its sequence number; completion is seen in the
 * destination memory, in the trap page's REMOTE_DONE count, or by a notification.
 */

import { Access, DMA_CAPACITY, MREGS_BYTES, MREGS_OFFSET, Rights, Trap } from "../abi/layout.ts";
import { WELL_KNOWN_EXPORTS } from "../abi/names.ts";
import { pinRange } from "../memory/pins.ts";
import { requireRange } from "../memory/segment_access.ts";
import type { Segment } from "../memory/segment.ts";
import { readLocal } from "../memory/user_copy.ts";
import { FrameType } from "../net/wire.ts";
import { MAX_PAYLOAD } from "../remote/memory_frames.ts";
import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { usableDescriptor } from "../remote/descriptor_table.ts";
import { dmaQueue } from "../remote/dma_queue.ts";
import type { Handlers } from "../trap/trap_entry.ts";

type RemoteCalls =
  | "remote_write"
  | "remote_write_block"
  | "remote_read"
  | "remote_cas"
  | "dma_flush"
  | "remote_status"
  | "pin"
  | "unpin"
  | "write_inhibit"
  | "import_wellknown"
  | "descriptor_close";

export function remoteHandlers(n: NodeParts): Handlers<RemoteCalls> {
  const nodeDown = (node: number) => n.nodeDown(node);
  const usable = (p: Process, id: number, need: number, off: number, count: number) =>
    usableDescriptor(p.descriptors, nodeDown, id, need, off, count);

  /** A local segment the caller holds with write rights, for a deposit at [off, off+len). */
  const deposit = (p: Process, id: number, off: number, len: number): Segment => {
    const seg = n.segments.get(id);
    if (!seg) fail("EBADF", `no segment ${id}`);
    if (!((seg.holders.get(p.pid) ?? 0) & Rights.WRITE)) {
      fail("EPERM", `pid ${p.pid} cannot write segment ${id}`);
    }
    if (off + len > seg.size) fail("EINVAL", `deposit at ${off}+${len} is outside segment ${id}`);
    requireRange(seg, off, len, Access.WRITE, "deposit");
    return seg;
  };

  return {
    remote_write: (p, [id, off, count, notify]) => {
      if (count === 0 || count > MREGS_BYTES) fail("EINVAL", `WRITE of ${count} bytes (1..40)`);
      const d = usable(p, id, Rights.WRITE, off, count);
      // The registers are encoded into the frame before the trap returns: no copy.
      return n.remote.write(
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
      return n.remote.write(p, d, off, notify !== 0, readLocal(p.space, vaddr, count));
    },

    remote_read: (p, [id, soff, count, local, doff, notify]) => {
      if (count > MAX_PAYLOAD) fail("EINVAL", `READ of ${count} bytes exceeds ${MAX_PAYLOAD}`);
      const d = usable(p, id, Rights.READ, soff, count);
      const seg = deposit(p, local, doff, count);
      return n.remote.issue(FrameType.READ, d, { offset: soff, count, notify: false }, {
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
      return n.remote.issue(FrameType.CAS, d, {
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
      let taken = p.dmaTaken;
      for (let got = 1; got > 0;) taken += got = n.traps.drainDma(p, DMA_CAPACITY);
      return taken;
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
      const e = n.exports.get(exportId);
      if (!e || e.owner !== p.pid) fail("EPERM", `export ${exportId} is not the caller's`);
      e.inhibited = on !== 0;
      return 0;
    },

    import_wellknown: (p, [node, which]) => {
      const known = WELL_KNOWN_EXPORTS[which];
      if (!known) fail("EINVAL", `no well-known export ${which}`);
      if (known.importer !== null && !n.services.holds(p, known.importer)) {
        fail("EPERM", `only the holder of ${known.importer} may import ${known.name}`);
      }
      if (n.nodeDown(node)) fail("EHOSTDOWN", `node ${node} is down`);
      const { name, rights, size } = known;
      return p.descriptors.add({ name, rights, size, node, exportId: which, genHi: 0, genLo: 0 })
        .id;
    },

    descriptor_close: (p, [id]) => {
      if (!p.descriptors.close(id)) fail("EBADF", `no descriptor ${id}`);
      return 0;
    },
  };
}
