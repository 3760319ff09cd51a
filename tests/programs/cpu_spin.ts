/**
 * For tests/work_meter_test.ts: `spin N` does N iterations of arithmetic and
 * reports; `idle` waits for signals until killed.
 */

import { SigWait } from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  if (args[0] === "idle") { for (;;) SigWait(1_000); }
  let x = 0;
  for (let i = 0; i < Number(args[1]); i++) x = (x * 31 + i) | 0;
  report({ spun: true, x });
  for (;;) SigWait(1_000); // stays, so the host can read its thread
}
