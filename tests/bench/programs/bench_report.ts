// Shared by the kernel-side bench programs: measure with the same batching as
// the raw peers, and report the samples on the console for the harness to read.

import { println } from "../../../userland/lib/mod.ts";
import { type Batch, measureBatches } from "../peers/worker_common.ts";

/** Measures `batch` and prints one `BENCH <json>` line (tagged with `name` if given). */
export async function measureAndReport(batch: Batch, quick: boolean, name?: string): Promise<void> {
  const deadline = performance.now() + (quick ? 10_000 : 30_000);
  const r = await measureBatches(batch, quick, deadline);
  println(`BENCH ${JSON.stringify(name ? { case: name, ...r } : r)}`);
}
