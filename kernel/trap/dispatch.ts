/**
 * Trap dispatch: decode (validate every argument word against the ABI table), then
 * perform (the handler). A request that fails decoding gets EINVAL and never reaches
 * a handler; a handler reports a process's mistake by throwing KernelError, which
 * becomes a status code. Nothing in a trap page can raise a kernel exception: an
 * unexpected one is reported on the console as a kernel bug and answered with EIO.
 */

import { Errno } from "../abi/errors.ts";
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

export interface Decoded {
  spec: SyscallSpec;
  args: number[];
}

/** Decodes the request in a trap page, or throws KernelError(EINVAL). */
export function decode(trap: Int32Array): Decoded {
  const sysno = trap[Trap.SYSNO];
  const spec = syscallByNumber(sysno);
  if (!spec) throw new KernelError("EINVAL", `no system call number ${sysno}`);
  const args: number[] = [];
  for (let i = 0; i < spec.args.length; i++) {
    const v = trap[Trap.ARG0 + i];
    const kind = spec.args[i];
    if (!CHECK[kind](v)) {
      throw new KernelError("EINVAL", `${spec.name}: argument ${i} (${kind}) is ${v}`);
    }
    args.push(kind === "u32" || kind === "vaddr" || kind === "len" ? v >>> 0 : v);
  }
  for (let i = spec.args.length; i < TRAP_ARGS; i++) args.push(trap[Trap.ARG0 + i]);
  if (spec.data === "in" || spec.data === "inout") {
    const len = trap[Trap.DATA_LEN];
    if (len < 0 || len > DATA_BYTES) {
      throw new KernelError("EINVAL", `${spec.name}: data length ${len} exceeds ${DATA_BYTES}`);
    }
  }
  return { spec, args };
}

export interface Outcome {
  errno: number;
  result: number;
  result2: number;
  detail: string;
  blocked: boolean;
}

/** Runs a decoded request's handler and turns the reply or error into an outcome. */
export function perform(
  handlers: Record<string, Handler>,
  p: Process,
  d: Decoded,
  onBug: (e: unknown) => void,
): Outcome {
  try {
    const reply = handlers[d.spec.name](p, d.args);
    if (reply === BLOCKED) return { errno: 0, result: 0, result2: 0, detail: "", blocked: true };
    if (typeof reply === "number") {
      return { errno: 0, result: reply, result2: 0, detail: "", blocked: false };
    }
    return { errno: 0, ...reply, detail: "", blocked: false };
  } catch (e) {
    if (e instanceof KernelError) return failure(e);
    onBug(e);
    return { errno: Errno.EIO, result: -1, result2: 0, detail: String(e), blocked: false };
  }
}

/** Turns a KernelError into an outcome. */
export function failure(e: KernelError): Outcome {
  return { errno: e.errno, result: -1, result2: 0, detail: e.message, blocked: false };
}
