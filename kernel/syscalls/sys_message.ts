/**
 * Memory-based messaging (001 §3): the kernel's half of automatic signal-on-write,
 * and binding a message segment that lives on another node.
 *
 * `unit_complete` is what the emulated memory system cannot do by itself. The
 * process's MMU detects the store that writes the last byte of a unit (userland/lib/
 * mmu.ts); on the software path it always traps here, and the kernel maps the
 * address, queues the signal and wakes the receivers (the paper's software-only
 * implementation, 001 §5.1). On the hardware path the MMU posts the signal into the
 * receivers' FIFOs itself and traps only when the unit must also travel to another
 * node, or when the segment's directory cannot say who receives.
 */

import { type ErrnoName, errnoName } from "../abi/errors.ts";
import { PAGE_SHIFT, Rights, SegMode, Trap, unitBytes, UnitDone } from "../abi/layout.ts";
import type { Kernel } from "../kernel.ts";
import { fail, hex } from "../panic.ts";
import { BLOCKED, type Handler } from "../trap/dispatch.ts";
import { usableDescriptor } from "./sys_remote.ts";

export function messageHandlers(k: Kernel): Record<string, Handler> {
  return {
    unit_complete: (p, [vaddr, what]) => {
      if (what === 0 || (what & ~(UnitDone.SIGNAL | UnitDone.SEND)) !== 0) {
        fail("EINVAL", `unit_complete: what ${what} (1 signal, 2 send)`);
      }
      const b = p.space.find(vaddr);
      if (!b) fail("EFAULT", `unit_complete: ${hex(vaddr)} is not mapped`);
      const seg = b.segment;
      if (seg.mode === SegMode.NORMAL) {
        fail("EINVAL", `unit_complete: ${hex(vaddr)} is not in a message segment`);
      }
      if (!(b.pageRights[(vaddr - b.vaddr) >>> PAGE_SHIFT] & Rights.WRITE)) {
        fail("EPERM", `unit_complete: ${hex(vaddr)} is not writable`);
      }
      const offset = (vaddr - b.vaddr) & ~(unitBytes(seg.unit) - 1);
      let n = 0;
      if ((what & UnitDone.SIGNAL) && seg.mode === SegMode.MESSAGE) {
        p.counters.signalsSent++;
        n = k.signalSegment(seg, offset);
      }
      if ((what & UnitDone.SEND) && seg.channel) k.channels.send(seg, offset);
      return n;
    },

    attach: (p, [id]) => {
      const d = usableDescriptor(k, p, id, Rights.READ, 0, 0);
      let result = -1, errno = 0, sync = true;
      k.channels.attach(p, d, (e, seg) => {
        errno = e;
        if (seg && p.state === "running") {
          // A write-inhibited local export binds read-only (a remote one's units are
          // refused at the owner).
          const inhibited = d.node === k.nodeId && k.exports.get(d.exportId)?.inhibited;
          const rights = Rights.READ | (inhibited ? 0 : d.rights & Rights.WRITE);
          seg.holders.set(p.pid, (seg.holders.get(p.pid) ?? 0) | rights);
          result = seg.id;
        } else if (seg) k.maybeFreeSegment(seg); // it died while waiting: nothing leaks
        if (!sync) {
          k.completeBlocked(p, result, errno, 0, errno ? `cannot attach ${d.name}` : "");
        }
      });
      sync = false;
      if (result >= 0 || errno !== 0) {
        if (errno !== 0) fail(errnoName(errno) as ErrnoName, `cannot attach ${d.name}`);
        return result;
      }
      p.blocked = { sysno: p.trap[Trap.SYSNO], cancel: () => {} };
      return BLOCKED;
    },
  };
}
