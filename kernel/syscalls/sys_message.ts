/**
 * Memory-based messaging (001 §3): the kernel's half of automatic signal-on-write,
 * and binding a message segment that lives on another node.
 *
 * `unit_complete` is what the emulated memory system cannot do by itself. The
 * process's MMU detects the store that writes the last byte of a unit (userland/lib/rt/
 * mmu.ts); on the software path it always traps here, and the kernel maps the
 * address, queues the signal and wakes the receivers (the paper's software-only
 * implementation, 001 §5.1). On the hardware path the MMU posts the signal into the
 * receivers' FIFOs itself and traps only when the unit must also travel to another
 * node, or when the segment's directory cannot say who receives.
 */

import { PAGE_SHIFT, Rights, SegMode, unitBytes, UnitDone } from "../abi/layout.ts";
import type { NodeParts } from "../parts.ts";
import { fail, hex } from "../panic.ts";
import { usableDescriptor } from "../remote/descriptor_table.ts";
import { BLOCKED } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";

export function messageHandlers(n: NodeParts): Handlers<"unit_complete" | "attach"> {
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
      let count = 0;
      if ((what & UnitDone.SIGNAL) && seg.mode === SegMode.MESSAGE) {
        p.counters.signalsSent++;
        count = n.signals.signalSegment(seg, offset);
      }
      if ((what & UnitDone.SEND) && seg.channel) n.channels.send(seg, offset);
      return count;
    },

    attach: (p, [id]) => {
      const d = usableDescriptor(p.descriptors, (node) => n.nodeDown(node), id, Rights.READ, 0, 0);
      // The answer may come at once (a local export) or after the owner's (a JOIN).
      const w = n.traps.block(p);
      n.channels.attach(p, d, (errno, seg) => {
        if (seg && !w.pending) return n.segments.maybeFree(seg); // it died waiting: nothing leaks
        if (!seg) return void w.fail(errno, `cannot attach ${d.name}`);
        // A write-inhibited local export binds read-only (a remote one's units are
        // refused at the owner).
        const inhibited = d.node === n.nodeId && n.exports.get(d.exportId)?.inhibited;
        n.segments.grant(seg, p.pid, Rights.READ | (inhibited ? 0 : d.rights & Rights.WRITE));
        w.complete(seg.id);
      });
      return BLOCKED;
    },
  };
}
