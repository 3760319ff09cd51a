/**
 * Waits for names with waitForName and reports what it found:
 *
 *   names_wait.ts table NODES      every name init's table says a node's servers
 *                                  export, on nodes 0..NODES-1: {table: [{name, size}]}
 *   names_wait.ts late NAME HINT   reports {waiting}, then waits up to 10 s for NAME:
 *                                  {found: size}
 *   names_wait.ts missing NAME MS  waits MS for a name nobody exports: {missing: code}
 */

import { closeDescriptor, waitForName } from "../../userland/lib/mod.ts";
import { readyName, serversOn } from "../../servers/table.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const [mode, a, b] = args;
  if (mode === "table") {
    const found: { name: string; size: number }[] = [];
    for (let node = 0; node < Number(a); node++) {
      for (const row of serversOn(node)) {
        const name = readyName(row, node);
        if (name === null) continue;
        const { desc, size } = waitForName(name, 10_000, { hint: node });
        closeDescriptor(desc);
        found.push({ name, size });
      }
    }
    report({ table: found });
  } else if (mode === "late") {
    report({ waiting: a });
    const { desc, size } = waitForName(a, 10_000, { hint: Number(b) });
    closeDescriptor(desc);
    report({ found: size });
  } else if (mode === "missing") {
    report({ missing: attempt(() => waitForName(a, Number(b))) });
  }
  return 0;
}
