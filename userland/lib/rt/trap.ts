/**
 * The trap: how a process enters its kernel. The request goes in the trap page
 * (system-call number, argument words, data area); STATE goes PENDING; if the kernel
 * sleeps, the doorbell rings. The process then spins on STATE for a while and, if
 * the kernel has not answered, sleeps in Atomics.wait (STATE = SLEEPING tells the
 * kernel to notify). Spin-then-block: the spin wins when the kernel is awake, the
 * block keeps a waiting process off the CPU.
 *
 * On the way out every trap passes a safe point (`afterTrap`): memory the kernel
 * handed over is collected, a TLB shootdown is honoured, and queued signals run.
 */

import { receiveMessageOnPort } from "node:worker_threads";
import { SysError } from "../../../kernel/abi/errors.ts";
import {
  DATA_BYTES,
  DATA_OFFSET,
  Doorbell,
  Trap,
  TRAP_PAGE_BYTES,
  TrapState,
} from "../../../kernel/abi/layout.ts";
import { syscallByNumber } from "../../../kernel/abi/syscalls.ts";
import { runtime } from "./runtime.ts";
import { endWorker } from "./lockdown.ts";
import { spin } from "./spin.ts";
import type { MemoryGrant } from "../../../kernel/abi/boot.ts";

const R = runtime;
const T: Int32Array = R ? R.trap : new Int32Array(TRAP_PAGE_BYTES / 4);
const DB: Int32Array = R ? R.doorbell : new Int32Array(4);
const DATA = new Uint8Array(T.buffer, DATA_OFFSET, DATA_BYTES);
/** The trap's spin count: the runtime's trap policy (spin.ts), 0 on a block-only node. */
const SPIN = spin.kernel.count;
let grantsSeen = 0;

/** Segment buffers handed over by the kernel, by slot. */
export const slots: (SharedArrayBuffer | undefined)[] = [];
/** Each slot's segment id and signal directory (hardware signal path). */
export const slotSegment: number[] = [];
export const slotDirectory: (Int32Array | undefined)[] = [];
/** The event page (Tripwire bits and the event queue), once the kernel has made it. */
export const events: { page: Int32Array | null } = { page: null };
/** The DMA queue (002 §3.4), once the kernel has made it. */
export const dma: { queue: Int32Array | null } = { queue: null };
/** Other processes' signal FIFOs this process may post to, by pid. */
export const fifos = new Map<number, Int32Array>();

/**
 * The handler of page faults on segments this process pages itself (set by
 * sys/pager.ts onPageFault; run by mmu.ts in the faulting thread), and whether
 * it is running.
 */
export const ownPager: {
  handler: ((segment: number, info: number) => void) | null;
  busy: boolean;
} = { handler: null, busy: false };

/** Hooks run at the safe point after each trap (set by mmu.ts and signals.ts). */
export const safePoint = {
  epoch: (_epoch: number) => {},
  signals: () => {},
};

/**
 * Parks the MMU while the process waits outside a trap (a signal or event wait),
 * which makes no store through it: the kernel may evict a page this process maps
 * without waiting for its TLB shootdown to be acknowledged (kernel/memory/
 * pager_table.ts). `unparkTlb` ends it; the next access reads TLB_EPOCH after that
 * Atomics store, so it sees every shootdown the kernel made while it was parked.
 * Nothing between the two may touch memory through the MMU or run a handler.
 */
export function parkTlb(): void {
  Atomics.store(T, Trap.TLB_PARKED, 1);
}

export function unparkTlb(): void {
  Atomics.store(T, Trap.TLB_PARKED, 0);
}

/** Rings the kernel's doorbell if it sleeps: something was posted for it. */
export function ringDoorbell(): void {
  if (Atomics.load(T, Trap.KERNEL_SLEEPING) !== 0) {
    Atomics.add(DB, Doorbell.SEQ, 1);
    Atomics.notify(DB, Doorbell.SEQ, 1);
  }
}

/** Posts a request and waits for the kernel's answer; returns the error code. */
function enter(
  sysno: number,
  a0: number,
  a1: number,
  a2: number,
  a3: number,
  a4: number,
  a5: number,
): number {
  const t = T;
  t[Trap.SYSNO] = sysno;
  t[Trap.ARG0] = a0;
  t[Trap.ARG0 + 1] = a1;
  t[Trap.ARG0 + 2] = a2;
  t[Trap.ARG0 + 3] = a3;
  t[Trap.ARG0 + 4] = a4;
  t[Trap.ARG0 + 5] = a5;
  // IDLE to PENDING, unless the kernel has ended the process (ENDED is for good).
  if (
    Atomics.compareExchange(t, Trap.STATE, TrapState.IDLE, TrapState.PENDING) !== TrapState.IDLE
  ) ended(t);
  ringDoorbell();
  awaitCompletion(t);
  if (Atomics.load(t, Trap.STATE) !== TrapState.DONE) ended(t);
  return t[Trap.ERRNO];
}

function leave(errno: number, sysno: number): void {
  // On failure the kernel leaves the reason in the data area: take it before the
  // safe point, whose handlers may trap again.
  const detail = errno !== 0 ? takeData() : "";
  if (Atomics.compareExchange(T, Trap.STATE, TrapState.DONE, TrapState.IDLE) !== TrapState.DONE) {
    ended(T);
  }
  afterTrap(T);
  if (errno !== 0) {
    throw new SysError(errno, syscallByNumber(sysno)?.name ?? `trap ${sysno}`, detail);
  }
}

/**
 * Traps into the kernel with up to six argument words. Returns RESULT, or throws
 * SysError carrying the kernel's error code. Allocates nothing on success.
 */
export function trap(sysno: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  const errno = enter(sysno, a0, a1, a2, a3, a4, a5);
  const result = T[Trap.RESULT];
  leave(errno, sysno);
  return result;
}

/** RESULT2 of the last `trapWith2` that succeeded (lastResult2). */
let last2 = 0;

/**
 * Traps like `trap` with two argument words, and keeps RESULT2 for `lastResult2`:
 * the MMU's page-fault trap, which must allocate nothing.
 */
export function trapWith2(sysno: number, a0: number, a1: number): number {
  const errno = enter(sysno, a0, a1, 0, 0, 0, 0);
  const result = T[Trap.RESULT], result2 = T[Trap.RESULT2];
  leave(errno, sysno);
  // Set after the safe point, whose handlers may have made traps of their own.
  last2 = result2;
  return result;
}

/** RESULT2 of the last `trapWith2` that succeeded. */
export function lastResult2(): number {
  return last2;
}

/** The whole answer of a trap, taken before the safe point can run other traps. */
export interface TrapReply {
  result: number;
  result2: number;
  /** The data area as text, when asked for with `data: "text"`. */
  data: string;
  /** The data area's bytes, when asked for with `data: "bytes"`. */
  bytes: Uint8Array | null;
}

export interface TrapReplyOptions {
  /** Take the data area as text or as bytes. */
  data?: "text" | "bytes";
  /** Runs on success before the trap's safe point (and so before any handler). */
  before?: (result: number) => void;
}

/** Traps like `trap` and also returns RESULT2 and, if asked, the data area. */
export function trapReply(
  sysno: number,
  args: readonly number[],
  opts: TrapReplyOptions = {},
): TrapReply {
  const a = (i: number) => args[i] ?? 0;
  const errno = enter(sysno, a(0), a(1), a(2), a(3), a(4), a(5));
  const len = Math.max(0, Math.min(T[Trap.DATA_LEN], DATA_BYTES));
  const reply = {
    result: T[Trap.RESULT],
    result2: T[Trap.RESULT2],
    data: opts.data === "text" ? takeData() : "",
    bytes: opts.data === "bytes" ? DATA.slice(0, len) : null,
  };
  if (errno === 0) opts.before?.(reply.result);
  leave(errno, sysno);
  return reply;
}

/**
 * The one spin-then-wait loop written inline rather than with spin.ts' helpers:
 * trap completion is the hottest wait (null-trap), and through the helper's
 * closure it measured about 10% slower (README, Benchmarks: "Spinning"). Its
 * count is the kernel policy's, spin.kernel.
 */
function awaitCompletion(t: Int32Array): void {
  for (let i = SPIN; i > 0; i--) {
    if (Atomics.load(t, Trap.STATE) >= TrapState.DONE) return;
  }
  // Then on, up to TRAP_SPIN_MS, while the kernel is awake and not holding the trap
  // for something slow (KERNEL_HOLDS): a copy, or a page the kernel READs from
  // remote memory, takes µs to tens of µs, and a sleep's wake-up as long again.
  if (SPIN > 0) {
    const until = performance.now() + TRAP_SPIN_MS;
    while (
      Atomics.load(t, Trap.KERNEL_HOLDS) === 0 && Atomics.load(t, Trap.KERNEL_SLEEPING) === 0
    ) {
      for (let i = 64; i > 0; i--) if (Atomics.load(t, Trap.STATE) >= TrapState.DONE) return;
      if (performance.now() > until) break;
    }
  }
  if (Atomics.compareExchange(t, Trap.STATE, TrapState.PENDING, TrapState.SLEEPING) !== 1) return;
  while (Atomics.load(t, Trap.STATE) === TrapState.SLEEPING) {
    Atomics.wait(t, Trap.STATE, TrapState.SLEEPING);
  }
}

/** The longest a trap spins on a kernel serving it (after the counted spin), ms. */
const TRAP_SPIN_MS = 0.05;

/**
 * The trap found STATE neither IDLE (on entry) nor DONE (on exit): the kernel has
 * ended the process (exit, kill, fault). The worker stops here, its thread freed.
 */
function ended(t: Int32Array): never {
  const s = Atomics.load(t, Trap.STATE);
  if (s !== TrapState.ENDED) throw new Error(`trap page corrupted: STATE ${s}`);
  endWorker();
}

function afterTrap(t: Int32Array): void {
  if (t[Trap.GRANTS] !== grantsSeen) collectGrants();
  safePoint.epoch(Atomics.load(t, Trap.TLB_EPOCH));
  safePoint.signals();
}

/** Takes all memory the kernel has posted on the memory port. */
export function collectGrants(): void {
  const want = Atomics.load(T, Trap.GRANTS);
  while (grantsSeen !== want) {
    const m = receiveMessageOnPort(R!.memoryPort as any);
    if (!m) break; // posted but not yet visible: the next safe point takes it
    const g = m.message as MemoryGrant;
    if (g.kind === "segment") {
      slots[g.slot] = g.buffer;
      slotSegment[g.slot] = g.segment;
      slotDirectory[g.slot] = new Int32Array(g.directory);
    } else if (g.kind === "fifo") {
      fifos.set(g.pid, new Int32Array(g.buffer));
    } else if (g.kind === "dma") {
      dma.queue = new Int32Array(g.buffer);
    } else {
      events.page = new Int32Array(g.buffer);
    }
    grantsSeen++;
  }
}

/** Returns the buffer for a slot, collecting grants first if it is not here yet. */
export function slotBuffer(slot: number): SharedArrayBuffer | undefined {
  if (slots[slot] === undefined) collectGrants();
  return slots[slot];
}

// ---------------------------------------------------------------------------
// The data area: strings in and out of a trap.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes as much of `text` as fits into the data area; returns characters consumed. */
export function putData(text: string): number {
  const r = encoder.encodeInto(text, DATA);
  T[Trap.DATA_LEN] = r.written;
  return r.read;
}

/** Decodes the data area as the kernel left it. */
function takeData(): string {
  const len = T[Trap.DATA_LEN];
  return decoder.decode(DATA.slice(0, Math.max(0, Math.min(len, DATA_BYTES))));
}

/** Direct access to the trap page, for tests that forge requests and for the MMU. */
export function trapPage(): Int32Array {
  return T;
}
