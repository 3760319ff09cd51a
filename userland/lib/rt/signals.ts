/**
 * Address-valued signals in the process (001 §3.1): SignalHandler, Signal, SigWait.
 *
 * Receiving. Signals arrive in this process's FIFO page (kernel/signal/fifo_ring.ts)
 * either translated by the kernel ([address, handler id]) or, on the hardware path,
 * as a physical address ([offset, −segment]) that this runtime translates through
 * its own bindings, as the paper's receiving processor does (001 §3.1.2). They run
 * at safe points: inside SigWait, on return from any trap (trap.ts), and when the
 * program's event loop is idle (an Atomics.waitAsync on the FIFO). Delivery is FIFO
 * (001 §3.1.1); a signal arriving while a handler runs waits its turn: handlers
 * never nest.
 *
 * Sending. On the software path Signal traps and the kernel delivers. On the
 * hardware path the sender's memory system does it without a trap: it translates
 * the address through its page table to (segment, offset), reads the segment's
 * signal directory, and posts the physical address into each receiver's FIFO.
 *
 * A handler that throws ends the process ("crashed in the signal handler for 0x…"). Protection
 * faults are the exception: the MMU runs the FAULT_ADDRESS handler synchronously,
 * and an exception it throws propagates to the faulting access.
 */

import {
  Directory,
  DIRECTORY_MAX_ENTRIES,
  FAULT_ADDRESS,
  Fifo,
  FIFO_ENTRY_WORDS,
  PAGE_MASK,
  PAGE_SHIFT,
  SIGNAL_REGION,
  SignalPath,
  Trap,
  UnitDone,
} from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { walkPageTable } from "../../../kernel/memory/page_table.ts";
import { fifoCapacity, fifoCell, fifoPost } from "../../../kernel/signal/fifo_ring.ts";
import { runtime, stopIfEnded } from "./runtime.ts";
import { nap, spin, spinUntil } from "./spin.ts";
export { nap };
import {
  collectGrants,
  fifos,
  parkTlb,
  safePoint,
  slotDirectory,
  slotSegment,
  trap,
  unparkTlb,
} from "./trap.ts";

/** A signal handler receives the signalled address, translated into this process. */
export type SignalFunction = (vaddr: number) => void;
/** A fault handler also receives the faulting address and access (Access.READ/WRITE). */
export type FaultFunction = (vaddr: number, faultVaddr: number, access: number) => void;

const F: Int32Array = runtime ? runtime.fifo : new Int32Array(Fifo.ENTRIES + FIFO_ENTRY_WORDS);
const CAP = fifoCapacity(F);
const PT: Int32Array = runtime ? runtime.pageTable : new Int32Array(1024);
const HARDWARE = runtime ? runtime.trap[Trap.SIGNAL_PATH] === SignalPath.HARDWARE : false;
/** The trap page, whose TLB_PARKED word a blocked wait sets (null outside a process). */
const PARK: Int32Array | null = runtime ? runtime.trap : null;

const handlers: (SignalFunction | FaultFunction | undefined)[] = [];
/** This process's handler ranges, newest last (the kernel keeps the same list). */
const ranges: { vaddr: number; size: number; id: number }[] = [];
/** Segment id → the addresses this process has it bound at (for translation). */
const bindings = new Map<number, number[]>();
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

/** Records a binding for receive-side translation (memory.ts). */
export function noteBinding(segment: number, vaddr: number): void {
  const list = bindings.get(segment);
  if (list) list.push(vaddr);
  else bindings.set(segment, [vaddr]);
}

/** True while a signal handler runs (signals cannot run then: handlers never nest). */
export function inSignalHandler(): boolean {
  return inHandler;
}

/** How many bindings of `segment` this process has (the MMU's line buffer asks). */
export function boundCount(segment: number): number {
  return bindings.get(segment)?.length ?? 0;
}

/** Forgets the binding at `vaddr`, or every binding of `segment` (memory.ts). */
export function forgetBinding(vaddr: number | null, segment?: number): void {
  if (segment !== undefined) {
    bindings.delete(segment);
    return;
  }
  for (const [seg, list] of bindings) {
    const i = list.indexOf(vaddr as number);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) bindings.delete(seg);
  }
}

function covers(vaddr: number, size: number, at: number): boolean {
  return at >= vaddr && at - vaddr < size;
}

/** The id of the newest handler range containing `vaddr`, or 0. */
function lookup(vaddr: number): number {
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i];
    if (covers(r.vaddr, r.size, vaddr)) return r.id;
  }
  return 0;
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
export function SignalHandler(vaddr: number, size: number, fn: SignalFunction): number {
  return registerHandler(vaddr, size, fn);
}

/** Registers any handler function (memory.ts' onFault registers a FaultFunction). */
export function registerHandler(
  vaddr: number,
  size: number,
  fn: SignalFunction | FaultFunction,
): number {
  const id = nextId++;
  const range = { vaddr: vaddr >>> 0, size: size >>> 0, id };
  // Recorded before the trap: signals may run at its safe point.
  handlers[id] = fn;
  ranges.push(range);
  try {
    trap(Sys.signal_handler, vaddr, size, id);
  } catch (e) {
    handlers[id] = undefined;
    ranges.splice(ranges.indexOf(range), 1);
    throw e;
  }
  if (covers(range.vaddr, range.size, FAULT_ADDRESS)) faultHandlerId = id;
  armIdle();
  return id;
}

/** Removes every handler range overlapping [vaddr, vaddr+size); returns how many. */
export function removeSignalHandler(vaddr: number, size = 1): number {
  const n = trap(Sys.signal_handler, vaddr, size, 0);
  const lo = vaddr >>> 0, hi = lo + Math.max(size, 1);
  for (let i = ranges.length - 1; i >= 0; i--) {
    const r = ranges[i];
    if (lo < r.vaddr + r.size && r.vaddr < hi) {
      ranges.splice(i, 1);
      handlers[r.id] = undefined; // signals already queued for it are ignored
    }
  }
  if (covers(lo, Math.max(size, 1), FAULT_ADDRESS)) faultHandlerId = 0;
  return n;
}

/**
 * Signal(vaddr): delivers an address-valued signal to every process (this one too)
 * with a handler on the location `vaddr` maps to. Returns how many were queued.
 * Throws EFAULT if `vaddr` is not mapped.
 */
export function Signal(vaddr: number): number {
  if (!HARDWARE || (vaddr >>> 0) >= SIGNAL_REGION) return trap(Sys.signal, vaddr);
  const n = postPhysical(vaddr >>> 0);
  return n >= 0 ? n : trap(Sys.signal, vaddr);
}

/**
 * Automatic signal-on-write (001 §3.3): the MMU completed the message unit at
 * `vaddr` (its first byte), which is `offset` in the segment of binding slot `slot`. On the hardware path the signal is posted here, with no
 * trap, to every receiver the segment's directory lists; the kernel is asked only
 * to send the unit to other nodes binding the segment, or to signal when the
 * directory cannot say. On the software path the kernel does all of it.
 */
export function completeUnit(
  vaddr: number,
  signalling: boolean,
  slot: number,
  offset: number,
): void {
  const dir = directoryOf(slot);
  let what = dir === undefined || Atomics.load(dir, Directory.NETWORK) !== 0 ? UnitDone.SEND : 0;
  if (signalling && (!HARDWARE || dir === undefined || postAt(dir, slot, offset) < 0)) {
    what |= UnitDone.SIGNAL;
  }
  if (what !== 0) trap(Sys.unit_complete, vaddr, what);
}

const targets = new Int32Array(64);
const targetFifos: Int32Array[] = new Array(64);

/** The signal directory of binding slot `slot`, taking pending grants if need be. */
function directoryOf(slot: number): Int32Array | undefined {
  if (slotDirectory[slot] === undefined) collectGrants();
  return slotDirectory[slot];
}

/** The FIFO of process `pid`, taking pending grants if need be. */
function fifoOf(pid: number): Int32Array | undefined {
  const f = fifos.get(pid);
  if (f) return f;
  collectGrants();
  return fifos.get(pid);
}

/**
 * The hardware path: posts [offset, −segment] to every receiver in the segment's
 * directory. Returns how many, or −1 when it cannot decide without the kernel (not
 * mapped, directory or a FIFO not handed over yet, too many receivers).
 */
function postPhysical(vaddr: number): number {
  const at = walkPageTable(PT, vaddr >>> PAGE_SHIFT);
  const pte = at < 0 ? 0 : Atomics.load(PT, at);
  if (pte === 0) return -1;
  const slot = PT[at + 1];
  const dir = directoryOf(slot);
  if (dir === undefined) return -1;
  return postAt(dir, slot, (pte >>> PAGE_SHIFT) * (PAGE_MASK + 1) + (vaddr & PAGE_MASK));
}

/** Posts [offset, −segment] to every receiver directory `dir` lists for `offset`. */
function postAt(dir: Int32Array, slot: number, offset: number): number {
  let n = 0;
  // The directory is shared memory: read it under its seqlock, a bounded number of
  // times, and trust no count beyond its size (a process could scribble on it).
  for (let tries = 0;; tries++) {
    if (tries === 64) return -1;
    const v = Atomics.load(dir, Directory.VERSION);
    if (v & 1) continue;
    n = 0;
    const count = Atomics.load(dir, Directory.COUNT);
    if (count < 0 || count > DIRECTORY_MAX_ENTRIES) return -1;
    for (let i = 0; i < count; i++) {
      const e = Directory.ENTRIES + i * 3;
      if (offset < dir[e + 1] || offset >= dir[e + 2]) continue;
      const pid = dir[e];
      let seen = false;
      for (let j = 0; j < n && !seen; j++) seen = targets[j] === pid;
      if (seen) continue;
      if (n === targets.length) return -1;
      targets[n++] = pid;
    }
    if (Atomics.load(dir, Directory.VERSION) === v) break;
  }
  // Every FIFO first: a signal goes to all its receivers or, by the kernel, to none.
  for (let j = 0; j < n; j++) {
    const f = fifoOf(targets[j]);
    if (!f) return -1;
    targetFifos[j] = f;
  }
  const segment = -slotSegment[slot];
  let queued = 0;
  for (let j = 0; j < n; j++) if (fifoPost(targetFifos[j], offset, segment)) queued++;
  return queued;
}

/**
 * SigWait(timeoutMs): runs queued signal handlers, waiting up to `timeoutMs` for the
 * first one. Returns the time remaining in milliseconds (0 when it timed out). Spins
 * briefly before it blocks; the clock starts when the spin ends, so the spin (a few
 * microseconds) is not counted against the timeout. `timed` false: the counted spin
 * only, and the wait tells the signal policy nothing (for a caller that spun on a
 * policy of its own first: the RPC client).
 */
export function SigWait(timeoutMs: number, timed = true): number {
  if (inHandler) return sleepInHandler(timeoutMs);
  const policy = timed ? SPIN : COUNTED;
  let deadline = -1; // read the clock only once spinning has not been enough
  // Spinning: producers need not notify. (Written only on a change: the line is ours.)
  if (F[Fifo.WAITING] !== 0) Atomics.store(F, Fifo.WAITING, 0);
  let woke = false; // woken soon after blocking
  let sleptUs = 0;
  try {
    for (;;) {
      fromPeer = false;
      unparkTlb(); // handlers may touch memory
      if (drainSignals() > 0) {
        // Woken soon after giving up, by a process: a conversation; spin longer next
        // time (a signal the kernel posted ends the timed spin: SPIN's comment).
        if (woke) policy.blocked(sleptUs, true, fromPeer);
        return deadline < 0 ? timeoutMs : Math.max(0, deadline - performance.now());
      }
      // Spin on the next entry; TAIL (the producers' line) is read only to block.
      const head = F[Fifo.HEAD];
      watchCell = fifoCell(CAP, head);
      watchWant = (head + 1) | 0;
      parkTlb(); // no store through the MMU until drainSignals: trap.ts
      if (spinUntil(policy, cellPublished)) continue;
      const tail = Atomics.load(F, Fifo.TAIL);
      if (tail !== head) {
        skipIfAbandoned();
        continue; // reserved, being published
      }
      if (deadline < 0) deadline = performance.now() + timeoutMs;
      const left = deadline - performance.now();
      if (left <= 0) return 0;
      Atomics.store(F, Fifo.WAITING, 1);
      if (Atomics.load(F, Fifo.TAIL) === tail) {
        const slept = performance.now();
        const r = Atomics.wait(F, Fifo.TAIL, tail, left);
        stopIfEnded(); // the kernel wakes TAIL when it ends the process
        sleptUs = (performance.now() - slept) * 1000;
        woke = r !== "timed-out" && sleptUs < Math.max(4 * policy.us, policy.soonUs);
        if (!woke) policy.reset();
      }
      Atomics.store(F, Fifo.WAITING, 0);
    }
  } finally {
    unparkTlb();
    const waiting = idleArmed ? 1 : 0;
    if (F[Fifo.WAITING] !== waiting) Atomics.store(F, Fifo.WAITING, waiting);
    if (idleArmed && published()) queueMicrotask(drainSignals);
  }
}

/**
 * How long SigWait spins before it blocks: the runtime's signal policy (spin.ts).
 * At rest, the process's spin count (KernelConfig.processSpin: a few µs; 0 turns
 * spinning off altogether). A wait that had to block and was woken soon after
 * (within 500 µs, or four spin times) by a signal another process posted starts a
 * timed spin of 50 µs and doubles it on each such wake-up, up to 1 ms: a peer is
 * answering us, and a futex wake-up costs 20 to 200 µs on a VM, far more than an
 * RPC. Any other wait ends the timed spin. Two processes exchanging messages thus
 * stay awake and meet within a microsecond, while a process woken now and then
 * (a server between clients) does not burn its core, and neither does one whose
 * signals come from the kernel: there the kernel's thread must run between the two,
 * and on two cores a long spin would take its place (the software path, remote
 * notifications, the name clerk).
 */
const SPIN = spin.signals;
/** The counted spin alone, adapting nothing (SigWait with `timed` false). */
const COUNTED = spin.kernel;
/** Set when a signal posted by another process (not by the kernel) is taken. */
let fromPeer = false;

/**
 * The spin's condition: the entry SigWait waits for is published in its cell. It
 * watches the cell, not TAIL: the publishing store is the one cache line a signal
 * must move. (Module state, not a closure per wait: the wait allocates nothing.)
 */
let watchCell = 0;
let watchWant = 0;
const cellPublished = () => Atomics.load(F, watchCell) === watchWant;

/**
 * Runs `fn` as if it were a signal handler: signals that arrive meanwhile (on
 * return from a trap it makes) wait in the FIFO instead of running inside it. For
 * libraries that take a message by watching memory rather than on its signal.
 */
export function asHandler(fn: () => void): void {
  if (inHandler) return fn();
  inHandler = true;
  try {
    fn();
  } finally {
    inHandler = false;
  }
}

/**
 * How long SigWait would spin now, in µs: 0 unless a peer process is in a
 * conversation with this one (and never when this process does not spin).
 */
export function spinBudgetUs(): number {
  return SPIN.us; // always 0 on a block-only node
}

/** True if a signal is waiting to be handled (one load of this process's FIFO). */
export function signalPending(): boolean {
  return published();
}

/** True if the next entry is published (read from its cell, not from TAIL). */
function published(): boolean {
  const head = F[Fifo.HEAD];
  return Atomics.load(F, fifoCell(CAP, head)) === ((head + 1) | 0);
}

/** The longest waitInHandler sleeps before it looks again with no signal, ms. */
const LOOK_MS = 1;
/** Its sleep while the FIFO is full (a signal then moves nothing to wake it), ms. */
const FULL_LOOK_MS = 0.05;

/**
 * Waits inside a signal handler until `ready()` is true or `timeoutMs` has passed;
 * returns whether it is ready. Handlers cannot run here (they never nest), but the
 * FIFO still says when something arrives: after the counted spin (the process's
 * spin count, no timed spin) the wait blocks on the FIFO's TAIL as SigWait does,
 * and each signal posted meanwhile wakes it to ask `ready()` again; the signals
 * stay queued and run after the handler. So `ready` must come true before a signal
 * to this process is posted: the RPC client calling out from a procedure watches
 * its reply slot, whose signal follows the reply. No timed spin: what answers a
 * nested call is most often on another node, and the kernel's thread that brings
 * the answer needs the core a spin would take. (It replaces polling in 50 µs naps
 * after a spin of SigWait's budget: on two cores a file clerk spun up to 1 ms twice
 * a call beside its client's spin, the kernel's thread starved, its naps lasted
 * 0.6–0.9 ms, and a forwarded call took 1.9 ms where the same call from a process
 * takes 0.1.)
 */
export function waitInHandler(ready: () => boolean, timeoutMs: number): boolean {
  for (let i = SPIN.count; i > 0; i--) if (ready()) return true;
  const deadline = performance.now() + timeoutMs;
  const waiting = F[Fifo.WAITING];
  // Before TAIL is read: a producer that advances it afterwards then notifies.
  if (waiting === 0) Atomics.store(F, Fifo.WAITING, 1);
  try {
    for (;;) {
      const tail = Atomics.load(F, Fifo.TAIL);
      if (ready()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Asleep, no store through the MMU: parked (trap.ts parkTlb), as SigWait is.
      // Bounded: a signal the FIFO dropped (injected loss) costs a look. A full FIFO
      // (nothing drains it in a handler) moves TAIL no more: short naps then.
      const full = ((tail - F[Fifo.HEAD]) | 0) >= CAP;
      const parked = PARK ? Atomics.exchange(PARK, Trap.TLB_PARKED, 1) : 0;
      Atomics.wait(F, Fifo.TAIL, tail, Math.min(left, full ? FULL_LOOK_MS : LOOK_MS));
      if (PARK) Atomics.store(PARK, Trap.TLB_PARKED, parked);
      stopIfEnded(); // the kernel wakes TAIL when it ends the process
    }
  } finally {
    if (waiting === 0) Atomics.store(F, Fifo.WAITING, 0);
  }
}

/**
 * Inside a handler, signals cannot run (handlers never nest), so SigWait can only
 * wait out its time; it returns 0. The queued signals run when the handler returns.
 */
function sleepInHandler(timeoutMs: number): number {
  nap(timeoutMs);
  return 0;
}

let stuckSince = -1;
let deathsSeen = 0;
/**
 * A producer that died between reserving an entry and publishing it would block the
 * FIFO forever. When the head entry has stayed unpublished for 5 ms and the kernel
 * has counted a producer's death not yet accounted for, skip that entry as dropped.
 * A live producer, however slow, is never skipped.
 */
function skipIfAbandoned(): void {
  const head = F[Fifo.HEAD];
  const at = fifoCell(CAP, head);
  if (Atomics.load(F, at) === ((head + 1) | 0)) return; // published after all
  const now = performance.now();
  if (stuckSince < 0) stuckSince = now;
  else if (now - stuckSince > 5 && Atomics.load(F, Fifo.PRODUCER_DEATHS) !== deathsSeen) {
    deathsSeen++;
    Atomics.store(F, Fifo.HEAD, (head + 1) | 0);
    Atomics.add(F, Fifo.DROPPED, 1);
    stuckSince = -1;
  }
}

/**
 * Runs every published signal's handler, in order; returns how many signals it
 * took. Does nothing inside a handler (signals arriving then wait in the FIFO).
 */
export function drainSignals(): number {
  if (inHandler) return 0;
  const f = F;
  let head = f[Fifo.HEAD];
  let at = fifoCell(CAP, head);
  if (Atomics.load(f, at) !== ((head + 1) | 0)) return 0;
  inHandler = true;
  stuckSince = -1;
  let n = 0;
  try {
    do {
      const a = f[at + 1];
      const b = f[at + 2];
      head = (head + 1) | 0;
      Atomics.store(f, Fifo.HEAD, head);
      f[Fifo.HANDLED]++;
      n++;
      // A translated signal is run only if its handler still covers the address:
      // removed handlers stay silent and a forged entry cannot pick a handler.
      if (b > 0) {
        if (lookup(a >>> 0) === b) run(a >>> 0, b);
      } else {
        fromPeer = true;
        deliverPhysical(-b, a >>> 0);
      }
      at = fifoCell(CAP, head);
    } while (Atomics.load(f, at) === ((head + 1) | 0));
  } finally {
    inHandler = false;
  }
  return n;
}

/** Translates a physical signal to each of this process's bindings of the segment. */
function deliverPhysical(segment: number, offset: number): void {
  const list = bindings.get(segment);
  if (!list) return; // unbound since it was posted
  for (const base of list) {
    const vaddr = (base + offset) >>> 0;
    const id = lookup(vaddr);
    if (id) run(vaddr, id);
  }
}

function run(vaddr: number, id: number): void {
  const fn = handlers[id] as SignalFunction | undefined;
  if (!fn) return; // removed after the signal was queued
  try {
    fn(vaddr);
  } catch (err) {
    crash(`in the signal handler for 0x${vaddr.toString(16)}`, err);
  }
}

/**
 * Runs the handler the kernel would pick for FAULT_ADDRESS (the newest range that
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
  Atomics.store(F, Fifo.WAITING, 1);
  const next = () => {
    drainSignals();
    wait();
  };
  const wait = () => {
    // Anything already reserved (posted before we could wait, or still being
    // published) is taken on the next turn: a notify sent before the waiter existed
    // would otherwise be lost.
    const tail = Atomics.load(F, Fifo.TAIL);
    if (tail !== Atomics.load(F, Fifo.HEAD)) return void setTimeout(next, 0);
    const w = Atomics.waitAsync(F, Fifo.TAIL, tail);
    if (w.async) w.value.then(next);
    else setTimeout(next, 0);
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
