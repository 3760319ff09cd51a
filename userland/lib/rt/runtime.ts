/**
 * The runtime's state in one process: the buffers its kernel handed it at spawn.
 *
 * This module receives the kernel's one boot message with a top-level await, so
 * every module that imports it (all of userland/lib, hence every program) runs only
 * after the process has its memory. Outside a worker (a test or the kernel importing
 * a type) it stays empty.
 */

import { Trap, TrapState } from "../../../kernel/abi/layout.ts";
import { endWorker } from "./lockdown.ts";
import type { BootMessage } from "../../../kernel/abi/boot.ts";
import { bootMessage } from "./lockdown.ts";

export interface Runtime {
  pid: number;
  ppid: number;
  args: readonly string[];
  module: string;
  /** The trap page (Int32 words). */
  trap: Int32Array;
  /** The kernel doorbell shared by all processes of the node. */
  doorbell: Int32Array;
  /** The signal FIFO page. */
  fifo: Int32Array;
  /** The page table, read by the MMU (a length-tracking view of a growable buffer). */
  pageTable: Int32Array;
  /** The port on which the kernel hands over segment buffers. */
  memoryPort: MessagePort;
  /** How many times to spin before blocking (trap completion, SigWait). */
  spin: number;
}

type Boot = BootMessage & { memoryPort: MessagePort };

async function receiveBoot(): Promise<Runtime | null> {
  // lockdown.ts listens for the boot message before any other module evaluates.
  const message = bootMessage();
  if (!message) return null;
  const boot = await message as Boot;
  const trap = new Int32Array(boot.trap);
  const fifo = new Int32Array(boot.fifo);
  return {
    pid: boot.pid,
    ppid: boot.ppid,
    args: Object.freeze([...boot.args]),
    module: boot.module,
    trap,
    doorbell: new Int32Array(boot.doorbell),
    fifo,
    pageTable: new Int32Array(boot.pageTable),
    memoryPort: boot.memoryPort,
    spin: Atomics.load(trap, Trap.SPIN),
  };
}

const current: Runtime | null = await receiveBoot();

/** Returns the runtime of this process; throws outside a process. */
export function rt(): Runtime {
  if (!current) throw new Error("userland/lib is used outside an emulated process");
  return current;
}

/** The runtime, or null outside a process (module initialisers use this). */
export const runtime: Runtime | null = current;

const ENDED_TRAP: Int32Array | null = current ? current.trap : null;

/**
 * Stops this worker for good if the kernel has ended the process (TrapState.ENDED):
 * every wait of the runtime asks after it wakes, the MMU on a TLB shootdown, the
 * trap on entry and exit. The kernel cannot stop a worker from outside (lockdown.ts).
 */
export function stopIfEnded(): void {
  if (ENDED_TRAP && Atomics.load(ENDED_TRAP, Trap.STATE) === TrapState.ENDED) endWorker();
}
