/**
 * A process: a sandboxed worker with a pid, a parent, a trap page, a signal FIFO,
 * an address space and a table of signal handlers.
 *
 * Ownership: every field is written only by the kernel's thread. The process's
 * worker sees only the shared buffers (trap page, FIFO, page table, segments).
 */

import type { MemoryGrant } from "../abi/boot.ts";
import { TRAP_PAGE_BYTES } from "../abi/layout.ts";
import { AddressSpace } from "../memory/address_space.ts";
import type { Segment } from "../memory/segment.ts";
import { HandlerTable } from "../signal/handler_table.ts";
import { SignalFifo } from "../signal/signal_fifo.ts";
import { type DescriptorQuota, DescriptorTable } from "../remote/descriptor_table.ts";

/** How a process ended: a status (0–255; 128+n when killed by signal n) and why. */
export interface ExitStatus {
  readonly pid: number;
  readonly status: number;
  readonly reason: string;
}

/** The host's handle on the worker that runs a process. */
export interface ProcessHandle {
  /** Posts memory to the process's memory port (the only use of messages after boot). */
  grant(grant: MemoryGrant): void;
  /** Stops the worker at once. */
  terminate(): void;
  /** CPU time its thread has used, in µs, where the host can tell (else absent or -1). */
  cpuUs?(): number;
}

/** The kernel serving a process's traps. */
export interface TrapServer {
  /** Serves the process's posted trap; false if it must wait and be tried again. */
  serveTrap(p: Process): boolean;
  /** Takes a batch of requests from the process's DMA queue; returns how many. */
  serveDma(p: Process): number;
}

/** A trap the kernel has accepted but not yet completed (a TrapWait, kernel/trap/). */
export interface BlockedTrap {
  readonly sysno: number;
  /** Called if the process dies first, to drop timers and queue entries. */
  cancel(): void;
  /** Ends the wait with EINTR if it may be interrupted by a signal; false if not. */
  interrupt(): boolean;
}

export interface ProcessCounters {
  traps: number;
  /** Page faults the kernel mapped for it (first touches). */
  pagefaults: number;
  /** Protection faults it took (handled by onFault or not). */
  protfaults: number;
  zeroFills: number;
  signalsSent: number;
  signalsQueued: number;
  /** Remote READs it issued (a protocol that never reads across the network shows 0). */
  remoteReads: number;
  /** Pages evicted while it had them bound (kernel/memory/frame_table.ts). */
  evictions: number;
}

export class Process {
  readonly pid: number;
  ppid: number;
  readonly server: TrapServer;
  readonly module: string;
  readonly args: readonly string[];
  readonly trapBuffer = new SharedArrayBuffer(TRAP_PAGE_BYTES);
  readonly trap = new Int32Array(this.trapBuffer);
  readonly fifo: SignalFifo;
  /** Its event page (Tripwire bitmap and event queue), made on its first Tripwire. */
  events: Int32Array | null = null;
  /** Its DMA queue (002 §3.4), made on its first dma_flush, and the next entry to take. */
  dma: Int32Array | null = null;
  dmaHead = 0;
  /** Entries taken from the ring while its current trap waited to be served (dma_flush reports them). */
  dmaTaken = 0;
  /** Address ranges whose signals become SIGNAL events (event_signal), the tag as id. */
  readonly signalEvents = new HandlerTable();
  readonly space: AddressSpace;
  readonly handlers = new HandlerTable();
  /** Remote segments this process imported (000 §3.1.1 descriptors). */
  readonly descriptors: DescriptorTable;
  readonly children = new Set<number>();
  /**
   * Its capabilities (Cap in kernel/abi/layout.ts): set once at spawn, before its
   * worker starts, and never inherited by its children.
   */
  caps = 0;
  /**
   * Its console output is labelled "[node N pid P] " at the start of each line (a
   * program the exec server started for another node, and its children): set at
   * spawn; `atLineStart` is kept by the print system call.
   */
  labelOutput = false;
  atLineStart = true;
  /** The pieces so far of a print call longer than the data area (sys_console.ts). */
  heldOutput: { fd: number; text: string } | null = null;
  state: "running" | "zombie" = "running";
  exit: ExitStatus | null = null;
  handle: ProcessHandle | null = null;
  /** Set while a trap of this process is being served or is blocked. */
  inTrap = false;
  blocked: BlockedTrap | null = null;
  /**
   * Pins this process made and did not undo, per segment and page (a process's own
   * count may go negative where it unpins another's pin); released when it exits.
   */
  readonly pins = new Map<Segment, Map<number, number>>();
  /** Pids whose signal FIFOs this process has been handed (hardware path). */
  readonly fifosGranted = new Set<number>();
  /** Cached JSON of the last `info` answer, for reads at an offset. */
  infoCache: Uint8Array = new Uint8Array(0);
  readonly counters: ProcessCounters = {
    traps: 0,
    pagefaults: 0,
    protfaults: 0,
    zeroFills: 0,
    signalsSent: 0,
    signalsQueued: 0,
    remoteReads: 0,
    evictions: 0,
  };
  readonly #exited: PromiseWithResolvers<ExitStatus> = Promise.withResolvers();

  constructor(
    server: TrapServer,
    pid: number,
    ppid: number,
    module: string,
    args: string[],
    fifoCapacity: number,
    signalLossEvery = 0,
    descriptorQuota?: DescriptorQuota,
  ) {
    this.descriptors = new DescriptorTable(descriptorQuota);
    this.server = server;
    this.pid = pid;
    this.ppid = ppid;
    this.module = module;
    this.args = args;
    this.fifo = new SignalFifo(fifoCapacity, signalLossEvery);
    this.space = new AddressSpace(pid);
  }

  /** Resolves when the process has exited (before it is reaped). */
  get exited(): Promise<ExitStatus> {
    return this.#exited.promise;
  }

  /** Marks the process exited; the caller frees its resources. */
  markExited(status: ExitStatus): void {
    this.state = "zombie";
    this.exit = status;
    this.#exited.resolve(status);
  }
}
