// The documented path of dma.ts: kept for programs that import it directly.
export * from "./sys/dma.ts";
