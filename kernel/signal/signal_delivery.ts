/**
 * Signal delivery (001 §3.1): address-valued signals on segments, Unix-style
 * signals to processes, and the signal directories that let a sender on the
 * hardware path post into receivers' FIFOs itself.
 *
 * A signal on (segment, offset) goes to every process binding the segment with a
 * handler there, each at the address where *it* sees that offset (001 Fig. 2); a
 * range registered with event_signal takes it as a SIGNAL event instead, and a
 * kernel-side handler (the name channel) is called. A Unix signal is delivered at
 * its well-known address if the process has a handler there, else its default
 * action ends the process (SIGCHLD is ignored; SIGKILL cannot be handled).
 */

import {
  EventKind,
  EXIT_KILLED_BASE,
  Sig,
  SIGNAL_NAMES,
  signalAddress,
  Trap,
} from "../abi/layout.ts";
import type { Binding } from "../memory/binding.ts";
import type { Segment } from "../memory/segment.ts";
import type { NodeStats } from "../node_stats.ts";
import { hex } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { postEvent } from "../remote/tripwires.ts";
import type { Tracer } from "../trace.ts";
import type { HandlerTable } from "./handler_table.ts";
import type { DirectoryEntry } from "./signal_directory.ts";

export interface SignalDeliveryDeps {
  readonly procs: ReadonlyMap<number, Process>;
  readonly stats: NodeStats;
  readonly tracer: Tracer;
  /** "hardware": senders post into receivers' FIFOs, so they are handed them. */
  readonly signalPath: "hardware" | "software";
  /** True if completed units of `seg` must travel to other nodes (message_channels.ts). */
  linked(seg: Segment): boolean;
  /** Ends a process (a signal's default action). */
  kill(p: Process, status: number, reason: string): void;
}

export class SignalDelivery {
  readonly #d: SignalDeliveryDeps;

  constructor(deps: SignalDeliveryDeps) {
    this.#d = deps;
  }

  /**
   * Sends Unix-style signal `signo` to `p` (001 §3.1 footnote 4): delivered at its
   * well-known address if `p` has a handler there, otherwise the default action
   * (terminate; SIGCHLD is ignored). SIGKILL cannot be handled. `quiet`: a
   * SIGCHLD nobody handles is dropped without a word.
   */
  signalProcess(p: Process, signo: number, from: number, quiet = false): void {
    const name = SIGNAL_NAMES[signo] ?? `signal ${signo}`;
    if (signo !== Sig.SIGKILL) {
      const addr = signalAddress(signo);
      const id = p.handlers.lookup(addr);
      if (id) {
        this.queueSignal(p, addr, id);
        return;
      }
      if (signo === Sig.SIGCHLD) return;
    }
    if (!quiet || signo !== Sig.SIGCHLD) {
      const by = `killed by ${name}${from ? ` from pid ${from}` : ""}`;
      this.#d.kill(p, EXIT_KILLED_BASE + signo, by);
    }
  }

  /**
   * Signals every handler on (segment, offset): each process binding the segment
   * with a handler there gets its own address for it (001 Fig. 2), and a kernel-side
   * handler (the name channel) is called. Returns how many processes were queued.
   */
  signalSegment(seg: Segment, offset: number): number {
    let n = 0;
    const procs = this.#d.procs;
    for (const b of seg.bindings) {
      const receiver = procs.get(b.pid);
      if (!receiver || receiver.state !== "running") continue;
      const rv = b.vaddr + offset;
      // A range registered with event_signal takes the signal as an event instead.
      const tag = receiver.signalEvents.size ? receiver.signalEvents.lookup(rv) : 0;
      if (tag) {
        if (receiver.events && postEvent(receiver.events, EventKind.SIGNAL, tag, rv)) n++;
        continue;
      }
      const id = receiver.handlers.lookup(rv);
      if (id && this.queueSignal(receiver, rv, id)) n++;
    }
    seg.kernelHandler?.(offset);
    return n;
  }

  /** Puts one signal in a process's FIFO, counting drops; interrupts an interruptible wait. */
  queueSignal(p: Process, vaddr: number, id: number): boolean {
    const ok = p.fifo.push(vaddr, id);
    if (ok) {
      p.counters.signalsQueued++;
      this.#d.stats.signalsQueued++;
      // An interruptible wait (a console read) ends, so the handler runs now.
      p.blocked?.interrupt();
    }
    this.#d.tracer.trace(
      "signals",
      `pid ${p.pid} <- ${hex(vaddr)} handler ${id}${ok ? "" : " DROPPED (FIFO full)"}`,
    );
    return ok;
  }

  /**
   * Rewrites a segment's signal directory after a binding or a handler changed, and
   * first hands every process that binds the segment the FIFOs of the receivers it
   * may now post to (so a sender never finds a receiver it cannot reach).
   */
  refreshDirectory(seg: Segment): void {
    const procs = this.#d.procs;
    const entries: DirectoryEntry[] = [];
    for (const b of seg.bindings) {
      const receiver = procs.get(b.pid);
      if (!receiver || receiver.state !== "running") continue;
      enter(entries, receiver.handlers, b, b.pid);
      // pid 0, the kernel: a range whose signals become events makes senders trap,
      // as only the kernel writes the event queue.
      enter(entries, receiver.signalEvents, b, 0);
    }
    // The kernel has no FIFO a sender could post to: its entry makes senders trap.
    if (seg.kernelHandler) entries.push({ pid: 0, first: 0, end: seg.size });
    if (this.#d.signalPath === "hardware") this.#grantFifos(seg, entries);
    seg.directory.publish(entries, this.#d.linked(seg));
  }

  /** Hands each running binder of `seg` the FIFO of every receiver in `entries`. */
  #grantFifos(seg: Segment, entries: DirectoryEntry[]): void {
    const procs = this.#d.procs;
    const receivers = new Set(entries.map((e) => e.pid).filter((pid) => pid !== 0));
    for (const b of seg.bindings) {
      const sender = procs.get(b.pid);
      if (!sender || sender.state !== "running") continue;
      for (const pid of receivers) {
        if (sender.fifosGranted.has(pid)) continue;
        sender.fifosGranted.add(pid);
        sender.handle?.grant({ kind: "fifo", pid, buffer: procs.get(pid)!.fifo.buffer });
        Atomics.add(sender.trap, Trap.GRANTS, 1);
      }
    }
  }
}

/** Enters the ranges of `table` that binding `b` covers, for receiver `pid`. */
function enter(out: DirectoryEntry[], table: HandlerTable, b: Binding, pid: number): void {
  for (const r of table.ranges) {
    const first = Math.max(r.vaddr, b.vaddr), end = Math.min(r.vaddr + r.size, b.vaddr + b.size);
    if (first < end) out.push({ pid, first: first - b.vaddr, end: end - b.vaddr });
  }
}
