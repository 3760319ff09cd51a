// Suite `mbm`: RPC on optimized memory-based messaging (001 §5.2, Table 4), on the
// hardware signal path (hw), the software path (sw) and between two in-process
// nodes (xnode), beside raw-worker RPC peers measured in the same run.

import type { KernelConfig } from "../../../kernel/kernel.ts";
import { runClusterBench } from "../kernel_runner.ts";
import { messageChannelRpc32, postMessageRpc32 } from "../peers.ts";
import type { CaseResult, Suite } from "../suite.ts";
import { toCases } from "./remote.ts";
import { mergeResults, roundtripResult } from "./trap.ts";

const PAPER: Record<string, string> = {
  "null-rpc": "paper: Opt. MBM 44 µs, Soft MBM 121 µs",
  "rpc-32": "paper: Opt. MBM 47 µs, Soft MBM 124 µs",
  "rpc-1k": "paper: Opt. MBM 215 µs, Soft MBM 268 µs",
};

async function rpcCases(
  prefix: string,
  opts: { quick: boolean },
  nodes: number,
  config: Partial<KernelConfig>,
): Promise<CaseResult[]> {
  const results = await runClusterBench("mbm_rpc", opts, {
    nodes,
    config,
    server: ["mbm_rpc", "--server"],
    clientNode: nodes - 1,
    args: ["0", prefix],
  });
  return toCases(results).map((c) => ({ ...c, note: PAPER[c.name.slice(prefix.length)] }));
}

export const mbm: Suite = {
  name: "mbm",
  description: "RPC over memory-based messaging: hardware and software signal paths, " +
    "two nodes, and raw-worker RPC peers",
  async run(opts) {
    // Interleaved in rounds, so a drift in the machine's speed falls on every case.
    const rounds = opts.quick ? 1 : 2;
    const all: CaseResult[][] = [];
    for (let r = 0; r < rounds; r++) {
      all.push([
        ...await rpcCases("hw/", opts, 1, { signalPath: "hardware" }),
        ...await rpcCases("sw/", opts, 1, { signalPath: "software" }),
        ...await rpcCases("xnode/", opts, 2, { signalPath: "hardware" }),
        roundtripResult("postmessage-rpc-32", await postMessageRpc32(opts)),
        roundtripResult("messagechannel-rpc-32", await messageChannelRpc32(opts)),
      ]);
    }
    return pool(all);
  },
};

/** Pools the samples of each case over the rounds. */
function pool(rounds: CaseResult[][]): CaseResult[] {
  const byName = new Map<string, CaseResult>();
  for (const c of rounds.flat()) {
    const prev = byName.get(c.name);
    byName.set(c.name, prev ? mergeResults(prev, c) : c);
  }
  return [...byName.values()];
}
