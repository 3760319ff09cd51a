// Registry of bench suites, in run order. Add a suite here to make it
// selectable with `deno task bench --suite NAME`.

import type { Suite } from "../suite.ts";
import { files } from "./files.ts";
import { mbm } from "./mbm.ts";
import { mbmSetup } from "./mbm_setup.ts";
import { names } from "./names.ts";
import { paging } from "./paging.ts";
import { signalPath } from "./signal_path.ts";
import { remote } from "./remote.ts";
import { trap } from "./trap.ts";
import { tripwire } from "./tripwire.ts";

export const suites: Suite[] = [
  trap,
  remote,
  names,
  mbm,
  mbmSetup,
  signalPath,
  tripwire,
  paging,
  files,
];
