/**
 * The process table (xv6 proc.c): processes by pid, their birth, their end, and
 * their parents' waits.
 *
 * Life of a process: `spawn` builds its trap page, FIFO and address space, asks the
 * host for a worker and puts it on the trap service's scan list; `exit` ends it
 * (exit, kill, fault or crash): stops its worker, cancels its waiting trap, has the
 * kernel free everything it held (`release`), and hands its status to its parent,
 * which reaps it with `wait`. A process whose parent is the kernel itself (pid 0),
 * or whose parent is gone, is reaped at once; orphans go to init (pid 1).
 */

import {
  Cap,
  clipReason,
  EventPage,
  EXIT_KILLED_BASE,
  Fifo,
  Sig,
  SignalPath,
  Trap,
  TrapState,
} from "../abi/layout.ts";
import type { ProcessHost } from "../host_interface.ts";
import type { Limits } from "../config.ts";
import type { NodeStats } from "../node_stats.ts";
import { fail } from "../panic.ts";
import type { TrapService } from "../trap/trap_service.ts";
import type { SegmentTable } from "../memory/segment_table.ts";
import { type ExitStatus, Process, type TrapServer } from "./process.ts";

/** Options for spawning from the kernel's side (the host, a test, or `sys_spawn`). */
export interface SpawnOptions {
  ppid?: number;
  /** Segments the child may bind, with rights (never more than the parent holds). */
  share?: { segment: number; rights: number }[];
  /**
   * Its capabilities (Cap in kernel/abi/layout.ts), never inherited. The caller
   * checks who may grant them (sys_spawn: init only); a process the host starts
   * with none given gets Cap.SERVICE (the host starts init, and in tests clerks).
   */
  caps?: number;
  /** Label its console output with its node and pid (inherited by its children). */
  labelOutput?: boolean;
}

/** What the process table is told at boot: the node's settings and its other parts. */
export interface ProcessTableDeps {
  readonly nodeId: number;
  readonly fifoCapacity: number;
  readonly signalLossEvery: number;
  readonly processSpin: number;
  readonly signalPath: "hardware" | "software";
  readonly host: ProcessHost;
  readonly trapService: TrapService;
  readonly traps: TrapServer;
  readonly segments: SegmentTable;
  readonly stats: NodeStats;
  readonly limits: Limits;
  /** Frees everything an ending process held (bindings, segments, exports, services). */
  release(p: Process): void;
  /** Tells a parent a child ended (SIGCHLD, whose default action is to ignore it). */
  childEnded(parent: Process, child: Process): void;
}

/** A parent blocked in `wait`: which child it waits for, and what to do with it. */
interface ChildWait {
  readonly wpid: number;
  readonly reaped: (child: Process) => void;
}

export class ProcessTable {
  readonly byPid = new Map<number, Process>();
  readonly #deps: ProcessTableDeps;
  readonly #waits = new Map<Process, ChildWait>();
  #nextPid = 1;
  /** Descriptors open on the node, shared by every process's table. */
  readonly #descriptors: { open: number; readonly max: number };

  constructor(deps: ProcessTableDeps) {
    this.#deps = deps;
    this.#descriptors = { open: 0, max: deps.limits.nodeDescriptors };
  }

  /** Descriptors open on the node. */
  get descriptorsOpen(): number {
    return this.#descriptors.open;
  }

  get(pid: number): Process | undefined {
    return this.byPid.get(pid);
  }

  has(pid: number): boolean {
    return this.byPid.has(pid);
  }

  values(): IterableIterator<Process> {
    return this.byPid.values();
  }

  get size(): number {
    return this.byPid.size;
  }

  /** The process `pid` if it is running. */
  running(pid: number): Process | undefined {
    const p = this.byPid.get(pid);
    return p && p.state === "running" ? p : undefined;
  }

  /** Starts a process; throws KernelError (ENOENT, EBADF, EPERM, EAGAIN) if it cannot. */
  spawn(module: string, args: string[] = [], opts: SpawnOptions = {}): Process {
    const d = this.#deps;
    const { processes, children } = d.limits;
    if (this.byPid.size >= processes) {
      fail("EAGAIN", `the node has ${this.byPid.size} processes (zombies too), its most`);
    }
    const url = d.host.resolveModule(module);
    if (!url) fail("ENOENT", `no program ${JSON.stringify(module)}`);
    const ppid = opts.ppid ?? 0;
    const parent = this.byPid.get(ppid);
    if (parent && parent.children.size >= children) {
      fail("EAGAIN", `pid ${ppid} has ${parent.children.size} children not yet reaped, its most`);
    }
    const share = opts.share ?? [];
    for (const s of share) {
      const seg = d.segments.get(s.segment);
      if (!seg) fail("EBADF", `no segment ${s.segment}`);
      if (seg.driverOnly) fail("EPERM", `segment ${s.segment} is a device's: it cannot be shared`);
      const held = parent ? seg.holders.get(ppid) ?? 0 : s.rights;
      if (s.rights & ~held) fail("EPERM", `segment ${s.segment}: rights ${s.rights} not held`);
    }
    const pid = this.#nextPid++;
    const p = new Process(d.traps, pid, ppid, url, args, d.fifoCapacity, d.signalLossEvery, {
      perProcess: d.limits.descriptors,
      node: this.#descriptors,
    });
    p.caps = opts.caps ?? (ppid === 0 ? Cap.SERVICE : 0);
    p.labelOutput = (opts.labelOutput ?? false) || (parent?.labelOutput ?? false);
    Atomics.store(p.trap, Trap.SPIN, d.processSpin);
    Atomics.store(p.trap, Trap.NODE, d.nodeId);
    const path = d.signalPath === "software" ? SignalPath.SOFTWARE : SignalPath.HARDWARE;
    Atomics.store(p.trap, Trap.SIGNAL_PATH, path);
    for (const s of share) d.segments.grant(d.segments.get(s.segment)!, pid, s.rights);
    this.byPid.set(pid, p);
    parent?.children.add(pid);
    d.stats.spawned++;
    p.handle = d.host.start({
      pid,
      ppid,
      module: url,
      args,
      trap: p.trapBuffer,
      fifo: p.fifo.buffer,
      pageTable: p.space.pageTable.buffer,
      doorbell: d.trapService.doorbellBuffer,
    }, (message) => this.exit(p, EXIT_KILLED_BASE + Sig.SIGABRT, `crashed: ${message}`));
    // Its first trap must ring a service that is asleep now (trap_service.ts).
    Atomics.store(p.trap, Trap.KERNEL_SLEEPING, d.trapService.sleeping ? 1 : 0);
    d.trapService.running.push(p);
    return p;
  }

  /**
   * Ends a process: stops its worker, cancels its waiting trap, frees what it held,
   * re-parents its children, and reports to its parent. Idempotent.
   */
  exit(p: Process, status: number, reason: string): void {
    if (p.state !== "running") return;
    p.handle?.terminate();
    p.state = "zombie";
    const d = this.#deps;
    try {
      p.blocked?.cancel();
      p.blocked = null;
      this.#waits.delete(p);
      const i = d.trapService.running.indexOf(p);
      if (i >= 0) d.trapService.running.splice(i, 1);
      d.release(p);
    } finally {
      // Whatever freeing met, the process is gone and its parent must hear of it.
      d.stats.exited++;
      d.stats.signalsDropped += p.fifo.dropped();
      p.markExited({ pid: p.pid, status, reason: clipReason(reason) });
      stopWorker(p);
      this.#reparentChildren(p);
      this.#notifyParent(p);
    }
  }

  /**
   * Marks every descriptor naming (node, export, generation) stale: the name clerk's
   * refresh found it revoked. Operations on them now fail locally with ESTALE.
   */
  invalidate(node: number, exportId: number, genHi: number, genLo: number): void {
    for (const p of this.byPid.values()) {
      for (const d of p.descriptors.all()) {
        if (d.node === node && d.exportId === exportId && d.genHi === genHi && d.genLo === genLo) {
          d.stale = true;
        }
      }
    }
  }

  /** Removes a zombie from the table for good. */
  reap(p: Process): void {
    this.byPid.delete(p.pid);
    this.byPid.get(p.ppid)?.children.delete(p.pid);
  }

  /**
   * A zombie child of `p` matching `wpid` (-1: any), or null while none has exited;
   * fails with ECHILD if none can ever match.
   */
  findZombie(p: Process, wpid: number): Process | null {
    if (wpid !== -1 && !p.children.has(wpid)) fail("ECHILD", `pid ${wpid} is not a child`);
    if (p.children.size === 0) fail("ECHILD", "no children");
    return this.#zombie(p, wpid);
  }

  /**
   * Calls `reaped` with the first child matching `wpid` to exit from now on (the
   * caller's trap waits meanwhile); `stopWaiting` takes the request back.
   */
  awaitChild(p: Process, wpid: number, reaped: (child: Process) => void): void {
    this.#waits.set(p, { wpid, reaped });
  }

  stopWaiting(p: Process): void {
    this.#waits.delete(p);
  }

  #zombie(p: Process, wpid: number): Process | null {
    for (const c of p.children) {
      const child = this.byPid.get(c);
      if (child?.state === "zombie" && (wpid === -1 || c === wpid)) return child;
    }
    return null;
  }

  /** A child of `parent` exited: a parent blocked in `wait` for it takes it now. */
  #childExited(parent: Process): void {
    const w = this.#waits.get(parent);
    if (!w) return;
    const z = this.#zombie(parent, w.wpid);
    if (!z) return;
    this.#waits.delete(parent);
    w.reaped(z);
  }

  #reparentChildren(p: Process): void {
    const init = this.byPid.get(1);
    const heir = init && init.state === "running" && init !== p ? 1 : 0;
    for (const cpid of p.children) {
      const c = this.byPid.get(cpid);
      if (!c) continue;
      c.ppid = heir;
      if (heir) init!.children.add(cpid);
      else if (c.state === "zombie") this.reap(c);
    }
    p.children.clear();
    if (heir) this.#childExited(init!);
  }

  #notifyParent(p: Process): void {
    const parent = this.byPid.get(p.ppid);
    if (!parent || parent.state !== "running") return this.reap(p);
    this.#childExited(parent);
    this.#deps.childEnded(parent, p);
  }
}

/**
 * Tells an ended process's worker to stop itself. `worker.terminate()` does not stop
 * a worker that is busy or blocked (Deno 2.9), so the kernel marks the trap page
 * ENDED for good, wakes every wait the runtime can be in on the kernel's pages (the
 * trap's STATE, the signal FIFO's TAIL, the event queue's TAIL) and shoots down the
 * TLB, so that the runtime stops the worker at its next trap, memory access or wait
 * (userland/lib/rt/runtime.ts stopIfEnded), freeing its thread.
 */
function stopWorker(p: Process): void {
  Atomics.store(p.trap, Trap.STATE, TrapState.ENDED);
  Atomics.add(p.trap, Trap.TLB_EPOCH, 1);
  Atomics.notify(p.trap, Trap.STATE);
  Atomics.notify(p.fifo.words, Fifo.TAIL);
  if (p.events) Atomics.notify(p.events, EventPage.TAIL);
}

export type { ExitStatus };
