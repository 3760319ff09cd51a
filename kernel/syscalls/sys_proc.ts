/**
 * Process system calls: null, exit, spawn, wait, kill, getpid (xv6 sysproc.c): thin
 * glue over the process table (kernel/proc/process_table.ts).
 */

import { Cap, CAPS_ALL } from "../abi/layout.ts";
import { MAX_NAME_BYTES } from "../abi/names.ts";
import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { readDataString, writeDataPrefix } from "../trap/data_area.ts";
import { BLOCKED } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";

const encoder = new TextEncoder();

interface SpawnRequest {
  module: string;
  args: string[];
  share: { segment: number; rights: number }[];
  /** Capabilities for the child (Cap): only init may ask for any. */
  caps: number;
  /** Names only system servers may export on this node from now on (init's, with SERVICE). */
  reserve: string[];
  /** Label the child's console output with its node and pid. */
  label: boolean;
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
  const caps = v.caps ?? 0;
  if (!Number.isInteger(caps) || (caps & ~CAPS_ALL) !== 0 || caps < 0) {
    fail("EINVAL", `spawn: caps ${JSON.stringify(caps)} (a mask of Cap, within ${CAPS_ALL})`);
  }
  const reserve = v.reserve ?? [];
  const okReserve = Array.isArray(reserve) &&
    reserve.every((r: unknown) =>
      typeof r === "string" && r !== "" && encoder.encode(r).length <= MAX_NAME_BYTES
    );
  if (!okReserve) fail("EINVAL", `spawn: reserve must be names of 1 to ${MAX_NAME_BYTES} bytes`);
  const label = v.label ?? false;
  if (typeof label !== "boolean") fail("EINVAL", "spawn: label must be true or false");
  return { module: v.module, args, share, caps, reserve, label };
}

/**
 * Whether `from` may send a Unix-style signal (and so kill) `to`: itself, its
 * parent, init, or the process acting for the user at the console (Cap.USER, which
 * init hands the shell). Init itself is signalled by no one else. Everyone else is
 * refused, whatever the signal: a signal is a kill the target may handle, and even
 * a handled one costs it a FIFO entry (a flood of them drops its other signals).
 */
export function maySignal(from: Process, to: Process): boolean {
  if (from === to) return true;
  if (to.pid === 1) return false;
  return to.ppid === from.pid || from.pid === 1 || (from.caps & Cap.USER) !== 0;
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
      // Capabilities are minted only here, only by init: never inherited, never
      // asked for by a program (an orphan re-parented to init gets none either).
      if (req.caps !== 0 && p.pid !== 1) {
        fail("EPERM", `spawn: only init (pid 1) may grant capabilities; pid ${p.pid} asked`);
      }
      // init reserves a table server's name before it starts: no program can take it
      // first, at boot or while the server is restarted.
      if (req.reserve.length !== 0 && !(req.caps & Cap.SERVICE)) {
        fail("EPERM", "spawn: only init may reserve names, for a server it starts with SERVICE");
      }
      const child = n.procs.spawn(req.module, req.args, {
        ppid: p.pid,
        share: req.share,
        caps: req.caps,
        labelOutput: req.label,
      });
      for (const name of req.reserve) n.exports.reserveForServices(name);
      return child.pid;
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
      if (!maySignal(p, target)) {
        fail(
          "EPERM",
          `pid ${p.pid} may not signal pid ${pid}: only its parent (pid ${target.ppid}), ` +
            "init or the shell may",
        );
      }
      // Queued before the trap completes, so a handled signal sent to oneself runs on
      // this trap's return; if the default action ends the caller, nothing completes.
      n.signals.signalProcess(target, signo, p.pid);
      return 0;
    },

    getpid: (p) => ({ result: p.pid, result2: p.ppid }),
  };
}
