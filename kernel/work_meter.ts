/**
 * The kernel's busy time, node by node (`KernelConfig.meter`; `info("stats")`'s
 * `kernelBusyUs`): the time a node's kernel spends serving its processes' traps and
 * DMA queues and the frames that arrive for it, on the host clock. What the server
 * node of a benchmark spends on one operation is read from it (issue 14's
 * `server_cpu_us`).
 *
 * The nodes of one host thread share that thread, and one node's work can run
 * inside another's: a frame sent while serving a trap is delivered to its node at
 * once (kernel/net/emulated_network.ts). So the meters of a thread form a stack:
 * entering one stops the clock of the one it runs inside, and leaving it restarts
 * that one. Time spent spinning or asleep with nothing to serve is nobody's.
 */

import type { Clock } from "./host_interface.ts";

/** The meters of this thread the running work is inside, innermost last. */
const outer: (WorkMeter | null)[] = [];
let current: WorkMeter | null = null;
let since = 0;

export class WorkMeter {
  /** Milliseconds of work so far. */
  ms = 0;
  readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Runs `work` with this meter's clock running (and the enclosing one's stopped). */
  run<T>(work: () => T): T {
    this.enter();
    try {
      return work();
    } finally {
      this.leave();
    }
  }

  /** Starts this meter's clock (stopping the enclosing one's); `leave` must follow. */
  enter(): void {
    const now = this.clock.now();
    if (current) current.ms += now - since;
    outer.push(current);
    current = this;
    since = now;
  }

  /** Stops the innermost meter's clock and restarts the enclosing one's. */
  leave(): void {
    const m = current!, now = m.clock.now();
    m.ms += now - since;
    current = outer.pop() ?? null;
    since = now;
  }
}
