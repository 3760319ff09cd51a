/**
 * A node's network interface: where the kernel's protocols meet the wire. Each
 * protocol (remote memory, message channels, and whatever comes next: a NIC
 * device's raw frames) registers the frame types it takes, with the decoder of
 * their body and the receiver of a decoded frame; the emulated network or the TCP
 * transport attaches below and hands every frame that arrives to `receive`, which
 * checks the outer header (wire.ts), drops a frame whose addresses lie, decodes
 * the body with the type's decoder and passes it to the type's receiver. Adding a
 * frame type is registering it from its protocol's own file, not a case in a
 * switch.
 */

import type { Tracer } from "../trace.ts";
import type { WorkMeter } from "../work_meter.ts";
import {
  checkFrame,
  frameDestination,
  frameSource,
  frameType,
  KNOWN_TYPES,
  type WireError,
} from "./wire.ts";

/** Reads a frame's body (its outer header checked): the decoded frame or why it is bad. */
export type BodyDecoder<F extends object> = (bytes: Uint8Array) => F | WireError;
/** What a protocol does with a decoded frame of one of its types; never throws. */
export type FrameReceiver<F extends object> = (f: F) => void;

interface Protocol {
  decode: BodyDecoder<object>;
  receive: FrameReceiver<object>;
}

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
  readonly #protocols: (Protocol | undefined)[] = [];
  readonly #tracer: Tracer;
  #transport: Transport | null = null;

  /** The node's busy time, which a received frame's work counts in (or null). */
  readonly #meter: WorkMeter | null;

  constructor(nodeId: number, tracer: Tracer, meter: WorkMeter | null = null) {
    this.nodeId = nodeId;
    this.#tracer = tracer;
    this.#meter = meter;
  }

  /** A protocol takes the frames of `type` (each type has one protocol). */
  register<F extends object>(
    type: number,
    decode: BodyDecoder<F>,
    receive: FrameReceiver<F>,
  ): void {
    if (this.#protocols[type]) throw new Error(`frame type ${type} is taken`);
    this.#protocols[type] = { decode, receive } as unknown as Protocol; // F is the pair's own
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
    const m = this.#meter;
    if (m === null) return this.#receive(bytes, from);
    m.enter(); // #receive never throws
    this.#receive(bytes, from);
    m.leave();
  }

  #receive(bytes: Uint8Array, from: number): void {
    try {
      const bad = checkFrame(bytes);
      if (bad) return this.#malformed(from, bad);
      const src = frameSource(bytes);
      const dst = frameDestination(bytes);
      if (src !== from || dst !== this.nodeId) {
        this.stats.spoofed++;
        this.#tracer.warn(`dropped a frame from node ${from} claiming ${src}->${dst}`);
        return;
      }
      const type = frameType(bytes);
      const p = this.#protocols[type];
      if (!p) {
        // A type no protocol here takes (CONTROL after the handshake) is ignored.
        if (!KNOWN_TYPES.has(type)) this.#malformed(from, "bad-type");
        return;
      }
      const f = p.decode(bytes);
      if (typeof f === "string") return this.#malformed(from, f);
      this.stats.received++;
      p.receive(f);
    } catch (e) {
      this.stats.malformed++;
      this.#tracer.warn(`kernel: bug receiving a frame from node ${from}: ${e}`);
    }
  }

  #malformed(from: number, why: WireError): void {
    this.stats.malformed++;
    this.#tracer.warn(`dropped a malformed frame from node ${from}: ${why}`);
  }
}
