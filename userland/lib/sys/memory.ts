/**
 * Segment system calls (001 §3.2 CreateSegment; binding as in 000 §3.1): create a
 * segment, bind it into this address space, share it, protect pages, release it.
 */

import {
  FAULT_ADDRESS,
  NotifyPolicy,
  Rights,
  SegMode,
  SegUnit,
} from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { type FaultFunction, forgetBinding, noteBinding, registerHandler } from "../rt/signals.ts";
import { trap, trapReply } from "../rt/trap.ts";
import { discardLines, discardSegmentLines } from "../rt/mmu.ts";

export interface SegmentOptions {
  mode?: number;
  unit?: number;
  notifyPolicy?: number;
}

/**
 * CreateSegment(size, mode, unit, notifyPolicy): a new segment of `size` bytes
 * (rounded up to pages), zero-filled on first touch. Returns its id.
 */
export function CreateSegment(
  size: number,
  mode: number = SegMode.NORMAL,
  unit: number = SegUnit.CACHE_LINE,
  notifyPolicy: number = NotifyPolicy.NEVER,
): number {
  return trap(Sys.create_segment, size, mode, unit, notifyPolicy);
}

/**
 * Maps segment `id` at `vaddr` (page-aligned; 0 lets the kernel choose) with `rights`.
 * Returns the address it was bound at.
 */
export function bind(id: number, vaddr = 0, rights: number = Rights.READ | Rights.WRITE): number {
  // Recorded before the trap's safe point, where signals on it may already run.
  return trapReply(Sys.bind, [id, vaddr, rights], { before: (at) => noteBinding(id, at >>> 0) })
    .result >>> 0;
}

/**
 * Makes the message segment an imported descriptor names bindable here, and returns
 * a segment id to `bind`: the segment itself when it lives on this node, else this
 * node's replica of it, which every completed unit reaches as one best-effort
 * datagram (001 §3.2.3). Rights are the descriptor's READ and WRITE. Blocks until the
 * owner has accepted the binding (ETIMEDOUT if it never answers).
 */
export function attach(descriptor: number): number {
  return trap(Sys.attach, descriptor);
}

/** Unmaps the binding that starts at `vaddr` (its unfinished message lines are discarded). */
export function unbind(vaddr: number): void {
  discardLines(vaddr);
  trap(Sys.unbind, vaddr);
  forgetBinding(vaddr >>> 0);
}

/** Gives up this process's right to segment `id`, unbinding it. */
export function release(id: number): void {
  discardSegmentLines(id);
  trap(Sys.release, id);
  forgetBinding(null, id);
}

/** Lets process `pid` bind segment `id` with `rights` (at most the caller's). */
export function grant(id: number, pid: number, rights: number = Rights.READ | Rights.WRITE): void {
  trap(Sys.grant, id, pid, rights);
}

/** Sets the rights of the pages in [vaddr, vaddr+len): 0, READ, or READ|WRITE. */
export function protect(vaddr: number, len: number, rights: number): void {
  trap(Sys.protect, vaddr, len, rights);
}

/** Anonymous memory: a fresh segment bound read-write; returns its address. */
export function allocate(size: number): number {
  return bind(CreateSegment(size));
}

/**
 * Installs a protection-fault handler (a SignalHandler at FAULT_ADDRESS). It runs
 * synchronously at the faulting access with the faulting address and access; if it
 * returns, the access is retried once.
 */
export function onFault(fn: (faultVaddr: number, access: number) => void): number {
  const handler: FaultFunction = (_at, vaddr, access) => fn(vaddr, access);
  return registerHandler(FAULT_ADDRESS, 4, handler);
}
