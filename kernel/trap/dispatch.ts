/**
 * Trap decoding: every argument word is validated against the ABI table before a
 * handler runs (seL4's decode/perform split), so a request that fails decoding gets
 * EINVAL and never reaches a handler. Handlers report a process's mistake by
 * throwing KernelError; the kernel (kernel.ts `#serve`) turns it into a status code,
 * and answers any other exception with EIO after reporting it as a kernel bug.
 */

import {
  DATA_BYTES,
  MAX_SEGMENT_BYTES,
  MAX_SIGNO,
  NotifyPolicy,
  RIGHTS_ALL,
  SegMode,
  SegUnit,
  Trap,
  TRAP_ARGS,
} from "../abi/layout.ts";
import { type ArgKind, InfoKind, syscallByNumber, type SyscallSpec } from "../abi/syscalls.ts";
import { KernelError } from "../panic.ts";
import type { Process } from "../proc/process.ts";

/** What a handler returns: a result, a pair of results, or BLOCKED (completed later). */
export type Reply = number | { result: number; result2: number } | typeof BLOCKED;
export const BLOCKED = Symbol("blocked");

export type Handler = (p: Process, args: number[]) => Reply;

const inRange = (lo: number, hi: number) => (v: number) => v >= lo && v <= hi;
const oneOf = (values: object) => {
  const set = new Set(Object.values(values));
  return (v: number) => set.has(v);
};

/** Validators for each argument kind, applied to the signed 32-bit word. */
const CHECK: Record<ArgKind, (v: number) => boolean> = {
  u32: () => true,
  i32: () => true,
  vaddr: () => true, // range checks need the address space: done by the handler
  len: (v) => (v >>> 0) > 0 && (v >>> 0) <= MAX_SEGMENT_BYTES,
  pid: (v) => v > 0,
  wpid: (v) => v > 0 || v === -1,
  rights: (v) => v > 0 && (v & ~RIGHTS_ALL) === 0,
  mode: oneOf(SegMode),
  unit: oneOf(SegUnit),
  policy: oneOf(NotifyPolicy),
  signo: inRange(1, MAX_SIGNO),
  timeout: (v) => v >= -1,
  fd: inRange(1, 2),
  info: oneOf(InfoKind),
};

/**
 * Decodes the request in a trap page into `args` (reused across traps: the fast path
 * allocates nothing) and returns its table row, or throws KernelError(EINVAL).
 */
export function decode(trap: Int32Array, args: number[]): SyscallSpec {
  const sysno = trap[Trap.SYSNO];
  const spec = syscallByNumber(sysno);
  if (!spec) throw new KernelError("EINVAL", `no system call number ${sysno}`);
  const kinds = spec.args;
  for (let i = 0; i < TRAP_ARGS; i++) {
    const v = trap[Trap.ARG0 + i];
    if (i < kinds.length) {
      const kind = kinds[i];
      if (!CHECK[kind](v)) {
        throw new KernelError("EINVAL", `${spec.name}: argument ${i} (${kind}) is ${v}`);
      }
      args[i] = kind === "u32" || kind === "vaddr" || kind === "len" ? v >>> 0 : v;
    } else args[i] = v;
  }
  if (spec.data === "in" || spec.data === "inout") {
    const len = trap[Trap.DATA_LEN];
    if (len < 0 || len > DATA_BYTES) {
      throw new KernelError("EINVAL", `${spec.name}: data length ${len} exceeds ${DATA_BYTES}`);
    }
  }
  return spec;
}
