// Runs a kernel-side bench program in a freshly booted node (spin-then-block, the
// default configuration) and returns the samples it reports.

import { Kernel, type KernelConfig } from "../../kernel/kernel.ts";
import { MemoryConsole } from "../../kernel/host/console.ts";
import { WorkerHost } from "../../kernel/host/worker_host.ts";
import type { PeerResult } from "./peers/worker_common.ts";

/** Boots a node, runs `program` (in tests/bench/programs/) and parses its BENCH line. */
export async function runBenchProgram(
  program: string,
  opts: { quick: boolean },
  config: Partial<KernelConfig> = {},
): Promise<PeerResult> {
  const console = new MemoryConsole();
  const kernel = new Kernel(new WorkerHost(), console, config);
  const url = new URL(`./programs/${program}.ts`, import.meta.url).href;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const p = kernel.spawn(url, opts.quick ? ["quick"] : []);
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${program}: no result in 60 s`)), 60_000);
    });
    const status = await Promise.race([p.exited, limit]);
    const line = console.out.split("\n").find((l) => l.startsWith("BENCH "));
    if (status.status !== 0 || !line) {
      throw new Error(`${program}: ${status.reason}\n${console.out}${console.err}`);
    }
    return JSON.parse(line.slice(6));
  } finally {
    clearTimeout(timer);
    kernel.halt();
  }
}
