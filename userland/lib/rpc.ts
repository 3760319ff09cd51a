// The documented path of rpc.ts: kept for programs that import it directly.
export * from "./ipc/rpc.ts";
