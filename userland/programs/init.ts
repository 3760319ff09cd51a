/**
 * init (pid 1 on every node): starts the node's servers, the name clerk
 * (servers/names/) and the exec server (servers/exec/), then the shell on the console, or with `--run PROGRAM [ARGS]` that one program, or with
 * `--serve` nothing more. It reaps every orphan the kernel re-parents to it and exits
 * with the status of the shell or the program, which ends the node.
 */

import { println, spawn, SysError, wait } from "../lib/mod.ts";

const CLERK = "servers/names/mod.ts";
const EXEC = "servers/exec/mod.ts";

/** Restarts of the name clerk init makes before it gives up (a clerk that keeps dying). */
const CLERK_RESTARTS = 5;

export default function main(args: string[]): number {
  let clerk = spawn(CLERK);
  let restarts = 0;
  /** Reaps `child`; a dead clerk is started again (the kernel re-posts its exports). */
  const reaped = (child: { pid: number; reason: string }) => {
    if (child.pid !== clerk) return;
    println(`init: the name clerk ended: ${child.reason}`);
    if (restarts++ < CLERK_RESTARTS) clerk = spawn(CLERK);
  };
  spawn(EXEC);
  const mode = args[0];
  if (mode === "--serve") {
    for (;;) reaped(wait(-1));
  }
  const [program, ...rest] = mode === "--run" ? args.slice(1) : ["userland/programs/shell.ts"];
  let pid: number;
  try {
    pid = spawn(program, rest);
  } catch (e) {
    if (e instanceof SysError) {
      println(`init: cannot start ${program}: ${e.message}`);
      return e.code === "ENOENT" ? 127 : 126;
    }
    throw e;
  }
  for (;;) {
    const child = wait(-1);
    reaped(child);
    if (child.pid !== pid) continue; // an orphan, now reaped
    if (child.status !== 0 && mode === "--run") println(`init: ${program}: ${child.reason}`);
    return child.status;
  }
}
