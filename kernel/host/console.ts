/**
 * Consoles for the host layer: the terminal (stdin/stdout/stderr) and an in-memory
 * console that scripts input and captures output, for tests and benchmarks.
 */

import type { Console } from "../host_interface.ts";

const encoder = new TextEncoder();

/** The real terminal. Output is written synchronously so it is never lost at exit. */
export class TerminalConsole implements Console {
  #lines: AsyncIterator<string> | null = null;

  write(fd: number, text: string): void {
    const bytes = encoder.encode(text);
    const out = fd === 2 ? Deno.stderr : Deno.stdout;
    let off = 0;
    while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
  }

  async readLine(): Promise<string | null> {
    this.#lines ??= lines(Deno.stdin.readable);
    const r = await this.#lines.next();
    return r.done ? null : r.value;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
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
