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
  waitForName,
} from "../../../userland/lib/mod.ts";

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

export default function main(args: string[]): number {
  const quick = args[0] === "quick";
  const owner = Number(args[1] ?? 0);
  waitForName("bench.name", 10_000, { hint: owner }); // warms the clerk's cache
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
  interleaved(lookups, quick);
  exportRevoke(quick); // last: its tombstones must not lengthen the lookups' probes
  return 0;
}

/**
 * The cached/uncached difference is the point (000 §4.3), and it is small beside
 * the wake-ups every import costs, so the cases alternate batch by batch (ABCABC…):
 * a drift in the machine's speed falls on all of them alike.
 */
function interleaved(cases: [string, () => void][], quick: boolean): void {
  const BATCH_OPS = 8;
  const rounds = quick ? 30 : 1_500;
  const samples = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < cases.length; c++) {
      const op = cases[c][1];
      const t0 = performance.now();
      for (let i = 0; i < BATCH_OPS; i++) op();
      samples[c].push(((performance.now() - t0) * 1000) / BATCH_OPS);
    }
  }
  cases.forEach(([name], c) => {
    const result = { case: name, samples_us: samples[c], n: rounds * BATCH_OPS, batch: BATCH_OPS };
    println(`BENCH ${JSON.stringify(result)}`);
  });
}
