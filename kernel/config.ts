/** A node's settings, fixed at boot (`deno task boot --help` sets most of them). */

import type { DiskModelName } from "./abi/disk.ts";
import { DEFAULT_FIFO_CAPACITY, MAX_SEGMENT_BYTES, PAGE_SIZE } from "./abi/layout.ts";
import type { TraceKind } from "./trace.ts";

export interface KernelConfig {
  /** Node id (for traces and, later, the cluster). */
  nodeId: number;
  /** How long the trap service spins after its last request, in µs (0 = block-only). */
  spinUs: number;
  /** How many iterations a process spins on a trap or SigWait before blocking. */
  processSpin: number;
  /** Signal FIFO capacity per process (001 §3.1.2: 128). */
  fifoCapacity: number;
  /**
   * What the node's segments may add up to (the host allocates each one whole):
   * `create_segment` fails with ENOMEM past it.
   */
  memoryBytes: number;
  /**
   * The node's physical memory in 4 KiB page frames (kernel/memory/frame_table.ts):
   * a present page holds one. 0: as many as `memoryBytes` holds (1 GiB by default),
   * so frames run out only when set lower (`--memory-mib`).
   */
  memoryFrames: number;
  /** This boot's incarnation, the high word of every generation (random if 0). */
  incarnation: number;
  /** Failure detection (000 §3.7): how often peers' heartbeats are read, and after
   * how long without an answer a peer is declared down. */
  heartbeatMs: number;
  failAfterMs: number;
  /** How Signal reaches receivers (see SignalPath in kernel/abi/layout.ts). */
  signalPath: "hardware" | "software";
  /** Fault injection: drop every n-th signal posted to each process's FIFO (0: none). */
  signalLossEvery: number;
  trace: ReadonlySet<TraceKind>;
  /** What one process, and the whole node, may hold (see `Limits`). */
  limits: Limits;
  /** The disks' timing model (kernel/dev/disk_model.ts): "ssd" or "1994". */
  diskModel: DiskModelName;
  /** Disk due times closer than this many ms are not timed (kernel/dev/disk_rings.ts). */
  diskTimerFloorMs: number;
  /**
   * How long a page request waits for its external pager (kernel/memory/pager_table.ts)
   * before the fault fails, in ms.
   */
  pagerTimeoutMs: number;
  /**
   * When the node has a swap pager (`--swap`): true, every anonymous segment may be
   * swapped unless `set_swap(id, 0)` keeps it in; false, only those `set_swap(id, 1)`
   * lets out (`--swap-scope opt-in`).
   */
  swapAll: boolean;
  /**
   * The node whose memory server a swap pager pages to first (servers/memory/),
   * keeping its disk as the copy; -1: none, the swap pager pages to its disk only.
   */
  memoryServerNode: number;
  /**
   * The node whose file server mounts the cluster's file system (boot's first
   * `--disk`, servers/files/), or -1: every node then runs a file clerk.
   */
  fileServerNode: number;
  /**
   * How the node's file clerk reads the file server (`--files-path`): "dx", its
   * cache areas by remote READ (HY on a miss), or "hy", every call over HY (000 §5.2's
   * comparison).
   */
  filesPath: "dx" | "hy";
  /** Measure the kernel's busy time (kernel/work_meter.ts; for benchmarks). */
  meter: boolean;
}

/**
 * Per-process and per-node limits. Each costs the host memory the kernel must
 * count: a process is a worker thread (~10 MB while it runs), a segment a
 * SharedArrayBuffer and its tables (~10 KB however small), a descriptor a record.
 * Past a limit the call fails: spawn with EAGAIN, create_segment with ENOMEM,
 * import/attach with EMFILE (the process's) or ENFILE (the node's).
 */
export interface Limits {
  /** Processes on the node, zombies included. */
  processes: number;
  /** Children of one process not yet reaped. */
  children: number;
  /** Segments on the node, and made by one process, counted until freed for good. */
  segments: number;
  processSegments: number;
  /** Bytes of segments one process made, counted until freed for good. */
  processMemoryBytes: number;
  /** Descriptors open in one process, and on the whole node. */
  descriptors: number;
  nodeDescriptors: number;
}

export const DEFAULT_LIMITS: Limits = {
  processes: 512,
  children: 256,
  segments: 16_384,
  processSegments: 4_096,
  processMemoryBytes: 2 * MAX_SEGMENT_BYTES,
  descriptors: 4_096,
  nodeDescriptors: 65_536,
};

export const DEFAULT_CONFIG: KernelConfig = {
  nodeId: 0,
  spinUs: 50,
  processSpin: 2000,
  fifoCapacity: DEFAULT_FIFO_CAPACITY,
  memoryBytes: 4 * MAX_SEGMENT_BYTES,
  memoryFrames: 0,
  incarnation: 0,
  heartbeatMs: 250,
  failAfterMs: 1_000,
  signalPath: "hardware",
  signalLossEvery: 0,
  trace: new Set(),
  limits: DEFAULT_LIMITS,
  diskModel: "ssd",
  diskTimerFloorMs: 1,
  pagerTimeoutMs: 2_000,
  swapAll: true,
  memoryServerNode: -1,
  fileServerNode: -1,
  filesPath: "dx",
  meter: false,
};

/** The node's page frames: `memoryFrames`, or as many as `memoryBytes` holds. */
export function framesOf(c: { memoryBytes: number; memoryFrames: number }): number {
  return c.memoryFrames > 0 ? c.memoryFrames : Math.max(1, Math.floor(c.memoryBytes / PAGE_SIZE));
}
