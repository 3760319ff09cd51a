/** Counts a node keeps for `info stats`; each part bumps its own. */
export interface NodeStats {
  traps: number;
  /** Page faults the kernel mapped (first touches; a zero-filled page is also in zeroFills). */
  pagefaults: number;
  /** Protection faults: a store to a read-only page, a touch of an unmapped or no-access one. */
  protfaults: number;
  zeroFills: number;
  signalsQueued: number;
  signalsDropped: number;
  spawned: number;
  exited: number;
  memoryUsed: number;
}

export function newStats(): NodeStats {
  return {
    traps: 0,
    pagefaults: 0,
    protfaults: 0,
    zeroFills: 0,
    signalsQueued: 0,
    signalsDropped: 0,
    spawned: 0,
    exited: 0,
    memoryUsed: 0,
  };
}
