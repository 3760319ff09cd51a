/**
 * The console's input side: lines from the host's console handed to the processes
 * reading them, in the order they asked (one line, or one piece of a long line,
 * per read). A line longer than the data area goes in pieces, each flagged "more
 * follows"; end of input stays, so every later reader sees it too.
 */

import { ConsoleRead } from "../abi/syscalls.ts";
import { Trap } from "../abi/layout.ts";
import type { Console } from "../host_interface.ts";
import { writeDataPrefix } from "../trap/data_area.ts";
import type { TrapWait } from "../trap/trap_wait.ts";

export class ConsoleInput {
  readonly #console: Console;
  /** Reads waiting for input, oldest first. */
  readonly #readers: TrapWait[] = [];
  /** Input read from the host and not yet handed out; null is end of input. */
  readonly #lines: (string | null)[] = [];
  #pumping = false;

  constructor(console: Console) {
    this.#console = console;
  }

  /** Queues a read: `w` completes with the next piece of input. */
  read(w: TrapWait): void {
    this.#readers.push(w);
    this.#hand();
    if (w.pending) this.#pump();
  }

  /** A reader gave up (it died): it takes no input. */
  cancel(w: TrapWait): void {
    const i = this.#readers.indexOf(w);
    if (i >= 0) this.#readers.splice(i, 1);
  }

  #hand(): void {
    while (this.#readers.length && this.#lines.length) {
      const w = this.#readers.shift()!;
      if (!w.pending) continue;
      const line = this.#lines[0];
      const trap = w.proc.trap;
      if (line === null) {
        trap[Trap.DATA_LEN] = 0;
        w.complete(0, ConsoleRead.EOF);
        continue;
      }
      const { written, read } = writeDataPrefix(trap, line);
      if (read < line.length) this.#lines[0] = line.slice(read);
      else this.#lines.shift();
      w.complete(written, read < line.length ? ConsoleRead.MORE : ConsoleRead.LINE);
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#readers.length && this.#lines[0] !== null) {
      const line = await this.#console.readLine();
      this.#lines.push(line);
      this.#hand();
    }
    this.#pumping = false;
  }
}
