/**
 * Address-valued signals in the process (001 §3.1): SignalHandler, Signal, SigWait.
 *
 * The kernel queues [address, handler id] pairs in this process's signal FIFO page;
 * the runtime runs them at safe points: inside SigWait, on return from any trap
 * (trap.ts calls `drainSignals`), and when the program's event loop is idle (an
 * Atomics.waitAsync on the FIFO's TAIL). Delivery is FIFO (001 §3.1.1), and a signal
 * arriving while a handler runs waits in the FIFO: handlers never nest.
 *
 * A handler that throws ends the process ("crashed in signal handler"), as a fault
 * in a Unix signal handler would. Protection faults are the exception: the MMU runs
 * the FAULT_ADDRESS handler synchronously and an exception it throws propagates to
 * the faulting access (the JavaScript way to abandon the computation).
 */

import { FAULT_ADDRESS, Fifo } from "../../kernel/abi/layout.ts";
import { Sys } from "../../kernel/abi/syscalls.ts";
import { runtime } from "./runtime.ts";
import { safePoint, trap } from "./trap.ts";

/** A signal handler receives the signalled address, translated into this process. */
export type SignalFunction = (vaddr: number) => void;
/** A fault handler also receives the faulting address and access (Access.READ/WRITE). */
export type FaultFunction = (vaddr: number, faultVaddr: number, access: number) => void;

const F: Int32Array = runtime ? runtime.fifo : new Int32Array(Fifo.ENTRIES + 2);
const CAP = runtime ? runtime.fifoCapacity : 1;
const SPIN = runtime ? runtime.spin : 0;
const handlers: (SignalFunction | FaultFunction | undefined)[] = [];
let nextId = 1;
let inHandler = false;
let idleArmed = false;
let faultHandlerId = 0;
let crash: (what: string, err: unknown) => never = (_w, err) => {
  throw err;
};
safePoint.signals = drainSignals;

/** Sets what happens when a handler throws (process_entry.ts: end the process). */
export function setCrashHandler(onCrash: typeof crash): void {
  crash = onCrash;
}

/**
 * SignalHandler(vaddr, size, fn): calls `fn` with the (translated) address of every
 * signal on [vaddr, vaddr+size). Returns the handler's id. Well-known addresses
 * (`signalAddress(Sig.SIGTERM)`, `FAULT_ADDRESS`) take handlers the same way.
 *
 * @example
 * ```ts
 * SignalHandler(base, 4096, (addr) => println(`message at ${addr}`));
 * ```
 */
export function SignalHandler(vaddr: number, size: number, fn: SignalFunction | FaultFunction): number {
  const id = nextId++;
  handlers[id] = fn;
  try {
    trap(Sys.signal_handler, vaddr, size, id);
  } catch (e) {
    handlers[id] = undefined;
    throw e;
  }
  if (covers(vaddr, size, FAULT_ADDRESS)) faultHandlerId = id;
  armIdle();
  return id;
}

function covers(vaddr: number, size: number, at: number): boolean {
  return at >= vaddr && at - vaddr < size;
}

/** Removes every handler range overlapping [vaddr, vaddr+size); returns how many. */
export function removeSignalHandler(vaddr: number, size = 1): number {
  const n = trap(Sys.signal_handler, vaddr, size, 0);
  if (covers(vaddr, size, FAULT_ADDRESS)) faultHandlerId = 0;
  return n;
}

/**
 * Signal(vaddr): delivers an address-valued signal to every process (this one too)
 * with a handler on the location `vaddr` maps to. Returns how many were queued.
 */
export function Signal(vaddr: number): number {
  return trap(Sys.signal, vaddr);
}

/**
 * SigWait(timeoutMs): runs queued signal handlers, waiting up to `timeoutMs` for the
 * first one. Returns the time remaining in milliseconds (0 when it timed out). Spins
 * briefly before it blocks.
 */
export function SigWait(timeoutMs: number): number {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (drainSignals() > 0) return Math.max(0, deadline - performance.now());
    const tail = Atomics.load(F, Fifo.TAIL);
    if (tail !== Atomics.load(F, Fifo.HEAD)) continue;
    let spun = false;
    for (let i = SPIN; i > 0; i--) {
      if (Atomics.load(F, Fifo.TAIL) !== tail) {
        spun = true;
        break;
      }
    }
    if (spun) continue;
    const left = deadline - performance.now();
    if (left <= 0) return 0;
    Atomics.wait(F, Fifo.TAIL, tail, left);
  }
}

/**
 * Runs every queued signal's handler, in order; returns how many ran. Does nothing
 * inside a handler (signals arriving then wait their turn in the FIFO).
 */
export function drainSignals(): number {
  if (inHandler) return 0;
  const f = F;
  let head = f[Fifo.HEAD];
  if (head === Atomics.load(f, Fifo.TAIL)) return 0;
  inHandler = true;
  let n = 0;
  try {
    while (head !== Atomics.load(f, Fifo.TAIL)) {
      const at = Fifo.ENTRIES + ((head >>> 0) % CAP) * 2;
      const vaddr = f[at] >>> 0;
      const id = f[at + 1];
      head = (head + 1) | 0;
      Atomics.store(f, Fifo.HEAD, head);
      f[Fifo.HANDLED]++;
      n++;
      const fn = handlers[id] as SignalFunction | undefined;
      if (!fn) continue; // removed after the signal was queued
      try {
        fn(vaddr);
      } catch (err) {
        crash(`signal handler for 0x${vaddr.toString(16)}`, err);
      }
    }
  } finally {
    inHandler = false;
  }
  return n;
}

/**
 * Runs the handler the kernel would pick for FAULT_ADDRESS (the latest range that
 * covers it), with the faulting address and access (mmu.ts only).
 */
export function runFaultHandler(vaddr: number, access: number): void {
  const fn = handlers[faultHandlerId] as FaultFunction | undefined;
  if (fn) fn(FAULT_ADDRESS, vaddr, access);
}

/** Keeps an Atomics.waitAsync on the FIFO so handlers run when the program is idle. */
function armIdle(): void {
  if (idleArmed) return;
  idleArmed = true;
  const wait = () => {
    const tail = Atomics.load(F, Fifo.TAIL);
    const w = Atomics.waitAsync(F, Fifo.TAIL, tail);
    const next = () => {
      drainSignals();
      wait();
    };
    if (w.async) w.value.then(next);
    else queueMicrotask(next);
  };
  wait();
}

/** Signals this process has handled and dropped (its FIFO's counters). */
export function signalCounters(): { handled: number; dropped: number; pending: number } {
  return {
    handled: Atomics.load(F, Fifo.HANDLED),
    dropped: Atomics.load(F, Fifo.DROPPED),
    pending: (Atomics.load(F, Fifo.TAIL) - Atomics.load(F, Fifo.HEAD)) | 0,
  };
}
