/**
 * Process system calls: null, exit, spawn, wait, kill, getpid (xv6 sysproc.c): thin
 * glue over the process table (kernel/proc/process_table.ts).
 */

import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { readDataString, writeDataPrefix } from "../trap/data_area.ts";
import { BLOCKED } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";

interface SpawnRequest {
  module: string;
  args: string[];
  share: { segment: number; rights: number }[];
}

/** Parses and checks a spawn request from the data area, or fails with EINVAL. */
function parseSpawn(text: string): SpawnRequest {
  let v: any;
  try {
    v = JSON.parse(text);
  } catch {
    fail("EINVAL", "spawn request is not JSON");
  }
  if (typeof v?.module !== "string" || v.module === "") fail("EINVAL", "spawn: no module");
  const args = v.args ?? [];
  if (!Array.isArray(args) || !args.every((a: unknown) => typeof a === "string")) {
    fail("EINVAL", "spawn: args must be strings");
  }
  const share = v.share ?? [];
  const okShare = Array.isArray(share) &&
    share.every((s: any) =>
      Number.isInteger(s?.segment) && Number.isInteger(s?.rights) && s.rights > 0
    );
  if (!okShare) fail("EINVAL", "spawn: share must be [{segment, rights}]");
  return { module: v.module, args, share };
}

export function procHandlers(
  n: NodeParts,
): Handlers<"null" | "exit" | "spawn" | "wait" | "kill" | "getpid"> {
  const procs = n.procs;

  /** Reaps `child` into `p`'s trap page: RESULT pid, RESULT2 status, data the reason. */
  const reapInto = (p: Process, child: Process): { result: number; result2: number } => {
    writeDataPrefix(p.trap, child.exit!.reason); // reasons are clipped to fit
    procs.reap(child);
    return { result: child.pid, result2: child.exit!.status };
  };

  return {
    null: () => 0,

    exit: (p, [code]) => {
      if (code < 0 || code > 255) fail("EINVAL", `exit status ${code} is not in 0..255`);
      const reason = readDataString(p.trap) || `exited with status ${code}`;
      procs.exit(p, code, reason);
      return BLOCKED; // never completes: the worker is gone
    },

    spawn: (p) => {
      const req = parseSpawn(readDataString(p.trap));
      return n.procs.spawn(req.module, req.args, { ppid: p.pid, share: req.share }).pid;
    },

    wait: (p, [wpid, timeout]) => {
      const z = procs.findZombie(p, wpid);
      if (z) return reapInto(p, z);
      if (timeout === 0) fail("EAGAIN", "no child has exited");
      const w = n.traps.block(p, {
        timeoutMs: timeout,
        timeoutDetail: `no child exited within ${timeout} ms`,
        onCancel: () => procs.stopWaiting(p),
      });
      procs.awaitChild(p, wpid, (child) => {
        const r = reapInto(p, child);
        w.complete(r.result, r.result2);
      });
      return BLOCKED;
    },

    kill: (p, [pid, signo]) => {
      const target = procs.running(pid);
      if (!target) fail("ESRCH", `no process ${pid}`);
      if (pid === 1 && p.pid !== 1) fail("EPERM", "init cannot be signalled");
      // Queued before the trap completes, so a handled signal sent to oneself runs on
      // this trap's return; if the default action ends the caller, nothing completes.
      n.signals.signalProcess(target, signo, p.pid);
      return 0;
    },

    getpid: (p) => ({ result: p.pid, result2: p.ppid }),
  };
}
