/**
 * The console's input side: lines and control keys from the host's console handed
 * to the processes reading them, in the order they asked (one line, or one piece
 * of a long line, per read). A line longer than the data area goes in pieces, each
 * flagged "more follows"; end of input stays, so every later reader sees it too.
 *
 * A control key (Ctrl-C, Ctrl-L, Ctrl-Z: ConsoleKey) is a piece of its own. Only a
 * read that takes keys (ConsoleReadFlag.KEYS) receives one, and a read that takes
 * only keys (ONLY_KEYS, the shell's while a job runs in the foreground) receives
 * nothing else: each reader takes the first piece it accepts, so lines typed ahead
 * wait for the next line reader and a key typed after them still reaches the key
 * reader at once. Input is read from the host while some reader waits for a piece
 * the buffer does not hold.
 */

import { consoleKeyOf, ConsoleRead, ConsoleReadFlag } from "../abi/syscalls.ts";
import { Trap } from "../abi/layout.ts";
import type { Console } from "../host_interface.ts";
import { writeDataPrefix } from "../trap/data_area.ts";
import type { TrapWait } from "../trap/trap_wait.ts";

interface Reader {
  readonly wait: TrapWait;
  readonly keys: boolean;
  readonly lines: boolean;
}

export class ConsoleInput {
  readonly #console: Console;
  /** Reads waiting for input, oldest first. */
  readonly #readers: Reader[] = [];
  /** Input read from the host and not yet handed out; null is end of input (last). */
  readonly #pieces: (string | null)[] = [];
  #pumping = false;

  constructor(console: Console) {
    this.#console = console;
  }

  /** Queues a read (`flags`: ConsoleReadFlag): `w` completes with the next piece it takes. */
  read(w: TrapWait, flags = 0): void {
    const onlyKeys = (flags & ConsoleReadFlag.ONLY_KEYS) !== 0;
    const keys = onlyKeys || (flags & ConsoleReadFlag.KEYS) !== 0;
    this.#readers.push({ wait: w, keys, lines: !onlyKeys });
    this.#hand();
    if (w.pending) this.#pump();
  }

  /** A reader gave up (it died, or a signal interrupted it): it takes no input. */
  cancel(w: TrapWait): void {
    const i = this.#readers.findIndex((r) => r.wait === w);
    if (i >= 0) this.#readers.splice(i, 1);
  }

  /** The index of the first piece `r` takes (end of input included), or -1. */
  #pick(r: Reader): number {
    return this.#pieces.findIndex((piece) =>
      piece === null || (consoleKeyOf(piece) ? r.keys : r.lines)
    );
  }

  #hand(): void {
    for (let i = 0; i < this.#readers.length;) {
      const r = this.#readers[i];
      const at = r.wait.pending ? this.#pick(r) : -1;
      if (r.wait.pending && at < 0) {
        i++;
        continue;
      }
      this.#readers.splice(i, 1);
      if (at >= 0) this.#give(r.wait, at);
    }
  }

  /** Completes `w` with piece `at` (removed, or cut, unless it is end of input). */
  #give(w: TrapWait, at: number): void {
    const piece = this.#pieces[at];
    const trap = w.proc.trap;
    if (piece === null) {
      trap[Trap.DATA_LEN] = 0;
      w.complete(0, ConsoleRead.EOF);
      return;
    }
    const key = consoleKeyOf(piece);
    if (key) {
      this.#pieces.splice(at, 1);
      trap[Trap.DATA_LEN] = 0;
      w.complete(key, ConsoleRead.KEY);
      return;
    }
    const { written, read } = writeDataPrefix(trap, piece);
    if (read < piece.length) this.#pieces[at] = piece.slice(read);
    else this.#pieces.splice(at, 1);
    w.complete(written, read < piece.length ? ConsoleRead.MORE : ConsoleRead.LINE);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#readers.length && this.#pieces.at(-1) !== null) {
        this.#pieces.push(await this.#console.readLine());
        this.#hand();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
