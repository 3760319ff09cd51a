// The documented path of tripwire.ts: kept for programs that import it directly.
export * from "./sys/tripwire.ts";
