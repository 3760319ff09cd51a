// Suite `signal-path`: one address-valued signal on each signal path (001 §5.1,
// Table 1), whole (one-way: half a ping-pong between two processes) and in the
// parts the code separates, each beside the paper's rows.

import type { KernelConfig } from "../../../kernel/kernel.ts";
import { runBenchProgramCases } from "../kernel_runner.ts";
import type { CaseResult, Suite } from "../suite.ts";
import { toCases } from "./remote.ts";

/** What each case corresponds to in Table 1 (software-only | hardware-supported). */
const PAPER: Record<string, string> = {
  "one-way": "Table 1 total: software-only 36 µs, hardware-supported 16 µs",
  "complete-silent": "sender side, no receiver (hardware: no instructions; software: " +
    "system call + v-to-p mapping + receivers, 10 µs)",
  "complete-self": "sender and receiver in one thread: everything but the interrupt's flight",
  "null-trap": "Table 1 'sender system call': 3 µs",
};

async function pathCases(prefix: string, opts: { quick: boolean }, config: Partial<KernelConfig>) {
  const cases = toCases(await runBenchProgramCases("signal_path", opts, config));
  const out: CaseResult[] = [];
  for (const c of cases) {
    if (c.name === "round-trip") {
      // One-way: half of each round-trip sample (both directions are alike).
      const half = c.samples_us.map((s) => s / 2);
      out.push({
        ...c,
        name: prefix + "one-way",
        samples_us: half,
        ops_per_s: undefined,
        note: PAPER["one-way"],
      });
    } else out.push({ ...c, name: prefix + c.name, note: PAPER[c.name] });
  }
  return out;
}

export const signalPath: Suite = {
  name: "signal-path",
  description: "one signal on the hardware and the software path, whole and in parts",
  async run(opts) {
    return [
      ...await pathCases("hw/", opts, { signalPath: "hardware" }),
      ...await pathCases("sw/", opts, { signalPath: "software" }),
    ];
  },
};
