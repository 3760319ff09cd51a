/**
 * The trap service: finds posted trap requests and serves them without ever
 * blocking Deno's event loop for long. One service runs per host thread and serves
 * every node hosted there (the nodes share the host's CPU as emulated machines
 * would share nothing else); each process names the kernel that serves it.
 *
 * Each scan also takes a batch from every process's DMA queue (002 §3.4) that has
 * requests waiting, round-robin, before looking at its trap page.
 *
 * A process posts a request by filling its trap page and storing PENDING in STATE;
 * if the kernel is asleep (its own trap page's KERNEL_SLEEPING, which the service
 * sets in every process's page before it sleeps) it also bumps Doorbell.SEQ and
 * notifies. The service spins over the running processes' STATE words for up to
 * `spinUs` after the last request it served, then sleeps in Atomics.waitAsync on the
 * doorbell. A busy stretch longer than SLICE_MS yields to the event loop with
 * setImmediate so timers, console input and worker events still run. With
 * `spinUs = 0` (block-only mode) it never spins: it serves what is posted and sleeps.
 *
 * The spin adapts as SigWait's does (userland/lib/rt/spin.ts): a doorbell that
 * rings soon after the service went to sleep (within SOON_MS, or four spin times)
 * means processes are in a conversation through the kernel that the spin just
 * missed, so the next spin is twice as long, up to MAX_SPIN_MS; a sleep that lasted
 * longer, or ended by its safety timeout, brings the spin back to `spinUs`.
 * Without this, traffic whose every hop crosses the kernel (a Tripwire server and
 * its clients) settles into a convoy where each hop pays the kernel thread's
 * wake-up, because processes that wait for it wake later than its spin lasts. The
 * spin serves only what a scan sees (trap pages, DMA rings, the emulated network's
 * frames); a node whose frames come from a TCP socket needs the event loop for
 * every reply, which a longer spin would hold up (a 40-byte WRITE over TCP went
 * from 0.2 to 1.2 ms, since a chain of setImmediate does not poll sockets), so the
 * TCP transport turns the adaptation off (arrivesOnEventLoop).
 *
 * The sleep protocol is Dekker-style on sequentially consistent atomics: the kernel
 * sets KERNEL_SLEEPING, then re-scans; a process stores PENDING, then reads
 * KERNEL_SLEEPING. Either the re-scan sees the request or the process rings.
 *
 * Each process reads the flag in its own trap page, so a process that stores 0 there
 * slows only its own traps (to the sleep's SAFETY_POLL_MS bound); the doorbell's one
 * shared word, SEQ, only ever wakes the service. A process that spawns after the
 * service fell asleep finds its flag set (ProcessTable.spawn asks `sleeping`).
 */

import type { Clock } from "../host_interface.ts";
import { DmaQueue, Doorbell, DOORBELL_BYTES, Trap, TrapState } from "../abi/layout.ts";
import type { Process } from "../proc/process.ts";

const SLICE_MS = 5;
const SAFETY_POLL_MS = 100;
/** A wake-up this soon after going to sleep lengthens the next spin. */
const SOON_MS = 0.2;
/** The longest the adapted spin grows to. */
const MAX_SPIN_MS = 1;

/** Other work the service does while it spins: returns true if it did some. */
export type Poller = () => boolean;

export class TrapService {
  readonly doorbellBuffer = new SharedArrayBuffer(DOORBELL_BYTES);
  readonly #doorbell = new Int32Array(this.doorbellBuffer);
  /** The configured spin, and the spin now (adapted; see above). */
  readonly #spinMs: number;
  #spinNowMs: number;
  #sleeping = false;
  /** True once the spin must not adapt (see arrivesOnEventLoop). */
  #fixedSpin = false;
  readonly #clock: Clock;
  /** The processes whose trap pages are scanned; kept by their kernels. */
  readonly running: Process[] = [];
  readonly #pollers: Poller[] = [];
  #stopped = false;
  #scheduled = false;
  wakeups = 0;
  /** Sleeps that only the safety timeout ended (no doorbell rang). */
  timeouts = 0;

  constructor(spinUs: number, clock: Clock) {
    this.#spinMs = spinUs / 1000;
    this.#spinNowMs = this.#spinMs;
    this.#clock = clock;
  }

  /** Adds work to poll on every scan (e.g. the emulated network's delayed frames). */
  addPoller(p: Poller): void {
    this.#pollers.push(p);
  }

  /** Starts serving. */
  start(): void {
    this.#schedule();
  }

  /** Stops serving and releases the pending wait. */
  stop(): void {
    this.#stopped = true;
    Atomics.add(this.#doorbell, Doorbell.SEQ, 1);
    Atomics.notify(this.#doorbell, Doorbell.SEQ);
  }

  /** Wakes the service if it sleeps: work that was held back may go now. */
  kick(): void {
    const db = this.#doorbell;
    if (this.#sleeping) {
      Atomics.add(db, Doorbell.SEQ, 1);
      Atomics.notify(db, Doorbell.SEQ);
    }
  }

  /** Serves every posted request once; returns how many it served. */
  scan(): number {
    let n = 0;
    const procs = this.running;
    for (let i = 0; i < procs.length; i++) {
      const p = procs[i];
      const q = p.dma;
      // Only entries taken count as work: a ring held back by too many requests
      // outstanding must not keep the service from sleeping.
      if (q !== null && Atomics.load(q, DmaQueue.TAIL) !== p.dmaHead && p.server.serveDma(p) > 0) {
        n++;
      }
      if (p.inTrap) continue;
      const s = Atomics.load(p.trap, Trap.STATE);
      if ((s === TrapState.PENDING || s === TrapState.SLEEPING) && p.server.serveTrap(p)) n++;
    }
    for (let i = 0; i < this.#pollers.length; i++) if (this.#pollers[i]()) n++;
    return n;
  }

  #schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    this.#clock.setImmediate(() => {
      this.#scheduled = false;
      this.#run();
    });
  }

  #run(): void {
    if (this.#stopped) return;
    const clock = this.#clock;
    const start = clock.now();
    let idleSince = start;
    for (let iter = 0;; iter++) {
      const served = this.scan();
      if (served > 0) idleSince = -1;
      // The clock every 32 idle scans; after every busy one (a scan can take
      // a batch from every DMA ring), so a slice never runs long past SLICE_MS.
      if ((iter & 31) !== 0 && served === 0) continue;
      const now = clock.now();
      if (idleSince < 0) idleSince = now;
      if (now - start > SLICE_MS) return this.#schedule();
      if (now - idleSince >= this.#spinNowMs) break;
    }
    this.#sleep();
  }

  /**
   * Work for this service's kernels arrives through the event loop (a TCP socket),
   * which a spinning service holds up: from now on the spin stays at `spinUs`.
   */
  arrivesOnEventLoop(): void {
    this.#fixedSpin = true;
    this.#spinNowMs = this.#spinMs;
  }

  /** Lengthens the spin after a sleep that the doorbell ended soon; resets it otherwise. */
  #adapt(sleptMs: number): void {
    const base = this.#spinMs;
    if (base === 0 || this.#fixedSpin) return;
    const now = this.#spinNowMs;
    this.#spinNowMs = sleptMs < Math.max(SOON_MS, 4 * now) ? Math.min(now * 2, MAX_SPIN_MS) : base;
  }

  /** The spin the service uses now, in µs (read by tests). */
  get spinUs(): number {
    return this.#spinNowMs * 1000;
  }

  /** True while the service sleeps on its doorbell. */
  get sleeping(): boolean {
    return this.#sleeping;
  }

  /** Sets (or clears) KERNEL_SLEEPING in every running process's trap page. */
  #setSleeping(on: boolean): void {
    this.#sleeping = on;
    const v = on ? 1 : 0;
    const procs = this.running;
    for (let i = 0; i < procs.length; i++) Atomics.store(procs[i].trap, Trap.KERNEL_SLEEPING, v);
  }

  #sleep(): void {
    const db = this.#doorbell;
    this.#setSleeping(true);
    const seq = Atomics.load(db, Doorbell.SEQ);
    if (this.scan() > 0 || this.#stopped) {
      this.#setSleeping(false);
      return this.#schedule();
    }
    // The doorbell is shared memory a process could scribble on, so the sleep is
    // bounded: at worst a request waits SAFETY_POLL_MS, never forever.
    const waited = Atomics.waitAsync(db, Doorbell.SEQ, seq, SAFETY_POLL_MS);
    if (!waited.async) {
      this.#setSleeping(false);
      return this.#schedule();
    }
    const slept = this.#clock.now();
    waited.value.then((how) => {
      this.#setSleeping(false);
      this.wakeups++;
      if (how !== "ok") this.timeouts++;
      this.#adapt(how === "ok" ? this.#clock.now() - slept : Infinity);
      this.#run();
    });
  }
}
