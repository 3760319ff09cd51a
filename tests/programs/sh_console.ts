/**
 * The console read's errors and interruption, and spawn's ENOEXEC and E2BIG: a
 * read with unknown flags (EINVAL), an interruptible read that a child's SIGCHLD
 * ends (EINTR, its handler run first), a file that is not a program, a request too
 * long for the data area.
 */

import {
  readConsole,
  Sig,
  signalAddress,
  SignalHandler,
  spawn,
  Sys,
  trap,
  wait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const badFlags = attempt(() => trap(Sys.console_read, 8));
  let handled = 0;
  SignalHandler(signalAddress(Sig.SIGCHLD), 4, () => handled++);
  spawn(args[0], ["0"]);
  const interrupted = attempt(() => readConsole({ onlyKeys: true, interruptible: true }));
  const child = wait(-1);
  const notProgram = attempt(() => spawn("README.md"));
  const tooLong = attempt(() => spawn(args[0], ["x".repeat(6000)]));
  report({ badFlags, interrupted, handled, child: child.status, notProgram, tooLong });
  return 0;
}
