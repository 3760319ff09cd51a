/**
 * A process that scribbles its own signal FIFO's header (CAPACITY = 2^30,
 * TAIL = HEAD = 2^20), then takes kernel-posted signals: SIGCHLD when a child exits,
 * and SIGTERM from kill() on itself, each with a handler.
 */

import { Fifo } from "../../kernel/abi/layout.ts";
import {
  getpid,
  kill,
  Sig,
  signalAddress,
  signalCounters,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { rt } from "../../userland/lib/rt/runtime.ts";
import { attempt, report } from "./report.ts";

const EXIT = new URL("./exit_with.ts", import.meta.url).href;

function until(cond: () => boolean, ms: number): boolean {
  const deadline = performance.now() + ms;
  while (!cond() && performance.now() < deadline) {
    SigWait(Math.max(1, deadline - performance.now()));
  }
  return cond();
}

export default function main(): number {
  let sigchld = 0, sigterm = 0;
  SignalHandler(signalAddress(Sig.SIGCHLD), 4, () => sigchld++);
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => sigterm++);
  const f = rt().fifo;
  Atomics.store(f, Fifo.CAPACITY, 1 << 30);
  Atomics.store(f, Fifo.TAIL, 1 << 20);
  Atomics.store(f, Fifo.HEAD, 1 << 20);
  const child = spawn(EXIT, ["0"]);
  until(() => sigchld > 0, 5000);
  const waited = attempt(() => wait(child, 5000));
  const killed = attempt(() => kill(getpid(), Sig.SIGTERM));
  until(() => sigterm > 0, 5000);
  report({ sigchld, sigterm, waited, killed: killed ?? null, counters: signalCounters() });
  return 0;
}
