// Suite `mbm-setup`: 001 Table 3, the system calls that set up and tear down a
// memory-based messaging channel (a 4 KB MESSAGE segment), each timed on its own
// in one process of a booted node (tests/bench/programs/mbm_setup.ts).

import { runBenchProgramCases } from "../kernel_runner.ts";
import type { Suite } from "../suite.ts";
import { roundtripResult } from "./trap.ts";

/** 001 Table 3's execution times, µs (68040, 15 MIPS). */
const PAPER_US: Record<string, number> = {
  "create-segment": 582,
  "bind": 320,
  "enable-signal": 249,
  "disable-signal": 231,
  "unbind": 243,
  "release": 636,
};

export const mbmSetup: Suite = {
  name: "mbm-setup",
  description: "channel setup calls: create, bind, enable/disable signal, unbind, release",
  async run(opts) {
    const results = await runBenchProgramCases("mbm_setup", opts);
    return results.map((r) =>
      roundtripResult(
        r.case,
        r,
        `${r.batch} calls per sample; paper Table 3: ${PAPER_US[r.case] ?? "?"} µs`,
      )
    );
  },
};
