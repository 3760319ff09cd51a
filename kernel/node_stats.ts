/** Counts a node keeps for `info stats`; each part bumps its own. */
export interface NodeStats {
  traps: number;
  faults: number;
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
    faults: 0,
    zeroFills: 0,
    signalsQueued: 0,
    signalsDropped: 0,
    spawned: 0,
    exited: 0,
    memoryUsed: 0,
  };
}
