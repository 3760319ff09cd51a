/**
 * Kernel event tracing (`--trace traps,signals,faults`). Each enabled kind prints one
 * line per event on the console's error stream.
 */

export const TRACE_KINDS = ["traps", "signals", "faults", "remote"] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

/** Parses "traps,signals" into a set, or throws naming the unknown kind. */
export function parseTraceKinds(text: string): Set<TraceKind> {
  const kinds = new Set<TraceKind>();
  for (const word of text.split(",").map((w) => w.trim()).filter(Boolean)) {
    if (!(TRACE_KINDS as readonly string[]).includes(word)) {
      throw new TypeError(
        `Unknown trace kind "${word}": expected some of ${TRACE_KINDS.join(", ")}`,
      );
    }
    kinds.add(word as TraceKind);
  }
  return kinds;
}

/** Where a node's trace lines and warnings go. */
export interface TraceSink {
  write(fd: number, text: string): void;
}

/** A node's tracing and operator warnings, on its console's error stream. */
export class Tracer {
  readonly #sink: TraceSink;
  readonly #node: number;
  readonly #kinds: ReadonlySet<TraceKind>;

  constructor(sink: TraceSink, node: number, kinds: ReadonlySet<TraceKind>) {
    this.#sink = sink;
    this.#node = node;
    this.#kinds = kinds;
  }

  /** True if `kind` is traced. */
  has(kind: TraceKind): boolean {
    return this.#kinds.has(kind);
  }

  /** Prints a trace line if `kind` is enabled. */
  trace(kind: TraceKind, line: string): void {
    if (this.#kinds.has(kind)) this.#sink.write(2, `[trace node${this.#node} ${kind}] ${line}\n`);
  }

  /** Reports something an operator should see (a malformed or spoofed frame). */
  warn(line: string): void {
    this.#sink.write(2, `node${this.#node}: ${line}\n`);
  }

  /** Reports a kernel bug met while serving a trap or a frame. */
  bug(where: string, e: unknown): void {
    const text = e instanceof Error ? e.stack ?? e.message : String(e);
    this.#sink.write(2, `kernel: bug in ${where}: ${text}\n`);
  }
}
