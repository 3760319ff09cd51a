// The documented path of signals.ts: kept for programs that import it directly.
export * from "./rt/signals.ts";
