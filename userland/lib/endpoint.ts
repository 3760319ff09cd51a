// The documented path of endpoint.ts: kept for programs that import it directly.
export * from "./ipc/endpoint.ts";
