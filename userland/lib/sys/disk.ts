/**
 * The disk device's one system call (kernel/dev/disk_table.ts): claim a disk as
 * its driver. Everything else goes through the device segment's rings; the
 * driver library is userland/lib/dev/disk.ts.
 */

import { Sys } from "../../../kernel/abi/syscalls.ts";
import { trap } from "../rt/trap.ts";

/**
 * Makes this process the driver of disk `unit` of its node (it needs the service
 * capability; one driver at a time, until it exits) and returns the id of the
 * device segment that only it may bind. Throws SysError: ENOENT (no such disk),
 * EPERM (no service capability), EBUSY (another process drives it).
 */
export function diskAttach(unit: number): number {
  return trap(Sys.disk_attach, unit);
}
