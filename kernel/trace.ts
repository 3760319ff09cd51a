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
