/**
 * Consoles for the host layer: the terminal (stdin/stdout/stderr) and an in-memory
 * console that scripts input and captures output, for tests and benchmarks.
 */

import type { Console } from "../host_interface.ts";
import { LineDiscipline, type Piece } from "./line_discipline.ts";

const encoder = new TextEncoder();

/** How close two Ctrl-Cs must come for the second to end the emulator. */
export const SECOND_INTERRUPT_MS = 1000;

/**
 * The real terminal. Output is written synchronously so it is never lost at exit.
 * Input goes through the line discipline (line_discipline.ts): when stdin is a
 * terminal it is put in raw mode on the first read, so Ctrl-C arrives as a key
 * (the shell sends SIGINT to its foreground job) instead of ending this process;
 * `listenForInterrupt` makes a SIGINT the host receives (stdin not a terminal,
 * or a `kill -INT`) the same key. A second Ctrl-C within SECOND_INTERRUPT_MS of
 * the first calls `onSecondInterrupt`.
 */
export class TerminalConsole implements Console {
  /** Called for a second Ctrl-C within a second (boot: end the emulator, saying so). */
  onSecondInterrupt: (() => void) | null = null;
  readonly #pieces: Piece[] = [];
  #waiter: (() => void) | null = null;
  #reading = false;
  #raw = false;
  #lastInterrupt = -Infinity;

  write(fd: number, text: string): void {
    // A raw terminal does not turn \n into \r\n by itself.
    const bytes = encoder.encode(this.#raw ? text.replace(/\r?\n/g, "\r\n") : text);
    const out = fd === 2 ? Deno.stderr : Deno.stdout;
    let off = 0;
    while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
  }

  async readLine(): Promise<string | null> {
    if (!this.#reading) this.#startReading();
    while (this.#pieces.length === 0) await new Promise<void>((r) => this.#waiter = r);
    return this.#pieces.shift()!;
  }

  /** Turns a SIGINT the host receives into a Ctrl-C key. */
  listenForInterrupt(): void {
    Deno.addSignalListener("SIGINT", () => this.#push(["\x03"]));
  }

  /** Puts the terminal back in the mode it had (call before the process exits). */
  restore(): void {
    if (!this.#raw) return;
    this.#raw = false;
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin already closed: nothing to restore
    }
  }

  #startReading(): void {
    this.#reading = true;
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(true);
      this.#raw = true;
    }
    const discipline = new LineDiscipline(this.#raw ? (text) => this.write(1, text) : null);
    (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of Deno.stdin.readable) {
          this.#push(discipline.feed(decoder.decode(chunk, { stream: true })));
        }
      } finally {
        this.#push(discipline.end());
      }
    })();
  }

  #push(pieces: Piece[]): void {
    for (const piece of pieces) {
      if (piece === "\x03") {
        const now = performance.now();
        if (now - this.#lastInterrupt < SECOND_INTERRUPT_MS) this.onSecondInterrupt?.();
        this.#lastInterrupt = now;
      }
      this.#pieces.push(piece);
    }
    if (pieces.length) {
      this.#waiter?.();
      this.#waiter = null;
    }
  }
}

/** A console with scripted input and captured output. */
export class MemoryConsole implements Console {
  out = "";
  err = "";
  readonly #input: string[];
  #waiters: (() => void)[] = [];
  #closed: boolean;
  /** Called on every write (tests wait on output with it). */
  onWrite: () => void = () => {};

  constructor(input: string[] = [], closed = true) {
    this.#input = [...input];
    this.#closed = closed;
  }

  write(fd: number, text: string): void {
    if (fd === 2) this.err += text;
    else this.out += text;
    this.onWrite();
  }

  /** Adds an input line (or ends input with null). */
  feed(line: string | null): void {
    if (line === null) this.#closed = true;
    else this.#input.push(line);
    for (const w of this.#waiters.splice(0)) w();
  }

  async readLine(): Promise<string | null> {
    while (this.#input.length === 0 && !this.#closed) {
      await new Promise<void>((r) => this.#waiters.push(r));
    }
    return this.#input.shift() ?? null;
  }
}
