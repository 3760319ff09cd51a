// Bench program: 000 Table 3's name-server operations, seen by a user on node 1
// with the name exported on node args[1]: export, revoke, import-cached,
// import-uncached and lookup-with-notification. One BENCH line per case.

import {
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  println,
  revoke,
} from "../../../userland/lib/mod.ts";
import { measureAndReport } from "./bench_report.ts";
import { importWhenReady } from "./remote_ops.ts";

const BATCH = 16; // exports per round; the registry has 256 slots

/** Export and revoke alternate in rounds of BATCH names, each timed on its own. */
function exportRevoke(quick: boolean): void {
  const segment = CreateSegment(4096);
  bind(segment);
  const rounds = quick ? 5 : 60;
  const exp: number[] = [], rev: number[] = [];
  for (let r = 0; r < rounds + 2; r++) {
    // The same names every round: their revoked slots are reused, so the registry
    // never fills with tombstones that would slow every later probe.
    const names = Array.from({ length: BATCH }, (_, i) => `bench.x${i}`);
    const t0 = performance.now();
    for (const n of names) exportSegment(segment, n);
    const t1 = performance.now();
    for (const n of names) revoke(n);
    const t2 = performance.now();
    if (r < 2) continue; // warm-up
    exp.push(((t1 - t0) * 1000) / BATCH);
    rev.push(((t2 - t1) * 1000) / BATCH);
  }
  const n = rounds * BATCH;
  println(`BENCH ${JSON.stringify({ case: "export", samples_us: exp, n, batch: BATCH })}`);
  println(`BENCH ${JSON.stringify({ case: "revoke", samples_us: rev, n, batch: BATCH })}`);
}

export default async function main(args: string[]): Promise<number> {
  const quick = args[0] === "quick";
  const owner = Number(args[1] ?? 0);
  importWhenReady("bench.name", owner); // warms the clerk's cache
  const settle = performance.now() + (quick ? 200 : 1_000);
  while (performance.now() < settle) {
    importSegment("bench.name", { hint: owner, forceRemote: true });
  }
  const lookups: [string, () => void][] = [
    ["import-cached", () => importSegment("bench.name", { hint: owner })],
    ["import-uncached", () => importSegment("bench.name", { hint: owner, forceRemote: true })],
    [
      "lookup-with-notification",
      () => importSegment("bench.name", { hint: owner, forceRemote: true, byNotify: true }),
    ],
  ];
  // Interleaved rounds: the cached/uncached difference is the point (000 §4.3), so
  // both must see the same machine.
  for (let round = 0; round < (quick ? 1 : 4); round++) {
    for (const [name, op] of lookups) {
      await measureAndReport(
        (k) => {
          for (let i = 0; i < k; i++) op();
        },
        quick,
        name,
      );
    }
  }
  exportRevoke(quick); // last: its tombstones must not lengthen the lookups' probes
  return 0;
}
