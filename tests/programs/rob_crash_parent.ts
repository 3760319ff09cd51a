/**
 * A parent whose child throws at module load with a message of 6000+ characters.
 *
 *   rob_crash_parent blocked   spawns the child gated, and is blocked in wait() when it dies
 *   rob_crash_parent after     waits for SIGCHLD first, then calls wait()
 *
 * Then it spawns and waits for another child (exit_with 7), and reports both waits.
 */

import { Sig, signalAddress, SignalHandler, SigWait, spawn, wait } from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const CRASH = new URL("./rob_crash_load.ts", import.meta.url).href;
const EXIT = new URL("./exit_with.ts", import.meta.url).href;

export default function main(args: string[]): number {
  let sigchld = 0;
  let pid: number;
  if (args[0] === "blocked") {
    pid = spawn(CRASH, ["gate"]);
  } else {
    SignalHandler(signalAddress(Sig.SIGCHLD), 4, () => sigchld++);
    pid = spawn(CRASH, []);
    const until = performance.now() + 10_000;
    while (sigchld === 0 && performance.now() < until) SigWait(1000);
  }
  const crashed = attempt(() => wait(pid, 10_000));
  const sigchldBefore = sigchld;
  const again = attempt(() => wait(spawn(EXIT, ["7"]), 10_000));
  report({ pid, sigchld: sigchldBefore, crashed, again });
  return 0;
}
