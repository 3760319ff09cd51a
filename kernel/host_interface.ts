/**
 * What the pure kernel needs from its host, and nothing more: starting workers,
 * resolving program modules, a console, a clock with timers, randomness, and
 * the disks' images.
 * kernel/host/ implements these with Deno; tests may implement them in memory (a
 * controlled clock replays an interleaving). The kernel core calls no timer, clock
 * or random source but these (tests/architecture_test.ts checks it).
 */

import type { BootMessage } from "./abi/boot.ts";
import type { ProcessHandle } from "./proc/process.ts";

/** A timer the clock handed out, to cancel it with. */
export type TimerHandle = number | object;

/** Time as the kernel sees it: a monotonic clock in milliseconds, and timers on it. */
export interface Clock {
  /** Milliseconds on a monotonic clock (fractions allowed). */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(t: TimerHandle | undefined): void;
  /** Calls `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(t: TimerHandle | undefined): void;
  /** Calls `fn` once the event loop has run what is pending (setImmediate). */
  setImmediate(fn: () => void): void;
}

export interface ProcessHost {
  /**
   * Returns a module URL for a program path or short name, or null if there is none;
   * throws KernelError ENOEXEC for a file that is not a program module.
   */
  resolveModule(spec: string): string | null;
  /**
   * Starts a worker for a process. `onCrash` is called once if the worker dies by an
   * uncaught error outside the runtime's own handling.
   */
  start(boot: BootMessage, onCrash: (message: string) => void): ProcessHandle;
  /** The host's clock: every deadline, timeout and time stamp of the kernel. */
  readonly clock: Clock;
  /** 32 random bits (incarnations, first sequence numbers). */
  random32(): number;
}

export interface Console {
  /** Writes text to console output (fd 1) or error (fd 2). */
  write(fd: number, text: string): void;
  /**
   * Resolves with the next input line, or null at end of input. A control key
   * (ConsoleKey in kernel/abi/syscalls.ts: Ctrl-C, Ctrl-L, Ctrl-Z) comes as a piece
   * of its own, the one character.
   */
  readLine(): Promise<string | null>;
}

/** Why a disk operation failed on the host: an error code (Errno) and the host's words. */
export interface DiskFailure {
  readonly errno: number;
  readonly detail: string;
}

/**
 * A disk's backing store, the disk image (kernel/host/host_disk.ts keeps it in a
 * host file). Every operation is asynchronous, so the kernel's thread never
 * blocks on the host, and never rejects: it resolves with null, or with the
 * failure (ENOSPC, EPERM, EIO). Operations take effect in the order they are
 * called; `flush` resolves once every write called before it is durable (fsync).
 */
export interface Disk {
  /** What it is on the host (the image's path), for messages. */
  readonly name: string;
  /** Its size in bytes: a multiple of 512. */
  readonly size: number;
  /**
   * Fills `into` with the bytes at `offset` (within the size): at once (the result
   * itself) or later (a promise of it).
   */
  read(offset: number, into: Uint8Array): DiskFailure | null | Promise<DiskFailure | null>;
  /** Writes `from` at `offset` (within the size), at once or later, as `read`. */
  write(offset: number, from: Uint8Array): DiskFailure | null | Promise<DiskFailure | null>;
  flush(): Promise<DiskFailure | null>;
}
