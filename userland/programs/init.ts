/**
 * init (pid 1): starts the shell on the console, or with `--run PROGRAM [ARGS]` that
 * one program, and reaps every orphan the kernel re-parents to it. It exits with the
 * status of the shell or the program, which ends the boot.
 */

import { println, spawn, SysError, wait } from "../lib/mod.ts";

export default function main(args: string[]): number {
  const [program, ...rest] = args[0] === "--run" ? args.slice(1) : ["userland/programs/shell.ts"];
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
    if (child.pid !== pid) continue; // an orphan, now reaped
    if (child.status !== 0 && args[0] === "--run") println(`init: ${program}: ${child.reason}`);
    return child.status;
  }
}
