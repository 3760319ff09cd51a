/**
 * Failure detection by remote reads of a heartbeat counter (000 §3.7: "a periodic
 * remote read request of a known (or monotonically increasing) value. Failure to read
 * the value within a timeout period can be used to raise an exception").
 *
 * Every node exports a heartbeat page under a well-known id: word 0 counts ticks,
 * word 1 is the node's incarnation. Each tick the detector bumps its own counter and
 * reads every peer's. A peer that has not answered for `failAfterMs` is down: its
 * outstanding requests fail with EHOSTDOWN, new operations on its descriptors fail
 * fast, and the name clerk purges its names. A peer that answers again is up; if it
 * answers with a new incarnation it has restarted, and everything named under its
 * old generations is stale.
 */

import { Errno } from "../abi/errors.ts";
import { WellKnown } from "../abi/names.ts";
import { FrameType } from "../net/wire.ts";
import type { Segment } from "../memory/segment.ts";
import type { RemoteMemory } from "./remote_memory.ts";

export interface PeerState {
  node: number;
  up: boolean;
  incarnation: number;
  lastHeard: number;
  /** Ticks its counter showed at the last answer. */
  beats: number;
}

export interface DetectorHost {
  readonly remote: RemoteMemory;
  /** Called when a peer goes down, comes up, or comes back as a new incarnation. */
  peerChanged(peer: PeerState, change: "down" | "up" | "restarted"): void;
}

export class FailureDetector {
  readonly peers = new Map<number, PeerState>();
  readonly #host: DetectorHost;
  readonly #beat: Int32Array;
  readonly #periodMs: number;
  readonly #failAfterMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(host: DetectorHost, heartbeat: Segment, periodMs: number, failAfterMs: number) {
    this.#host = host;
    this.#beat = heartbeat.words;
    this.#periodMs = periodMs;
    this.#failAfterMs = failAfterMs;
  }

  /** Starts watching `node` (idempotent). */
  watch(node: number): void {
    if (!this.peers.has(node)) {
      this.peers.set(node, {
        node,
        up: true,
        incarnation: 0,
        lastHeard: performance.now(),
        beats: 0,
      });
    }
    this.#timer ??= setInterval(() => this.tick(), this.#periodMs);
  }

  /** Stops watching every peer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round: bump our counter, judge silent peers, probe every peer. */
  tick(now = performance.now()): void {
    Atomics.add(this.#beat, 0, 1);
    for (const peer of this.peers.values()) {
      if (peer.up && now - peer.lastHeard > this.#failAfterMs) {
        peer.up = false;
        this.#host.remote.failNode(peer.node, Errno.EHOSTDOWN);
        this.#host.peerChanged(peer, "down");
      }
      this.#probe(peer);
    }
    this.#host.remote.expire(now);
  }

  #probe(peer: PeerState): void {
    this.#host.remote.issue(
      FrameType.READ,
      { node: peer.node, exportId: WellKnown.HEARTBEAT, genHi: 0, genLo: 0 },
      { offset: 0, count: 8, notify: false },
      {
        proc: null,
        descId: 0,
        local: null,
        localOffset: 0,
        notify: false,
        done: (errno, frame) => {
          if (errno !== 0 || !frame || frame.payload.length < 8) return;
          const v = new DataView(frame.payload.buffer, frame.payload.byteOffset, 8);
          this.#heard(peer, v.getUint32(0, true), v.getUint32(4, true));
        },
      },
    );
  }

  #heard(peer: PeerState, beats: number, incarnation: number): void {
    peer.lastHeard = performance.now();
    peer.beats = beats;
    const restarted = peer.incarnation !== 0 && incarnation !== peer.incarnation;
    peer.incarnation = incarnation;
    if (restarted) {
      peer.up = true;
      // What was outstanding went to the old incarnation: it will never answer.
      this.#host.remote.failNode(peer.node, Errno.EHOSTDOWN);
      this.#host.peerChanged(peer, "restarted");
    } else if (!peer.up) {
      peer.up = true;
      this.#host.peerChanged(peer, "up");
    }
  }
}
