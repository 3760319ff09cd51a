/**
 * Takes what a process must give back when it exits and exits without giving it
 * back: binds the segment named by its argument (granted by the test), pins two of
 * its pages, imports two remote descriptors (its own node's heartbeat and
 * registry; args[1] is the node), reports, and exits after SIGHUP.
 */
import { WellKnown } from "../../kernel/abi/names.ts";
import { bind, getpid, importWellKnown, info, pin } from "../../userland/lib/mod.ts";
import { report, signalGate } from "./report.ts";

export default function main(args: string[]): number {
  const seg = Number(args[0]);
  const at = bind(seg);
  const gate = signalGate();
  const pinned = pin(at, 2 * 4096);
  const me = Number(args[1]);
  const descriptors = [
    importWellKnown(me, WellKnown.HEARTBEAT),
    importWellKnown(me, WellKnown.REGISTRY),
  ];
  report({ pid: getpid(), pinned, descriptors, held: info("descriptors").length });
  gate();
  return 0;
}
