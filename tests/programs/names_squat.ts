/**
 * Tries to export a segment under each name in args; reports each one's outcome
 * ("ok" or the error code), for tests/servers_test.ts.
 */

import { CreateSegment, exportSegment, RIGHTS_ALL } from "../../userland/lib/mod.ts";
import { outcome, report } from "./report.ts";

export default function main(args: string[]): number {
  const seg = CreateSegment(4096);
  report({
    squat: Object.fromEntries(
      args.map((n) => [n, outcome(() => exportSegment(seg, n, RIGHTS_ALL))]),
    ),
  });
  return 0;
}
