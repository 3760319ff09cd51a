/**
 * Tripwires (002 §2.5, §3.3): arm one on a range of local memory (accesses arriving
 * from other nodes) or of a remote segment (this node's own accesses to it, seen as
 * they complete), and disarm it. Testing and waiting need no system call: the fired
 * bits and the event queue are in the process's event page, handed to it on its
 * first Tripwire. A process may also ask that the signals arriving at a range of its
 * addresses come as SIGNAL events in its queue instead of handler calls.
 */

import { EventPage, MAX_TRIPWIRES, TripwireFlag } from "../abi/layout.ts";
import type { NodeParts } from "../parts.ts";
import { fail, hex } from "../panic.ts";
import {
  eventPage,
  localTarget,
  MAX_ARMED,
  MAX_KEYS_PER_PROCESS,
  outgoingTarget,
  TripwireTable,
  validTripwireId,
  type WireTarget,
} from "../remote/tripwires.ts";
import type { Handlers } from "../trap/trap_entry.ts";
import { setRange } from "./sys_signal.ts";

/** Address ranges one process may have registered with event_signal. */
const MAX_SIGNAL_EVENT_RANGES = 256;

const ALL_FLAGS = TripwireFlag.READ | TripwireFlag.WRITE | TripwireFlag.OUTGOING |
  TripwireFlag.EVENT;

export function tripwireHandlers(
  k: NodeParts,
): Handlers<"tripwire_arm" | "tripwire_disarm" | "event_signal"> {
  return {
    tripwire_arm: (p, [id, where, offset, len, flags]) => {
      if (!validTripwireId(id)) fail("EINVAL", `Tripwire ${id} is not in 0..${MAX_TRIPWIRES - 1}`);
      if (flags & ~ALL_FLAGS || !(flags & (TripwireFlag.READ | TripwireFlag.WRITE))) {
        fail("EINVAL", `Tripwire flags ${flags}: READ and/or WRITE, OUTGOING, EVENT`);
      }
      if (len === 0) fail("EINVAL", "a Tripwire watches at least one byte");
      let target: WireTarget, first: number;
      if (flags & TripwireFlag.OUTGOING) {
        const d = p.descriptors.get(where);
        if (!d) fail("EBADF", `no descriptor ${where}`);
        if (offset + len > d.size) {
          fail("EINVAL", `${offset}+${len} is outside the ${d.size}-byte remote segment`);
        }
        target = outgoingTarget(d.node, d.exportId);
        first = offset;
      } else {
        if (offset !== 0) fail("EINVAL", "a local Tripwire takes its range from the address");
        const b = p.space.find(where);
        if (!b || where + len > b.vaddr + b.size) {
          fail("EFAULT", `${hex(where)}+${len} is not inside one binding`);
        }
        target = localTarget(b.segment.id);
        first = where - b.vaddr;
      }
      const mine = k.tripwires.armedBy(p.pid);
      if (k.tripwires.armed - mine >= MAX_ARMED) fail("ENOSPC", `${MAX_ARMED} Tripwires armed`);
      const keys = TripwireTable.keysFor(first, first + len);
      if (k.tripwires.keysOf(p.pid) + keys > MAX_KEYS_PER_PROCESS) {
        fail(
          "ENOSPC",
          `Tripwires of pid ${p.pid} would watch more than ${MAX_KEYS_PER_PROCESS} lines or pages`,
        );
      }
      const page = eventPage(p);
      Atomics.and(page, EventPage.BITMAP + (id >>> 5), ~(1 << (id & 31)));
      k.tripwires.arm(p.pid, id, target, first, first + len, flags);
      return 0;
    },

    tripwire_disarm: (p, [id]) => {
      if (!validTripwireId(id)) fail("EINVAL", `Tripwire ${id} is not in 0..${MAX_TRIPWIRES - 1}`);
      return k.tripwires.disarm(p.pid, id) ? 1 : 0;
    },

    event_signal: (p, [vaddr, len, tag]) => {
      const removed = setRange(
        k,
        p,
        p.signalEvents,
        vaddr,
        len,
        tag,
        MAX_SIGNAL_EVENT_RANGES,
        "event_signal",
      );
      if (tag !== 0) eventPage(p); // where the events go (one kernel turn: none missed)
      return removed;
    },
  };
}
