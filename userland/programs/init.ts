/**
 * init (pid 1 on every node): starts the node's servers from the table in
 * servers/table.ts (the name clerk, the exec server; clients wait for a server's
 * name with waitForName, init does not), then the shell on the console, or with
 * `--run PROGRAM [ARGS]` that one program, or with `--serve` nothing more. It
 * reaps every orphan the kernel re-parents to it, starts a server that dies again
 * (unless it is in a crash loop, which it says plainly), and exits with the status
 * of the shell or the program, which ends the node. With `--run` it reads the
 * keyboard for Ctrl-C meanwhile and sends the program SIGINT.
 *
 * init alone may hand out capabilities (kernel/abi/layout.ts, Cap): the servers of
 * the table get Cap.SERVICE (they may attach as kernel services, and the name each
 * row exports is reserved for system servers as it starts), the shell gets
 * Cap.USER (it acts for the user at the console, so it may kill any process but
 * init); the `--run` program, like every orphan, gets none.
 */

import {
  awaitChildOrInput,
  Cap,
  ConsoleKey,
  info,
  kill,
  nodeId,
  println,
  type ReadConsoleOptions,
  Sig,
  spawn,
  SysError,
  wait,
} from "../lib/mod.ts";
import { argsOf, reservedNames, type ServerRow, serversOn } from "../../servers/table.ts";

interface Running {
  row: ServerRow;
  /** When it ended lately (ms), within its row's crash-loop window. */
  ends: number[];
}

export default function main(args: string[]): number {
  const servers = new Map<number, Running>();
  // Its name is reserved as it starts: no program can export it first.
  const facts = info("stats");
  const start = (row: ServerRow) => {
    const reserve = reservedNames(row, nodeId()), args = argsOf(row, nodeId(), facts);
    return spawn(row.module, args, { caps: Cap.SERVICE, reserve });
  };
  for (const row of serversOn(nodeId(), facts)) servers.set(start(row), { row, ends: [] });
  /** Reaps `child`; a server that died is started again unless it is in a crash loop. */
  const reaped = (child: { pid: number; status: number; reason: string }) => {
    const s = servers.get(child.pid);
    if (!s) return;
    servers.delete(child.pid);
    println(`init: ${s.row.title} ended: ${child.reason}`);
    // Status 0: it finished (it found nothing to serve, or was told to stop).
    if (child.status === 0) return;
    const now = performance.now(), { ends, withinMs } = s.row.crashLoop;
    s.ends = [...s.ends.filter((t) => now - t < withinMs), now];
    if (s.ends.length >= ends) {
      println(
        `init: node ${nodeId()} has lost ${s.row.title}: it ended ${s.ends.length} times ` +
          `within ${withinMs / 1000} s, and is not started again`,
      );
      return;
    }
    try {
      servers.set(start(s.row), s);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      println(`init: node ${nodeId()} has lost ${s.row.title}: ${e.message}`);
    }
  };
  const mode = args[0];
  if (mode === "--serve") {
    for (;;) reaped(wait(-1));
  }
  const run = mode === "--run";
  const [program, ...rest] = run ? args.slice(1) : ["userland/programs/shell.ts"];
  let pid: number;
  try {
    pid = spawn(program, rest, { caps: run ? 0 : Cap.USER });
  } catch (e) {
    if (e instanceof SysError) {
      println(`init: cannot start ${program}: ${e.message}`);
      return e.code === "ENOENT" ? 127 : 126;
    }
    throw e;
  }
  // With --run, init is the program's shell: Ctrl-C sends it SIGINT (the shell does
  // that for its own jobs, so init leaves the keyboard to the shell).
  let keys: ReadConsoleOptions | null = run ? { onlyKeys: true } : null;
  for (;;) {
    const e = awaitChildOrInput(keys);
    if (e.kind === "eof") keys = null;
    if (e.kind === "key" && e.key === ConsoleKey.INTERRUPT) interrupt(pid);
    if (e.kind !== "child") continue;
    const child = e.child;
    reaped(child);
    if (child.pid !== pid) continue; // an orphan, now reaped
    if (child.status !== 0 && run) println(`init: ${program}: ${child.reason}`);
    return child.status;
  }
}

/** Sends SIGINT to the --run program, unless it has just ended. */
function interrupt(pid: number): void {
  try {
    kill(pid, Sig.SIGINT);
  } catch (e) {
    if (!(e instanceof SysError && e.code === "ESRCH")) throw e;
  }
}
