/**
 * tripwire_arm and tripwire_disarm with bad arguments: each refused with a typed
 * error, and the process carries on (it then arms and disarms one properly).
 * Reports {errors, long (five arms over 64 MiB), disarmUnarmed, armed, disarmed}.
 */

import { allocate, Sys, trap, TripwireFlag } from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(): number {
  const at = allocate(4096);
  const W = TripwireFlag.WRITE;
  const arm = (...a: number[]) => attempt(() => trap(Sys.tripwire_arm, ...a));
  const errors = {
    idTooBig: arm(4096, at, 0, 4, W),
    noAccess: arm(1, at, 0, 4, TripwireFlag.EVENT),
    unknownFlag: arm(1, at, 0, 4, W | 64),
    empty: arm(1, at, 0, 0, W),
    unmapped: arm(1, 0x7000_0000, 0, 4, W),
    pastBinding: arm(1, at + 4000, 0, 200, W),
    localOffset: arm(1, at, 8, 4, W),
    badDescriptor: arm(1, 999, 0, 4, W | TripwireFlag.OUTGOING),
    disarmBadId: attempt(() => trap(Sys.tripwire_disarm, -1)),
  };
  // Long ranges cost a bucket entry per page: 65536 per process, then ENOSPC.
  const big = allocate(64 * 1024 * 1024); // 16384 pages
  const long = [10, 11, 12, 13, 14].map((id) => arm(id, big, 0, 64 * 1024 * 1024, W));
  for (const id of [10, 11, 12, 13]) trap(Sys.tripwire_disarm, id);
  const disarmUnarmed = trap(Sys.tripwire_disarm, 7);
  const armed = arm(7, at, 0, 4, W);
  const disarmed = trap(Sys.tripwire_disarm, 7);
  report({ errors, long, disarmUnarmed, armed, disarmed });
  return 0;
}
