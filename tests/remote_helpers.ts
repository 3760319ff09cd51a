/**
 * What the remote-memory suites share: a cluster configuration without heartbeat
 * traffic, and waiting on a condition with a deadline that says who is stuck.
 */

import type { KernelConfig } from "../kernel/kernel.ts";
import { EventPage } from "../kernel/abi/layout.ts";
import type { Process } from "../kernel/proc/process.ts";
import { syscallByNumber } from "../kernel/abi/syscalls.ts";
import type { TestCluster } from "./helpers.ts";

/** No heartbeat reads: only the clerks' lookups are served. */
export const QUIET: Partial<KernelConfig> = { heartbeatMs: 600_000, failAfterMs: 1_200_000 };

/** One step of a scripted program (tests/programs/rm_script.ts). */
export type Step = Record<string, unknown>;

export /** Which processes are blocked in which system call, on every node (for timeouts). */
function stuck(c: TestCluster): string {
  const lines: string[] = [];
  c.cluster.nodes.forEach((k, node) => {
    for (const p of k.procs.values()) {
      if (!p.blocked) continue;
      const name = syscallByNumber(p.blocked.sysno)?.name ?? p.blocked.sysno;
      lines.push(`node ${node} pid ${p.pid} (${p.args[0] ?? p.module}) is blocked in ${name}`);
    }
  });
  return lines.join("\n");
}

export async function until(c: TestCluster, cond: () => boolean, what: string, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}\n${
          stuck(c)
        }\n--- console ---\n${c.console.out}${c.console.err}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Waits until process `p` is blocked on its empty event queue: it says so in its
 * event page (WAITING, set just before it sleeps).
 */
export async function untilBlockedOnEvents(c: TestCluster, p: Process, what: string) {
  await until(c, () => p.events !== null && Atomics.load(p.events, EventPage.WAITING) === 1, what);
}
