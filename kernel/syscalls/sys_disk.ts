/**
 * Device system calls: a driver claims a disk (kernel/dev/disk_table.ts). Commands
 * need no system call of their own: they go through the device segment's rings,
 * and the doorbell is a Signal on it.
 */

import type { NodeParts } from "../parts.ts";
import type { Handlers } from "../trap/trap_entry.ts";

export function diskHandlers(n: NodeParts): Handlers<"disk_attach"> {
  return {
    disk_attach: (p, [unit]) => n.disks.attach(p, unit),
  };
}
