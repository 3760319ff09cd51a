// Suite `trap`: the cost of one round trip into the kernel and back, next to
// the raw-worker peers it should be compared with.

import type { CaseResult, Suite } from "../suite.ts";
import { runBenchProgram } from "../kernel_runner.ts";
import { median } from "../stats.ts";
import {
  atomicsSpinRoundtrip,
  atomicsWaitRoundtrip,
  type PeerResult,
  postMessageRoundtrip,
} from "../peers.ts";

/** One case of this suite; cases run one after another, in list order. */
export interface TrapCase {
  name: string;
  run(opts: { quick: boolean }): Promise<CaseResult>;
}

/** Turns a peer's samples (µs per round trip) into a CaseResult. */
export function roundtripResult(name: string, r: PeerResult, note?: string): CaseResult {
  const med = median(r.samples_us);
  return {
    name,
    samples_us: r.samples_us,
    n: r.n,
    ops_per_s: med > 0 ? 1e6 / med : undefined,
    note: note ?? `${r.batch} round trips per sample`,
  };
}

export const trapCases: TrapCase[] = [
  // --- kernel cases: real processes in a booted node (tests/bench/programs/) ----
  {
    name: "null-trap",
    run: async (o) => roundtripResult("null-trap", await runBenchProgram("null_trap", o)),
  },
  {
    name: "signal-roundtrip",
    run: async (o) =>
      roundtripResult("signal-roundtrip", await runBenchProgram("signal_roundtrip", o)),
  },

  // --- raw-worker peers (tests/bench/peers.ts) -------------------------------
  {
    name: "atomics-spin-roundtrip",
    run: async (o) => roundtripResult("atomics-spin-roundtrip", await atomicsSpinRoundtrip(o)),
  },
  {
    name: "atomics-wait-roundtrip",
    run: async (o) => roundtripResult("atomics-wait-roundtrip", await atomicsWaitRoundtrip(o)),
  },
  {
    name: "postmessage-roundtrip",
    run: async (o) => roundtripResult("postmessage-roundtrip", await postMessageRoundtrip(o)),
  },
];

const ROUNDS = 3;

/** Pools the samples of two runs of one case (its throughput follows the pooled median). */
export function mergeResults(a: CaseResult, b: CaseResult): CaseResult {
  const samples_us = [...a.samples_us, ...b.samples_us];
  const med = median(samples_us);
  return {
    ...a,
    samples_us,
    n: a.n + b.n,
    ops_per_s: a.ops_per_s === undefined ? undefined : 1e6 / med,
  };
}

export const trap: Suite = {
  name: "trap",
  description: "trap round trip vs raw-worker peers (spin, Atomics.wait, postMessage)",
  async run(opts) {
    // Sequential (2 cores), and interleaved in rounds so that a drift in the
    // machine's speed during the run (a noisy neighbour) falls on every case alike.
    const rounds = opts.quick ? 1 : ROUNDS;
    const merged = new Map<string, CaseResult>();
    for (let r = 0; r < rounds; r++) {
      for (const c of trapCases) {
        const res = await c.run(opts);
        const prev = merged.get(c.name);
        merged.set(c.name, prev ? mergeResults(prev, res) : res);
      }
    }
    return [...merged.values()];
  },
};
