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
import { NotifyPolicy } from "../abi/layout.ts";
import { HEARTBEAT_BYTES, WellKnown } from "../abi/names.ts";
import { FrameType } from "../net/wire.ts";
import { Segment } from "../memory/segment.ts";
import type { ExportTable } from "./export_table.ts";
import type { Clock, TimerHandle } from "../host_interface.ts";
import type { RemoteMemory } from "./remote_memory.ts";

export interface PeerState {
  node: number;
  up: boolean;
  incarnation: number;
  lastHeard: number;
  /** Ticks its counter showed at the last answer. */
  beats: number;
}

/** What happened to a peer. */
export type PeerChange = "down" | "up" | "restarted";

export interface DetectorHost {
  readonly remote: RemoteMemory;
  readonly clock: Clock;
  /** Called when a peer goes down, comes up, or comes back as a new incarnation. */
  peerChanged(peer: PeerState, change: PeerChange): void;
}

export class FailureDetector {
  readonly peers = new Map<number, PeerState>();
  readonly #host: DetectorHost;
  readonly #beat: Int32Array;
  readonly #periodMs: number;
  readonly #failAfterMs: number;
  #timer: TimerHandle | undefined;

  /**
   * Makes this node's heartbeat page (kernel memory: in no process's reach and
   * outside the segment table) and exports it under its well-known id.
   */
  constructor(host: DetectorHost, exports: ExportTable, periodMs: number, failAfterMs: number) {
    this.#host = host;
    const attrs = { size: HEARTBEAT_BYTES, mode: 0, unit: 0, notifyPolicy: NotifyPolicy.NEVER };
    const heartbeat = new Segment(0, 0, attrs);
    Atomics.store(heartbeat.words, 1, exports.incarnation | 0);
    exports.addWellKnown(WellKnown.HEARTBEAT, heartbeat, 0);
    this.#beat = heartbeat.words;
    this.#periodMs = periodMs;
    this.#failAfterMs = failAfterMs;
  }

  /**
   * Starts watching `node` (idempotent). A transport that has just authenticated a
   * link to it passes the `incarnation` it proved: heard at once, so a restart is
   * seen before any request reaches the new incarnation (0: not known).
   */
  watch(node: number, incarnation = 0): void {
    const peer = this.peers.get(node);
    if (!peer) {
      this.peers.set(node, {
        node,
        up: true,
        incarnation,
        lastHeard: this.#host.clock.now(),
        beats: 0,
      });
    } else if (incarnation !== 0) {
      this.#heard(peer, peer.beats, incarnation);
    }
    this.#timer ??= this.#host.clock.setInterval(() => this.tick(), this.#periodMs);
  }

  /** Stops watching every peer. */
  stop(): void {
    this.#host.clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round: bump our counter, judge silent peers, probe every peer. */
  tick(now = this.#host.clock.now()): void {
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
    peer.lastHeard = this.#host.clock.now();
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
