// Bench program: 000 Table 2's operations against "bench.target" on node args[1],
// one in flight (issue, then wait for the completion), printing one BENCH line per
// case. args: [quick|full, ownerNode, prefix] (prefix "tcp-" over TCP).

import {
  allocate,
  awaitRemote,
  bind,
  CAS,
  CreateSegment,
  READ,
  remoteCounters,
  waitForName,
  WRITE,
  writeBlock,
} from "../../../userland/lib/mod.ts";
import { measureAndReport } from "./bench_report.ts";

export default async function main(args: string[]): Promise<number> {
  const quick = args[0] === "quick";
  const owner = Number(args[1] ?? 0);
  const prefix = args[2] ?? "";
  const { desc } = waitForName("bench.target", 10_000, { hint: owner });
  const local = CreateSegment(4096);
  bind(local);
  const block = allocate(4096);
  const data = new Uint8Array(40).fill(7);
  const one = (issue: () => void) => {
    const before = remoteCounters();
    issue();
    awaitRemote(before);
  };
  const cases: [string, () => void][] = [
    ["write-40", () => one(() => WRITE(desc, 0, data))],
    ["read-40", () => one(() => READ(desc, 0, 40, local, 0))],
    ["cas", () => one(() => CAS(desc, 64, local, 64, 0, 0))],
    ["write-notify-40", () => one(() => WRITE(desc, 128, data, true))],
    ["block-write-4k", () => one(() => writeBlock(desc, 4096, block, 4096))],
  ];
  // Warm every path up first: the node's other workers are still starting.
  const settle = performance.now() + (quick ? 200 : 1_000);
  while (performance.now() < settle) for (const [, op] of cases) op();
  for (const [name, op] of cases) {
    await measureAndReport(
      (k) => {
        for (let i = 0; i < k; i++) op();
      },
      quick,
      prefix + name,
    );
  }
  return 0;
}
