/**
 * The kernel's two failure tiers (STYLE: errors in three tiers). A `KernelError`
 * is a mistake a process made: the dispatcher turns it into a status code. A
 * `panic` is a broken kernel invariant.
 */

import { Errno, type ErrnoName } from "./abi/errors.ts";

export class KernelError extends Error {
  readonly errno: number;
  constructor(code: ErrnoName, detail: string) {
    super(detail);
    this.name = "KernelError";
    this.errno = Errno[code];
  }
}

/** Throws a KernelError: `fail("EINVAL", "size 0 is not a valid segment size")`. */
export function fail(code: ErrnoName, detail: string): never {
  throw new KernelError(code, detail);
}

/** Stops on a broken invariant, naming where and why. */
export function panic(where: string, why: string): never {
  throw new Error(`kernel panic in ${where}: ${why}`);
}

/** Formats an address as the kernel prints it: 0x0000abcd. */
export function hex(vaddr: number): string {
  return "0x" + (vaddr >>> 0).toString(16).padStart(8, "0");
}
