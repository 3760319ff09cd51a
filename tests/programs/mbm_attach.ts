/**
 * attach() of descriptors it must refuse, and of one it must take, reported by code.
 * Runs on a node other than 0, while mbm_node.ts' owner on node 0 exports NAME (a
 * message segment) and NAME-normal (a NORMAL one).
 *
 *   mbm_attach NAME
 *
 * missing: a descriptor number never issued; remoteNormal: NAME-normal (the owner
 * refuses the JOIN); localNormal / localMessage: segments this process exports and
 * imports on its own node; revoked: the local message segment's descriptor after
 * its export is revoked; remoteMessage: NAME itself, attached twice (one replica).
 */

import {
  attach,
  CreateSegment,
  exportSegment,
  importSegment,
  nodeId,
  PAGE_SIZE,
  revoke,
  SegMode,
  SegUnit,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const [name] = args;
  const node = nodeId();
  const r: Record<string, unknown> = { node };
  r.missing = attempt(() => attach(987_654));
  r.remoteNormal = attempt(() => attach(importSegment(`${name}-normal`, { hint: 0 }).desc));

  const normal = CreateSegment(PAGE_SIZE);
  exportSegment(normal, `${name}-local-normal`);
  r.localNormal = attempt(() => attach(importSegment(`${name}-local-normal`, { hint: node }).desc));

  const msg = CreateSegment(PAGE_SIZE, SegMode.MESSAGE, SegUnit.PAGE);
  exportSegment(msg, `${name}-local-msg`);
  const desc = importSegment(`${name}-local-msg`, { hint: node }).desc;
  r.localMessage = { segment: msg, attached: attempt(() => attach(desc)) };
  revoke(`${name}-local-msg`);
  r.revoked = attempt(() => attach(desc));

  const remote = importSegment(name, { hint: 0 }).desc;
  r.remoteMessage = [attempt(() => attach(remote)), attempt(() => attach(remote))];
  report(r);
  return 0;
}
