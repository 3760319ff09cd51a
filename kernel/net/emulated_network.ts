/**
 * The emulated network joining the nodes of one Deno process: point-to-point links
 * with configurable latency, bandwidth and loss (000 §3: a switched LAN on which
 * loss is rare but possible).
 *
 * Frames are whole byte arrays in the wire format; a lost frame is simply absent,
 * never torn. A link serialises frames at its bandwidth (a busy link delays the next
 * frame) and adds its latency. Delivery with no delay happens at once but never
 * re-entrantly: a frame sent while another is being delivered waits its turn in a
 * queue, so a request and its reply travel in order without deep recursion. Delayed
 * frames wait in a time-ordered queue that the trap service polls while it spins
 * and a timer drains when it sleeps.
 *
 * Loss is drawn from a seeded generator, so a test that injects loss replays the
 * same drops every run. A test that needs one particular frame lost (or delivered
 * twice) sets a fault hook instead (setFaultHook): it sees every frame as it is
 * sent and says what becomes of it. Unset, it costs one null check per frame.
 */

import type { Clock, TimerHandle } from "../host_interface.ts";

export interface LinkConfig {
  /** One-way latency in microseconds. */
  latencyUs: number;
  /** Bandwidth in megabytes per second; 0 means unlimited. */
  bandwidthMBps: number;
  /** Probability in [0, 1] that a frame is lost. */
  loss: number;
}

export const IDEAL_LINK: LinkConfig = { latencyUs: 0, bandwidthMBps: 0, loss: 0 };

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  /** Frames for a node nobody has attached (or detached). */
  unroutable: number;
}

/** What a node's kernel receives frames through. */
export type Receiver = (bytes: Uint8Array, from: number) => void;

/** What a fault hook makes of one frame. */
export type FaultAction = "deliver" | "drop" | "duplicate";

/**
 * A test's fault hook: called for every frame as it is sent (before the link's seeded
 * loss), with the encoded frame and its ends. "drop" loses the frame (counted in
 * stats.lost); "duplicate" sends it twice over the link, one copy after the other;
 * "deliver" leaves it to the link. It must not send frames itself.
 */
export type FaultHook = (bytes: Uint8Array, from: number, to: number) => FaultAction;

interface LinkState extends LinkConfig {
  busyUntil: number;
  /** Bytes of delayed frames still on the link. */
  queued: number;
}

interface Pending {
  at: number;
  from: number;
  to: number;
  bytes: Uint8Array;
}

/** The key of the link from `a` to `b`. */
function linkKey(a: number, b: number): number {
  return a * 65536 + b;
}

/** A small deterministic generator (xorshift32) for loss. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

export class EmulatedNetwork {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, unroutable: 0 };
  readonly #nodes = new Map<number, Receiver>();
  readonly #links = new Map<number, LinkState>();
  #default: LinkConfig;
  readonly #ready: Pending[] = [];
  readonly #timed: Pending[] = [];
  #delivering = false;
  #timer: TimerHandle | undefined;
  #random: () => number;
  readonly #clock: Clock;
  #fault: FaultHook | null = null;

  /** A network on the host's `clock`; `seed` seeds its loss generator. */
  constructor(clock: Clock, link: Partial<LinkConfig> = {}, seed = 1) {
    this.#clock = clock;
    this.#default = { ...IDEAL_LINK, ...link };
    this.#random = rng(seed);
  }

  /** Connects a node; frames for it go to `receive`. */
  attach(node: number, receive: Receiver): void {
    this.#nodes.set(node, receive);
  }

  /** True if a node is attached. */
  attached(node: number): boolean {
    return this.#nodes.has(node);
  }

  /** Disconnects a node (it crashed or was halted): frames to it are lost. */
  detach(node: number): void {
    this.#nodes.delete(node);
  }

  /** Sets the link between `a` and `b` (both directions). */
  setLink(a: number, b: number, cfg: Partial<LinkConfig>): void {
    for (const key of [linkKey(a, b), linkKey(b, a)]) {
      const old = this.#link(key);
      this.#links.set(key, { ...old, ...cfg });
    }
  }

  /** Sets the configuration of every link not set explicitly (and reseeds loss). */
  setDefaultLink(cfg: Partial<LinkConfig>, seed?: number): void {
    this.#default = { ...this.#default, ...cfg };
    for (const [key, link] of this.#links) this.#links.set(key, { ...link, ...cfg });
    if (seed !== undefined) this.#random = rng(seed);
  }

  #link(key: number): LinkState {
    let l = this.#links.get(key);
    if (!l) {
      l = { ...this.#default, busyUntil: 0, queued: 0 };
      this.#links.set(key, l);
    }
    return l;
  }

  /**
   * Test only: sets (or, with null, clears) the fault hook that decides, frame by
   * frame, what the network does with each frame sent (see FaultHook). Decode the
   * bytes (kernel/remote/memory_frames.ts `decodeFrame`) to pick a frame by type,
   * offset or sequence.
   */
  setFaultHook(hook: FaultHook | null): void {
    this.#fault = hook;
  }

  /**
   * Asks the fault hook about a frame: true if it is dropped (counted as sent and
   * lost). A duplicated frame's first copy is sent here; the caller sends the second
   * right behind it.
   */
  #faulted(bytes: Uint8Array, from: number, to: number): boolean {
    const action = this.#fault!(bytes, from, to);
    if (action === "drop") {
      this.stats.sent++;
      this.stats.lost++;
      return true;
    }
    if (action === "duplicate") {
      // The first copy goes onto the link past the hook, and is only queued (as if a
      // delivery were under way): the hook must see whatever its delivery sends.
      const hook = this.#fault, delivering = this.#delivering; // the hook may have reset itself
      this.#fault = null;
      this.#delivering = true;
      try {
        this.send(from, to, bytes);
      } finally {
        this.#delivering = delivering;
        this.#fault = hook;
      }
    }
    return false;
  }

  /** Sends a frame from node `from` to node `to`. */
  send(from: number, to: number, bytes: Uint8Array): void {
    if (this.#fault !== null && this.#faulted(bytes, from, to)) return;
    this.stats.sent++;
    const link = this.#link(linkKey(from, to));
    if (link.loss > 0 && this.#random() < link.loss) {
      this.stats.lost++;
      return;
    }
    if (link.latencyUs === 0 && link.bandwidthMBps === 0) {
      this.#ready.push({ at: 0, from, to, bytes });
      return this.#drain();
    }
    const now = this.#clock.now() * 1000;
    let at = now;
    if (link.bandwidthMBps > 0) {
      link.busyUntil = Math.max(link.busyUntil, now) + bytes.length / link.bandwidthMBps;
      at = link.busyUntil;
    }
    at += link.latencyUs;
    const p = { at, from, to, bytes };
    if (at <= now) {
      this.#ready.push(p);
      this.#drain();
    } else {
      link.queued += bytes.length;
      this.#insertTimed(p);
    }
  }

  /** Bytes of frames from `from` to `to` still on their way (delayed by the link). */
  backlog(from: number, to: number): number {
    return this.#links.get(linkKey(from, to))?.queued ?? 0;
  }

  #insertTimed(p: Pending): void {
    let i = this.#timed.length;
    while (i > 0 && this.#timed[i - 1].at > p.at) i--;
    this.#timed.splice(i, 0, p);
    if (i === 0 && this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer); // the new frame is due first: re-arm for it
      this.#timer = undefined;
    }
    this.#arm();
  }

  /** Arms a timer for the earliest delayed frame (the poll finds it sooner if awake). */
  #arm(): void {
    if (this.#timer !== undefined || this.#timed.length === 0) return;
    const waitMs = Math.max(0, (this.#timed[0].at / 1000) - this.#clock.now());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.poll();
    }, waitMs);
  }

  /** Delivers every delayed frame that is due; returns how many. Called by the trap service. */
  poll(): number {
    if (this.#timed.length === 0) return 0;
    const now = this.#clock.now() * 1000;
    let n = 0;
    while (this.#timed.length && this.#timed[0].at <= now) {
      const p = this.#timed.shift()!;
      this.#link(linkKey(p.from, p.to)).queued -= p.bytes.length;
      this.#ready.push(p);
      n++;
    }
    if (n) this.#drain();
    if (this.#timed.length) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#arm();
    }
    return n;
  }

  /** True while delayed frames are in flight (the trap service keeps polling). */
  get busy(): boolean {
    return this.#timed.length > 0;
  }

  #drain(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (let p = this.#ready.shift(); p; p = this.#ready.shift()) {
        const receive = this.#nodes.get(p.to);
        if (!receive) {
          this.stats.unroutable++;
          continue;
        }
        this.stats.delivered++;
        receive(p.bytes, p.from);
      }
    } finally {
      this.#delivering = false;
    }
  }

  /** Stops timers (the cluster halts). */
  close(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timed.length = 0;
    this.#ready.length = 0;
    for (const l of this.#links.values()) l.queued = 0;
  }
}
