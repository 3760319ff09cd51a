/**
 * Process system calls: null, exit, spawn, wait, kill, getpid (xv6 sysproc.c).
 */

import { Trap } from "../abi/layout.ts";
import { Errno } from "../abi/errors.ts";
import { BLOCKED, type Handler } from "../trap/dispatch.ts";
import type { Kernel } from "../kernel.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { readDataString, writeDataPrefix } from "./data.ts";

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

export function procHandlers(k: Kernel): Record<string, Handler> {
  /** Finds a zombie child of `p` matching `wpid`; fails with ECHILD if none can ever match. */
  const findZombie = (p: Process, wpid: number): Process | null => {
    if (wpid !== -1 && !p.children.has(wpid)) fail("ECHILD", `pid ${wpid} is not a child`);
    if (p.children.size === 0) fail("ECHILD", "no children");
    for (const c of p.children) {
      const child = k.procs.get(c);
      if (child?.state === "zombie" && (wpid === -1 || c === wpid)) return child;
    }
    return null;
  };

  /** Reaps `child` into `p`'s trap page: RESULT pid, RESULT2 status, data the reason. */
  const reapInto = (p: Process, child: Process): { result: number; result2: number } => {
    writeDataPrefix(p.trap, child.exit!.reason); // reasons are clipped to fit
    k.reap(child);
    return { result: child.pid, result2: child.exit!.status };
  };

  k.onChildExit = (parent) => {
    const blocked = parent.blocked;
    if (!blocked || blocked.wpid === undefined) return;
    const z = findZombie(parent, blocked.wpid);
    if (!z) return;
    parent.blocked!.cancel();
    const r = reapInto(parent, z);
    k.completeBlocked(parent, r.result, 0, r.result2);
  };

  return {
    null: () => 0,

    exit: (p, [code]) => {
      if (code < 0 || code > 255) fail("EINVAL", `exit status ${code} is not in 0..255`);
      const reason = readDataString(p.trap) || `exited with status ${code}`;
      k.terminate(p, code, reason);
      return BLOCKED; // never completes: the worker is gone
    },

    spawn: (p) => {
      const req = parseSpawn(readDataString(p.trap));
      return k.spawn(req.module, req.args, { ppid: p.pid, share: req.share }).pid;
    },

    wait: (p, [wpid, timeout]) => {
      const z = findZombie(p, wpid);
      if (z) return reapInto(p, z);
      if (timeout === 0) fail("EAGAIN", "no child has exited");
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (timeout > 0) {
        timer = setTimeout(() => {
          p.blocked = null;
          k.completeBlocked(p, -1, Errno.ETIMEDOUT, 0, `no child exited within ${timeout} ms`);
        }, timeout);
      }
      p.blocked = { sysno: p.trap[Trap.SYSNO], wpid, cancel: () => clearTimeout(timer) };
      return BLOCKED;
    },

    kill: (p, [pid, signo]) => {
      const target = k.procs.get(pid);
      if (!target || target.state !== "running") fail("ESRCH", `no process ${pid}`);
      if (pid === 1 && p.pid !== 1) fail("EPERM", "init cannot be signalled");
      // Queued before the trap completes, so a handled signal sent to oneself runs on
      // this trap's return; if the default action ends the caller, nothing completes.
      k.signalProcess(target, signo, p.pid);
      return 0;
    },

    getpid: (p) => ({ result: p.pid, result2: p.ppid }),
  };
}
