// The documented path of dqueue.ts: kept for programs that import it directly.
export * from "./ipc/dqueue.ts";
