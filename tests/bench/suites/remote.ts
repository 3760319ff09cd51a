// Suite `remote`: 000 Table 2's meta-instructions (40-byte operations, one in
// flight) between two nodes in one process and, as tcp-*, between two Deno
// processes over TCP loopback.

import { type NamedResult, runClusterBench, runTcpBench } from "../kernel_runner.ts";
import { median } from "../stats.ts";
import type { CaseResult, Suite } from "../suite.ts";

/** Turns a program's named results into cases, adding MB/s to the block write. */
export function toCases(results: NamedResult[]): CaseResult[] {
  return results.map((r) => {
    const med = median(r.samples_us);
    const c: CaseResult = {
      name: r.case,
      samples_us: r.samples_us,
      n: r.n,
      ops_per_s: 1e6 / med,
      note: `${r.batch} per sample`,
    };
    if (r.case.endsWith("block-write-4k")) c.mb_per_s = 4096 / med;
    return c;
  });
}

export const remote: Suite = {
  name: "remote",
  description: "remote READ/WRITE/CAS between two nodes: in one process and over TCP",
  async run(opts) {
    return [
      ...toCases(await runClusterBench("remote_ops", opts)),
      ...toCases(await runTcpBench("remote_ops", { ...opts, prefix: "tcp-" })),
    ];
  },
};
