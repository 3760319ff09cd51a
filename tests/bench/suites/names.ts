// Suite `names`: 000 Table 3's name-server operations seen by a user, between two
// in-process nodes (the name is exported on node 0, looked up from node 1).

import { runClusterBench } from "../kernel_runner.ts";
import type { Suite } from "../suite.ts";
import { toCases } from "./remote.ts";

export const names: Suite = {
  name: "names",
  description: "export, import (cached, uncached, with notification), revoke",
  async run(opts) {
    return toCases(await runClusterBench("names_ops", opts));
  },
};
