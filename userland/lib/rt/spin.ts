/**
 * Spin-then-wait, once for the whole runtime. A thread that waits for another
 * (the kernel answering a trap, a peer posting a signal, a Tripwire firing, an
 * event arriving, a remote request completing) first spins, then blocks in
 * Atomics.wait. Every such loop takes its spin from a SpinPolicy, and every
 * SpinPolicy starts from the node's policy: the process's spin count
 * (KernelConfig.processSpin, handed over in the trap page; runtime.ts `spin`). A
 * block-only node (`--block-only`, processSpin 0) never spins, anywhere.
 *
 * A policy has two parts:
 *
 * - a counted spin, `count` probes (the node's spin count: a few µs). It wins
 *   when the other side is awake and answers at once: the kernel completing a
 *   trap, a remote request a link away, a peer's signal.
 * - a timed spin of `us` microseconds, which adapts (`adapt`) in one of two ways:
 *
 *   "success" (Tripwire bits and the event queue: waits the kernel's thread
 *   answers). The spin is kept while it pays: a spin that catches its answer in
 *   its second half doubles (up to `maxUs`), one that runs out halves (to 0 below
 *   1 µs), and at 0 every 16th wait spins `floorUs` again to look (a hit restores
 *   it). On a 2-core machine the kernel's thread needs a core for every message,
 *   so a spin that does not catch its answer delays it: measured, a server that
 *   kept spinning 15 µs, or grew its spin on wake-ups, answered a lone request
 *   at half the rate of one that blocked at once, while under load (requests
 *   queued on every connection) the same spin catches nearly every event and is
 *   kept. So a loaded server neither burns its core nor pays a wake-up per request
 *   that a spin would have saved.
 *
 *   "wake" (SigWait: signals a peer process posts straight into our FIFO, with no
 *   kernel between). A wait that had to block and was woken soon after (within
 *   `soonUs`, or four spin times) by a peer starts a timed spin of `startUs` and
 *   doubles it on each such wake-up, up to `maxUs`; any other wait ends it. See
 *   signals.ts.
 *
 * The spin is bounded (`maxUs`, 1 ms at most) and backs off on every wait it does
 * not win. The policy never reads the clock: its loops tell it what happened
 * (`hit`, `missed`, `blocked`), so its adaptation is a pure function of what it is
 * told (tests/spin_test.ts drives it with made-up values).
 *
 * The helpers (`spinUntil`, `waitUntil`) take the condition as a
 * closure. A call per probe costs little next to the cache-line transfer a spin
 * waits for, but on the hottest path, trap completion (null-trap), the loop is
 * written inline in trap.ts with its count from the same policy (`spin.kernel`).
 */

import { Trap } from "../../../kernel/abi/layout.ts";
import { runtime, stopIfEnded } from "./runtime.ts";

export interface SpinLimits {
  /** The timed spin at rest, µs (0: the counted spin only). */
  floorUs?: number;
  /** The first timed spin after a soon wake-up ("wake"), µs. */
  startUs?: number;
  /** The longest timed spin, µs. */
  maxUs?: number;
  /** A wake-up within this many µs of blocking (or four spin times) counts as soon. */
  soonUs?: number;
  /** How the timed spin adapts: see the module; "none" keeps it at its floor. */
  adapt?: "success" | "wake" | "none";
  /** False: no counted spin (the timed spin only), for waits whose answer never
   * comes within a few loads (Tripwires, the event queue). */
  counted?: boolean;
}

/** Waits at a zero spin between two that spin to look again ("success"). */
export const PROBE_EVERY = 16;

/** The spin of one kind of wait, derived from the node's spin count; see the module. */
export class SpinPolicy {
  /** False on a block-only node: no spin at all. */
  readonly on: boolean;
  /** Probes in the counted spin (the node's spin count, or 0). */
  readonly count: number;
  readonly floorUs: number;
  readonly startUs: number;
  readonly maxUs: number;
  readonly soonUs: number;
  readonly adapt: "success" | "wake" | "none";
  /** The timed spin now, µs (always 0 on a block-only node). */
  us: number;
  /** Waits since the spin fell to 0 ("success": every PROBE_EVERY-th spins again). */
  #idle = 0;
  /** The timed spin the current wait was given (what `hit` and `missed` judge). */
  #given = 0;

  constructor(nodeSpin: number, limits: SpinLimits = {}) {
    const on = nodeSpin > 0;
    this.on = on;
    this.count = on && (limits.counted ?? true) ? nodeSpin | 0 : 0;
    this.floorUs = on ? limits.floorUs ?? 0 : 0;
    this.startUs = on ? Math.max(limits.startUs ?? 50, this.floorUs) : 0;
    this.maxUs = on ? Math.max(limits.maxUs ?? 1_000, this.floorUs) : 0;
    this.soonUs = limits.soonUs ?? 500;
    this.adapt = limits.adapt ?? "none";
    this.us = this.floorUs;
  }

  /** The timed spin to give the wait that starts now, µs. */
  budget(): number {
    let us = this.us;
    if (us === 0 && this.adapt === "success" && this.floorUs > 0) {
      if (++this.#idle >= PROBE_EVERY) {
        this.#idle = 0;
        us = this.floorUs; // look again: has the other side become quick?
      }
    }
    this.#given = us;
    return us;
  }

  /** The timed spin caught its answer `atUs` into it ("success": kept, or doubled
   * when the answer came in its second half). */
  hit(atUs: number): void {
    if (this.adapt !== "success") return;
    const given = this.#given;
    if (given <= 0) return;
    this.us = atUs * 2 > given ? Math.min(given * 2, this.maxUs) : given;
  }

  /** The timed spin ran out ("success": halved, 0 below 1 µs; a look that
   * failed leaves it at 0). */
  missed(): void {
    if (this.adapt !== "success" || this.#given <= 0) return;
    const half = this.us === 0 ? 0 : this.#given / 2;
    this.us = half < 1 ? 0 : half;
  }

  /**
   * A wait blocked for `sleptUs` and ended `woken` (the condition came true; false
   * for a timeout). `conversation` says whether the one who woke it is a peer that
   * answers (false, e.g. a signal the kernel posted: the kernel's thread must run
   * between the two, and a spin takes its core). Only "wake" adapts on this.
   * Returns the new timed spin.
   */
  blocked(sleptUs: number, woken: boolean, conversation = true): number {
    if (this.adapt !== "wake") return this.us;
    const soon = woken && sleptUs < Math.max(4 * this.us, this.soonUs);
    this.us = soon && conversation
      ? Math.min(Math.max(this.us * 2, this.startUs), this.maxUs)
      : this.floorUs;
    return this.us;
  }

  /** Back to rest (the floor). */
  reset(): void {
    this.us = this.floorUs;
  }
}

/** The node's spin count (0 outside a process, or on a block-only node). */
const NODE_SPIN: number = runtime ? runtime.spin : 0;
/**
 * False on a block-only node (`--block-only`, processSpin 0): no wait spins there
 * unless its caller fixes a spin (`spinUs`), which such a caller can ask first.
 */
export function nodeSpins(): boolean {
  return NODE_SPIN > 0;
}

/** The trap page, whose TLB_PARKED word a blocked wait sets (null outside a process). */
const PARK: Int32Array | null = runtime ? runtime.trap : null;

/**
 * The runtime's policies, one per kind of wait. Each adapts on its own: a
 * process's trap completions say nothing about how soon its peers answer.
 */
export const spin = {
  /**
   * What only the kernel answers, trap completion and remote request completion
   * (awaitRemote): the counted spin only (the kernel is awake or it is not), so
   * nothing adapts and one policy serves both.
   */
  kernel: new SpinPolicy(NODE_SPIN),
  /** SigWait, and the RPC server's watch of a request slot (a client's watch of its
   * reply slot has a policy of its own per connection: rpc_client.ts). */
  signals: new SpinPolicy(NODE_SPIN, { adapt: "wake", startUs: 50, maxUs: 1_000 }),
  /** Tripwire bits (waitTripwire, hence endpoints and distributed queues). */
  tripwire: new SpinPolicy(NODE_SPIN, {
    floorUs: 15,
    maxUs: 60,
    adapt: "success",
    counted: false,
  }),
  /** The event queue (waitEvent, hence the event-driven server). */
  events: new SpinPolicy(NODE_SPIN, { floorUs: 15, maxUs: 60, adapt: "success", counted: false }),
};

/** Probes of a timed spin between two reads of the clock. */
const PROBES = 256;

/**
 * Spins until `ready()` is true (returns true) or the policy's spin is spent
 * (false): `policy.count` probes, then its timed spin (`budget()`), telling the
 * policy whether the timed spin won. Never spins on a block-only node, unless
 * `usOverride` is given: then it spins that long, timed only, and tells nobody.
 */
export function spinUntil(
  policy: SpinPolicy,
  ready: () => boolean,
  usOverride?: number,
): boolean {
  // A caller's own spin is its choice (a test spinning on a block-only node).
  if (usOverride !== undefined) return spinFor(usOverride, ready);
  if (!policy.on) return false;
  for (let i = policy.count; i > 0; i--) if (ready()) return true;
  const us = policy.budget();
  if (us <= 0) return false;
  const start = performance.now();
  const until = start + us / 1000;
  do {
    for (let i = PROBES; i > 0; i--) {
      if (ready()) {
        policy.hit((performance.now() - start) * 1000);
        return true;
      }
    }
  } while (performance.now() < until);
  policy.missed();
  return false;
}

/**
 * The timed part alone, with no policy told: spins until `ready()` (true) or `us`
 * µs have passed (false), reading the clock every 256 probes; `quit()`, if given,
 * is asked at each read of the clock and ends the spin early. For a caller that
 * took its budget from a policy already (the RPC library's watches:
 * `spinBudgetUs`) or was given one.
 */
export function spinFor(us: number, ready: () => boolean, quit?: () => boolean): boolean {
  if (us <= 0) return false;
  const until = performance.now() + us / 1000;
  do {
    for (let i = PROBES; i > 0; i--) if (ready()) return true;
  } while (performance.now() < until && !(quit && quit()));
  return false;
}

/**
 * Spins (spinUntil), then blocks on `words[index]` until `ready()` or `timeoutMs`
 * has passed; returns whether it is ready. `ready` must come true only after a
 * store to `words[index]` that is notified (the word is read before `ready` is
 * asked, and the wait sleeps only while it is unchanged). How long it slept is
 * reported to the policy (`blocked`). `usOverride` fixes the timed spin.
 */
export function waitUntil(
  policy: SpinPolicy,
  words: Int32Array,
  index: number,
  ready: () => boolean,
  timeoutMs: number,
  usOverride?: number,
): boolean {
  if (spinUntil(policy, ready, usOverride)) return true;
  const start = performance.now();
  const deadline = start + timeoutMs;
  for (;;) {
    const v = Atomics.load(words, index);
    if (ready()) {
      if (usOverride === undefined) policy.blocked((performance.now() - start) * 1000, true);
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      if (usOverride === undefined) policy.blocked((performance.now() - start) * 1000, false);
      return false;
    }
    // The kernel cannot wake this word when it ends the process (it may be any
    // word of a segment), so a long wait looks up every WAKE_MS whether it has.
    // Asleep, the thread makes no store through the MMU: parked (rt/trap.ts
    // parkTlb), the kernel need not wait for it to acknowledge an eviction's TLB
    // shootdown; its next access after waking reads TLB_EPOCH and sees it.
    const parked = PARK ? Atomics.exchange(PARK, Trap.TLB_PARKED, 1) : 0;
    Atomics.wait(words, index, v, Math.min(left, WAKE_MS));
    if (PARK) Atomics.store(PARK, Trap.TLB_PARKED, parked);
    stopIfEnded();
  }
}

/** The longest a runtime wait on a segment word sleeps before it looks whether its process has ended. */
const WAKE_MS = 100;

/** A word nobody notifies: waiting on it is a plain sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps `ms` milliseconds (the thread blocks; no signal runs meanwhile). */
export function nap(ms: number): void {
  if (ms > 0) Atomics.wait(NAP, 0, 0, ms);
}
