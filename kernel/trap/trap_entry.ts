/**
 * Trap entry: where a posted trap request becomes a system call and its result
 * goes back (xv6 trap.c + syscall.c). The trap service finds a posted request and
 * calls `serveTrap`; the request is decoded against the ABI table (dispatch.ts), the
 * handler for its number runs, and the result, a typed error with its reason, or
 * a wait (TrapWait) is the answer. A handler's KernelError is the process's
 * mistake and becomes its errno; any other exception is a kernel bug, reported
 * and answered EIO, and never ends the kernel.
 *
 * Before any trap of a process is served, everything in its DMA queue (002 §3.4)
 * is taken, so requests leave in the order they were made, queued or trapped.
 */

import { Errno, errnoName } from "../abi/errors.ts";
import { DMA_CAPACITY, DmaQueue, Trap, TRAP_ARGS, TrapState } from "../abi/layout.ts";
import { syscallByNumber, type SyscallName, SYSCALLS, type SyscallSpec } from "../abi/syscalls.ts";
import type { Clock } from "../host_interface.ts";
import { PageWanted, supplyRangeThen } from "../memory/segment_access.ts";
import { KernelError } from "../panic.ts";
import type { Process, TrapServer } from "../proc/process.ts";
import type { Tracer } from "../trace.ts";
import { writeDataPrefix } from "./data_area.ts";
import { BLOCKED, decode, type Handler } from "./dispatch.ts";
import { TrapWait, type WaitOptions } from "./trap_wait.ts";
import { WorkMeter } from "../work_meter.ts";

/** Every system call's handler, by name: a row of the ABI table without one is a type error. */
export type HandlerTable = { readonly [K in SyscallName]: Handler };

/** The handlers of some system calls (one file's share of the table). */
export type Handlers<K extends SyscallName> = { readonly [N in K]: Handler };

/** The DMA queue's kernel side, as trap entry drains it (kernel/remote/dma_queue.ts). */
export type DrainDma = (p: Process, budget: number) => number;

/** Counts kept per node (the `stats` of `info`). */
export interface TrapCounts {
  traps: number;
}

/** Entries taken from one queue per pass of the trap service, so no queue starves another. */
export const DMA_BATCH = 64;

export class TrapEntry implements TrapServer {
  /** Handlers indexed by system-call number; `#args` is the reused decode buffer. */
  readonly #byNumber: Handler[] = [];
  readonly #args: number[] = new Array(TRAP_ARGS).fill(0);
  readonly #tracer: Tracer;
  readonly #traceTraps: boolean;
  readonly #clock: Clock;
  readonly #counts: TrapCounts;
  #drain: DrainDma = () => 0;
  readonly #finish = (p: Process, result: number, errno: number, result2: number, d: string) =>
    this.completeBlocked(p, result, errno, result2, d);

  /** The node's busy time (kernel/work_meter.ts), if `meter` was asked for. */
  readonly meter: WorkMeter | null;

  constructor(tracer: Tracer, clock: Clock, counts: TrapCounts, meter = false) {
    this.meter = meter ? new WorkMeter(clock) : null;
    this.#tracer = tracer;
    this.#traceTraps = tracer.has("traps");
    this.#clock = clock;
    this.#counts = counts;
  }

  /** Installs the system calls' handlers and the DMA queue's drain (once, at boot). */
  install(handlers: HandlerTable, drain: DrainDma): void {
    for (const s of SYSCALLS) this.#byNumber[s.no] = handlers[s.name as SyscallName];
    this.#drain = drain;
  }

  /**
   * Serves one posted trap of `p` (called by the TrapService); false if it must be
   * tried again later (its DMA ring could not be emptied first).
   */
  serveTrap(p: Process): boolean {
    const m = this.meter;
    if (m === null) return this.#serveTrap(p);
    m.enter(); // no closure: this is every trap's path
    try {
      return this.#serveTrap(p);
    } finally {
      m.leave();
    }
  }

  #serveTrap(p: Process): boolean {
    // Requests queued before this trap leave before anything it asks for. If too
    // many are outstanding for all of them to go now, the trap waits its turn.
    if (p.dma !== null) {
      for (let n; (n = this.#drain(p, DMA_CAPACITY)) > 0;) p.dmaTaken += n;
      if (Atomics.load(p.dma, DmaQueue.TAIL) !== p.dmaHead) return false;
    }
    p.inTrap = true;
    p.counters.traps++;
    this.#counts.traps++;
    const args = this.#args;
    let spec: SyscallSpec | undefined;
    let result = 0, result2 = 0, errno = 0, detail = "";
    try {
      spec = decode(p.trap, args);
      const reply = this.#byNumber[spec.no](p, args);
      p.dmaTaken = 0;
      if (reply === BLOCKED) return true;
      if (typeof reply === "number") result = reply;
      else ({ result, result2 } = reply);
    } catch (e) {
      p.dmaTaken = 0;
      if (e instanceof PageWanted && spec) return this.#waitForPages(p, e);
      result = -1;
      if (e instanceof KernelError) {
        errno = e.errno;
        detail = e.message;
      } else {
        errno = Errno.EIO;
        detail = String(e);
        this.#tracer.bug(`sys_${spec?.name ?? "?"}`, e);
      }
      writeDataPrefix(p.trap, detail);
    }
    if (this.#traceTraps) this.#traceTrap(p, spec?.name ?? "?", result, errno, detail);
    this.complete(p, result, errno, result2);
    return true;
  }

  /**
   * A copy the trap makes needs pages its segment's pager must supply: the trap
   * waits for them (their requests own the deadline) and is then served again
   * from the start; a page that cannot be had fails it with EIO.
   */
  #waitForPages(p: Process, e: PageWanted): boolean {
    const w = this.block(p);
    const again = (errno: number, reason: string) => {
      if (errno !== 0) w.fail(Errno.EIO, `${e.message}: ${reason}`);
      else if (w.restart()) this.serveTrap(p); // false: still posted, the service retries
    };
    if (supplyRangeThen(e.segment, e.offset, e.count, e.access, again)) again(0, "");
    return true;
  }

  /** Takes a batch from the process's DMA queue (called by the TrapService). */
  serveDma(p: Process): number {
    const m = this.meter;
    if (m === null) return this.#drain(p, DMA_BATCH);
    m.enter();
    try {
      return this.#drain(p, DMA_BATCH);
    } finally {
      m.leave();
    }
  }

  /** Takes up to `budget` entries from the process's DMA queue; returns how many. */
  drainDma(p: Process, budget: number): number {
    return this.#drain(p, budget);
  }

  /**
   * Makes `p`'s current trap wait (see TrapWait); the handler then returns BLOCKED.
   * The wait is in place before the handler asks anyone for the answer, so an
   * answer that comes at once finds it.
   */
  block(p: Process, o: WaitOptions = {}): TrapWait {
    const w = new TrapWait(p, p.trap[Trap.SYSNO], this.#finish, this.#clock, o);
    p.blocked = w;
    return w;
  }

  /** Completes the process's current trap with a result and wakes it. */
  complete(p: Process, result: number, errno = 0, result2 = 0): void {
    if (p.state !== "running") return;
    const t = p.trap;
    t[Trap.RESULT] = result;
    t[Trap.ERRNO] = errno;
    t[Trap.RESULT2] = result2;
    p.inTrap = false;
    p.blocked = null;
    if (t[Trap.KERNEL_HOLDS] !== 0) t[Trap.KERNEL_HOLDS] = 0; // before STATE, by the exchange
    if (Atomics.exchange(t, Trap.STATE, TrapState.DONE) === TrapState.SLEEPING) {
      Atomics.notify(t, Trap.STATE);
    }
  }

  /** Completes a trap that waited (with a reason when it fails), tracing it like any other. */
  completeBlocked(p: Process, result: number, errno = 0, result2 = 0, detail = ""): void {
    if (p.state !== "running") return;
    if (errno !== 0) writeDataPrefix(p.trap, detail);
    if (this.#traceTraps) {
      const name = syscallByNumber(p.trap[Trap.SYSNO])?.name ?? "?";
      this.#traceTrap(p, name, result, errno, detail);
    }
    this.complete(p, result, errno, result2);
  }

  #traceTrap(p: Process, name: string, result: number, errno: number, detail: string): void {
    const args = [0, 1, 2, 3].map((i) => p.trap[Trap.ARG0 + i]).join(", ");
    const res = errno ? `${errnoName(errno)}${detail ? ` (${detail})` : ""}` : `${result}`;
    this.#tracer.trace("traps", `pid ${p.pid} ${name}(${args}) -> ${res}`);
  }
}
