/**
 * Remote memory for programs (000 §3.1): export a segment by name, import one as a
 * descriptor, and the non-blocking meta-instructions WRITE, READ and CAS on it.
 *
 * A meta-instruction returns as soon as its request is on the network; its
 * completion shows in the destination memory, as a notification (a signal at the
 * local address for READ with notify), or in this process's completion counters
 * (`remoteCounters`, read without a trap). A request the owner refused comes back
 * as an error completion: counted, with its code, sticky until `remoteStatus()`.
 *
 * @example
 * ```ts
 * const { desc } = importSegment("counter", { hint: 0 });
 * const before = remoteCounters();
 * WRITE(desc, 0, new Uint8Array([1, 2, 3, 4]));
 * awaitRemote(before, 1000); // wait for the owner's answer
 * ```
 */

import { MREGS_BYTES, MREGS_OFFSET, RIGHTS_ALL, Trap } from "../../../kernel/abi/layout.ts";
import { LookupFlag, NO_HINT } from "../../../kernel/abi/names.ts";
import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { putData, trap, trapPage, trapReply } from "../rt/trap.ts";
import { spin, waitUntil } from "../rt/spin.ts";

const MREGS = new Uint8Array(trapPage().buffer, MREGS_OFFSET, MREGS_BYTES);
const MREGS_WORDS = new Int32Array(trapPage().buffer, MREGS_OFFSET, MREGS_BYTES / 4);

/** This process's node. */
export function nodeId(): number {
  return trapPage()[Trap.NODE];
}

export interface ExportOptions {
  /** Only these nodes may use the export (default: any). */
  nodes?: number[];
  /** Only these remote pids may use it (default: any). */
  pids?: number[];
  /**
   * A descriptor: only the process that exported what it names may use it, on its
   * node (the kernel knows that process once the descriptor is attached, or at once
   * for a local one). For a connection's segments, exported to its peer alone. Not
   * with `nodes` or `pids`.
   */
  peer?: number;
}

/** Exports a segment the caller holds under `name`; returns the export id. */
export function exportSegment(
  segment: number,
  name: string,
  rights: number = RIGHTS_ALL,
  opts: ExportOptions = {},
): number {
  putData(JSON.stringify({
    name,
    nodes: opts.nodes ?? null,
    pids: opts.pids ?? null,
    peer: opts.peer ?? null,
  }));
  return trap(Sys.export, segment, rights);
}

export interface ImportOptions {
  /** The node to look on if the name is not known locally. */
  hint?: number;
  /** Skip the local clerk's cache and read the hinted node's registry. */
  forceRemote?: boolean;
  /** Ask the hinted node's clerk by a notifying remote WRITE instead of reading. */
  byNotify?: boolean;
}

/** Imports `name`; returns a descriptor and the segment's size. */
export function importSegment(
  name: string,
  opts: ImportOptions = {},
): { desc: number; size: number } {
  putData(name);
  const flags = (opts.forceRemote ? LookupFlag.FORCE_REMOTE : 0) |
    (opts.byNotify ? LookupFlag.BY_NOTIFY : 0);
  const r = trapReply(Sys.import, [opts.hint ?? NO_HINT, flags]);
  return { desc: r.result, size: r.result2 >>> 0 };
}

/** Revokes the caller's export of `name`: every descriptor for it goes stale. */
export function revoke(name: string): void {
  putData(name);
  trap(Sys.revoke);
}

/** WRITE(rd, off, count, notify) of up to 40 bytes through the message registers. */
export function WRITE(desc: number, offset: number, data: Uint8Array, notify = false): number {
  if (data.length > MREGS_BYTES) {
    throw new SysError(
      Errno.EMSGSIZE,
      "WRITE",
      `${data.length} bytes: WRITE carries at most ${MREGS_BYTES}; use writeBlock`,
    );
  }
  MREGS.set(data);
  return trap(Sys.remote_write, desc, offset, data.length, notify ? 1 : 0);
}

/**
 * WRITE of one 32-bit word (little-endian), put straight into the message
 * registers: the flags and counters of the protocols on remote memory, with no
 * buffer made per write.
 */
export function WRITE32(desc: number, offset: number, value: number, notify = false): number {
  MREGS_WORDS[0] = value;
  return trap(Sys.remote_write, desc, offset, 4, notify ? 1 : 0);
}

/** The block variant of WRITE: `count` bytes from local memory at `vaddr`. */
export function writeBlock(
  desc: number,
  offset: number,
  vaddr: number,
  count: number,
  notify = false,
): number {
  return trap(Sys.remote_write_block, desc, offset, vaddr, count, notify ? 1 : 0);
}

/** READ(rs, soff, count, rd, doff, notify): deposits into local segment `rd` at `doff`. */
export function READ(
  rs: number,
  soff: number,
  count: number,
  rd: number,
  doff: number,
  notify = false,
): number {
  return trap(Sys.remote_read, rs, soff, count, rd, doff, notify ? 1 : 0);
}

/** CAS(rd, doff, rs, soff, old, new): deposits 1 (swapped) or 0 at local (rs, soff). */
export function CAS(
  rd: number,
  doff: number,
  rs: number,
  soff: number,
  oldValue: number,
  newValue: number,
): number {
  return trap(Sys.remote_cas, rd, doff, rs, soff, oldValue | 0, newValue | 0);
}

export interface RemoteCounters {
  /** Requests completed successfully. */
  done: number;
  /** Error completions since the last remoteStatus(). */
  errors: number;
  /** The last error code and the descriptor it came from. */
  errno: number;
  desc: number;
}

/** Reads this process's completion counters from its trap page (no trap). */
export function remoteCounters(): RemoteCounters {
  const t = trapPage();
  return {
    done: Atomics.load(t, Trap.REMOTE_DONE),
    errors: Atomics.load(t, Trap.REMOTE_ERRORS),
    errno: Atomics.load(t, Trap.REMOTE_ERRNO),
    desc: Atomics.load(t, Trap.REMOTE_ERR_DESC),
  };
}

/** Returns and clears the sticky error completions. */
export function remoteStatus(): { errors: number; errno: number } {
  const r = trapReply(Sys.remote_status, []);
  return { errors: r.result, errno: r.result2 };
}

/**
 * Waits for the completion of the request issued after `before` was read (pass the
 * `remoteCounters()` taken just before issuing), spinning and then blocking on the
 * counter (the kernel wakes it on every completion). Throws SysError with the error
 * code if an error completion arrives instead, and ETIMEDOUT after `timeoutMs`.
 * Signals are not handled while it waits. `spinUs` spins that long (timed) before
 * it blocks, instead of the node's count (still none on a block-only node): for a
 * caller whose answer comes in tens of µs (a 4 KiB READ), which would otherwise
 * pay a wake-up for it.
 *
 * @example
 * ```ts
 * const before = remoteCounters();
 * WRITE(desc, 0, bytes);
 * awaitRemote(before);
 * ```
 */
export function awaitRemote(before: RemoteCounters, timeoutMs = 5_000, spinUs?: number): void {
  awaitedDone = (before.done + 1) | 0;
  awaitedErrors = before.errors;
  // The spin follows the node's policy (none on a block-only node) unless `spinUs`
  // fixes a timed one, then it blocks on the counter; the kernel wakes it on every
  // completion, errors included.
  const us = spin.kernel.on ? spinUs : undefined;
  if (!waitUntil(spin.kernel, TP, Trap.REMOTE_DONE, remoteAnswered, timeoutMs, us)) {
    throw new SysError(Errno.ETIMEDOUT, "remote request", `no answer in ${timeoutMs} ms`);
  }
  if (((Atomics.load(TP, Trap.REMOTE_DONE) - awaitedDone) | 0) >= 0) return;
  throw new SysError(Atomics.load(TP, Trap.REMOTE_ERRNO), "remote request");
}

/** What awaitRemote waits for (module state: the wait allocates nothing). */
let awaitedDone = 0;
let awaitedErrors = 0;
const TP = trapPage();
const remoteAnswered = () =>
  ((Atomics.load(TP, Trap.REMOTE_DONE) - awaitedDone) | 0) >= 0 ||
  Atomics.load(TP, Trap.REMOTE_ERRORS) !== awaitedErrors;

/** Pins the pages of [vaddr, vaddr+len) resident; returns how many pages. */
export function pin(vaddr: number, len: number): number {
  return trap(Sys.pin, vaddr, len);
}

/** Unpins pages pinned with `pin`. */
export function unpin(vaddr: number, len: number): number {
  return trap(Sys.unpin, vaddr, len);
}

/** Turns write inhibit on or off for one of the caller's exports (000 §3.1.1). */
export function writeInhibit(exportId: number, on: boolean): void {
  trap(Sys.write_inhibit, exportId, on ? 1 : 0);
}

/** A read-only descriptor for a node's well-known export (the name service's bootstrap). */
export function importWellKnown(node: number, which: number): number {
  return trap(Sys.import_wellknown, node, which);
}

/** Makes the caller its node's name clerk; returns the channel segment's id. */
export function clerkAttach(registrySegment: number, mailboxSegment: number): number {
  return trap(Sys.clerk_attach, registrySegment, mailboxSegment);
}

/**
 * Closes one of this process's descriptors (from `importSegment` or
 * `importWellKnown`): its id is never reused, and using it again, or closing it
 * again, fails with EBADF. A process's descriptors close when it exits.
 */
export function closeDescriptor(desc: number): void {
  trap(Sys.descriptor_close, desc);
}
