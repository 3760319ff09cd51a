/**
 * A node's network interface: where the kernel's protocols meet the wire. Each
 * protocol (remote memory, message channels, and whatever comes next: a NIC
 * device's raw frames) registers the frame types it takes; the emulated network
 * or the TCP transport attaches below and hands every frame that arrives to
 * `receive`, which checks it (wire.ts), drops a frame whose addresses lie, and
 * passes it to the protocol of its type. Adding a frame type is registering it
 * here from its protocol's own file, not a case in a switch.
 */

import type { Tracer } from "../trace.ts";
import { decodeFrame, type Frame } from "./wire.ts";

/** What a protocol does with a checked frame of one of its types; never throws. */
export type FrameReceiver = (f: Frame) => void;

/** What carries this node's frames: the emulated network, or TCP. */
export interface Transport {
  /** Sends frame bytes to a node. */
  send(to: number, bytes: Uint8Array): void;
  /** False if the transport has no route to `node` (detached, connection lost). */
  reachable(node: number): boolean;
  /** Bytes sent to `node` that have not left yet (the link or socket is behind). */
  backlog(node: number): number;
}

export interface NicStats {
  received: number;
  malformed: number;
  spoofed: number;
}

export class NetworkInterface {
  readonly nodeId: number;
  readonly stats: NicStats = { received: 0, malformed: 0, spoofed: 0 };
  readonly #receivers: (FrameReceiver | undefined)[] = [];
  readonly #tracer: Tracer;
  #transport: Transport | null = null;

  constructor(nodeId: number, tracer: Tracer) {
    this.nodeId = nodeId;
    this.#tracer = tracer;
  }

  /** A protocol takes the frames of `type` (each type has one protocol). */
  register(type: number, receive: FrameReceiver): void {
    if (this.#receivers[type]) throw new Error(`frame type ${type} is taken`);
    this.#receivers[type] = receive;
  }

  /**
   * Connects the transport; returns the function it calls with each frame that
   * arrives, and the node it came from.
   */
  attach(t: Transport): (bytes: Uint8Array, from: number) => void {
    this.#transport = t;
    return (bytes, from) => this.receive(bytes, from);
  }

  /** Sends frame bytes (to itself without a transport: a loopback). */
  send(to: number, bytes: Uint8Array): void {
    const t = this.#transport;
    if (t) t.send(to, bytes);
    else if (to === this.nodeId) this.receive(bytes, to);
  }

  /** False if there is no route to `node` (without a transport: only to itself). */
  reachable(node: number): boolean {
    return this.#transport ? this.#transport.reachable(node) : node === this.nodeId;
  }

  /** Bytes for `node` that have not left yet. */
  backlog(node: number): number {
    return this.#transport ? this.#transport.backlog(node) : 0;
  }

  /** Takes one frame from the transport; never throws. */
  receive(bytes: Uint8Array, from: number): void {
    try {
      const f = decodeFrame(bytes);
      if (typeof f === "string") {
        this.stats.malformed++;
        this.#tracer.warn(`dropped a malformed frame from node ${from}: ${f}`);
        return;
      }
      if (f.srcNode !== from || f.dstNode !== this.nodeId) {
        this.stats.spoofed++;
        this.#tracer.warn(`dropped a frame from node ${from} claiming ${f.srcNode}->${f.dstNode}`);
        return;
      }
      const receive = this.#receivers[f.type];
      if (!receive) return; // a type no protocol here takes (CONTROL after the handshake)
      this.stats.received++;
      receive(f);
    } catch (e) {
      this.stats.malformed++;
      this.#tracer.warn(`kernel: bug receiving a frame from node ${from}: ${e}`);
    }
  }
}
