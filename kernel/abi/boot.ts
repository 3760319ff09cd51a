/**
 * The only two messages a kernel ever sends a process: the boot message, which
 * hands it its memory at spawn, and memory grants on its memory port, which hand it
 * more memory later. Nothing else crosses between kernel and process by message:
 * everything else is memory and signals (ARCHITECTURE.md, "Process").
 */

/** Everything a new process's runtime receives at spawn. */
export interface BootMessage {
  pid: number;
  ppid: number;
  module: string;
  args: string[];
  trap: SharedArrayBuffer;
  fifo: SharedArrayBuffer;
  pageTable: SharedArrayBuffer;
  doorbell: SharedArrayBuffer;
}

/**
 * Memory handed over after boot: a segment the process may map (with the segment's
 * signal directory), or another process's signal FIFO it may post to on the
 * hardware signal path.
 */
export type MemoryGrant =
  | {
    kind: "segment";
    slot: number;
    segment: number;
    buffer: SharedArrayBuffer;
    directory: SharedArrayBuffer;
  }
  | { kind: "fifo"; pid: number; buffer: SharedArrayBuffer }
  /** The process's event page (Tripwire bitmap and event queue), on its first Tripwire. */
  | { kind: "events"; buffer: SharedArrayBuffer }
  /** The process's DMA queue, on its first `dma_flush`. */
  | { kind: "dma"; buffer: SharedArrayBuffer };
