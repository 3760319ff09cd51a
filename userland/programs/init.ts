/**
 * init (pid 1 on every node): starts the node's servers from the table in
 * servers/table.ts (the name clerk, the exec server; clients wait for a server's
 * name with waitForName, init does not), then the shell on the console, or with
 * `--run PROGRAM [ARGS]` that one program, or with `--serve` nothing more. It
 * reaps every orphan the kernel re-parents to it, starts a server that dies again
 * as often as its row allows, and exits with the status of the shell or the
 * program, which ends the node.
 */

import { nodeId, println, spawn, SysError, wait } from "../lib/mod.ts";
import { type ServerRow, serversOn } from "../../servers/table.ts";

interface Running {
  row: ServerRow;
  restarts: number;
}

export default function main(args: string[]): number {
  const servers = new Map<number, Running>();
  for (const row of serversOn(nodeId())) {
    servers.set(spawn(row.module, [...row.args]), { row, restarts: 0 });
  }
  /** Reaps `child`; a server that died is started again if its row allows. */
  const reaped = (child: { pid: number; reason: string }) => {
    const s = servers.get(child.pid);
    if (!s) return;
    servers.delete(child.pid);
    println(`init: ${s.row.title} ended: ${child.reason}`);
    if (s.restarts++ < s.row.restarts) servers.set(spawn(s.row.module, [...s.row.args]), s);
  };
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
