/**
 * A parent that kills one child and loses another to a crash, and reaps both only
 * when told to (a SIGHUP from the test, handled at its well-known address). Reports
 * the children's pids, then their wait() results, then waits for a second SIGHUP
 * before it exits.
 */

import {
  getpid,
  kill,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(): number {
  let hups = 0;
  SignalHandler(signalAddress(Sig.SIGHUP), 4, () => hups++);
  const awaitHup = (n: number) => {
    while (hups < n) {
      if (SigWait(10_000) === 0) throw new Error(`no SIGHUP ${n}`);
    }
  };
  const spinner = spawn(new URL("./sig_victim.ts", import.meta.url).href, ["--spin"]);
  const crasher = spawn(new URL("./exit_with.ts", import.meta.url).href, ["throw"]);
  kill(spinner, Sig.SIGKILL);
  report({ parent: getpid(), spinner, crasher });
  awaitHup(1);
  const killed = wait(spinner);
  const crashed = wait(crasher);
  report({ killed, crashed });
  awaitHup(2);
  return 0;
}
