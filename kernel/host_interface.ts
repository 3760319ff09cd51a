/**
 * What the pure kernel needs from its host, and nothing more: starting workers,
 * resolving program modules, and a console. kernel/host/ implements these with
 * Deno; tests may implement them in memory.
 */

import type { BootMessage } from "./abi/boot.ts";
import type { ProcessHandle } from "./proc/process.ts";

export interface ProcessHost {
  /** Returns a module URL for a program path or short name, or null if there is none. */
  resolveModule(spec: string): string | null;
  /**
   * Starts a worker for a process. `onCrash` is called once if the worker dies by an
   * uncaught error outside the runtime's own handling.
   */
  start(boot: BootMessage, onCrash: (message: string) => void): ProcessHandle;
}

export interface Console {
  /** Writes text to console output (fd 1) or error (fd 2). */
  write(fd: number, text: string): void;
  /** Resolves with the next input line, or null at end of input. */
  readLine(): Promise<string | null>;
}
