/**
 * Endpoints: the simple one-way message transfer of 002 §4.1 (Fig. 3), both ways,
 * and an event-driven server built on the asynchronous event queue (§3.5, §5.3).
 *
 * Each end of a connection owns a segment holding its receive buffer and two flags:
 *
 *   word 0  rx_ready: 0, or the length of the message in the buffer + 1
 *   word 1  tx_ready: 1 when the peer's buffer is free for our next message
 *   word 2  the peer's node + 1, once connected (set by the server's WRITE)
 *   byte 64 the receive buffer, then a staging area for outgoing messages
 *
 * To send, an end waits for its own tx_ready, clears it, writes the message into
 * the peer's buffer and then the peer's rx_ready (two remote WRITEs; a link keeps
 * them in order). To receive, an end waits for its own rx_ready, copies the message
 * out, clears it and writes 1 into the peer's tx_ready. Every cross-network access
 * is a WRITE, every flag an end polls is in its own memory, and each end waits on
 * one Tripwire per flag: two control flags and two Tripwires per direction, as in
 * the paper's RPC.
 *
 * Connecting: a server listens on `ep.<service>` (a segment of slots clients write
 * their identity into, watched by a Tripwire with events); the client exports its
 * end as `ep.<node>.<pid>.<k>`, the server makes its end, exports it as the same
 * name + `.s` (a dot: base-36 numbers in the name never make one), and writes its node into the client's word 2.
 */

import { Errno, SysError } from "../../kernel/abi/errors.ts";
import { PAGE_SIZE, Rights } from "../../kernel/abi/layout.ts";
import { bind, CreateSegment, release } from "./memory.ts";
import { read, view32, write } from "./mmu.ts";
import { getpid } from "./process.ts";
import { exportSegment, importSegment, nodeId, WRITE, WRITE32, writeBlock } from "./remote.ts";
import { drainSignals } from "./signals.ts";
import {
  allocTripwire,
  armTripwire,
  eventsDropped,
  freeTripwire,
  untilTripwire,
  waitEvent,
} from "./tripwire.ts";

const HEADER = 64;
const RX = 0, TX = 1, PEER = 2;
/** Client slots in a listening segment: [node, pid, k, 0] each. */
const LISTEN_SLOTS = 256;

let nextEnd = 1;

/** One end of a connection. */
export class Endpoint {
  readonly name: string;
  readonly size: number;
  readonly #segment: number;
  readonly #base: number;
  readonly #words: Int32Array;
  /** Tripwires on rx_ready and tx_ready. */
  readonly rxTripwire: number;
  readonly #txTripwire: number;
  #peer = -1;

  /** Set once the peer has closed its end (it wrote -1 into our rx_ready). */
  peerClosed = false;

  /**
   * Makes an end with a `size`-byte receive buffer, exported as `name` (for writes
   * from `nodes` only, when given).
   */
  constructor(name: string, size: number, rxEvent = false, nodes?: number[]) {
    this.name = name;
    this.size = size;
    // The receive buffer, then a staging area a block WRITE is sent from.
    this.#segment = CreateSegment(Math.ceil((HEADER + 2 * size) / PAGE_SIZE) * PAGE_SIZE);
    this.#base = bind(this.#segment);
    this.#words = view32(this.#base, HEADER / 4);
    Atomics.store(this.#words, TX, 1); // the peer's buffer starts free
    this.rxTripwire = allocTripwire();
    this.#txTripwire = allocTripwire();
    armTripwire(this.rxTripwire, { vaddr: this.#base, len: 4, write: true, event: rxEvent });
    armTripwire(this.#txTripwire, { vaddr: this.#base + 4, len: 4, write: true });
    exportSegment(this.#segment, name, Rights.WRITE, nodes ? { nodes } : {});
  }

  /** Attaches the peer's end (exported as `peerName` on node `hint`). */
  connect(peerName: string, hint: number): void {
    this.#peer = importSegment(peerName, { hint }).desc;
  }

  /** The peer's node, once a server has written it (word 2), else -1. */
  get peerNode(): number {
    return Atomics.load(this.#words, PEER) - 1;
  }

  /** Waits up to `timeoutMs` for word 2 (a server connecting to us). */
  awaitPeer(timeoutMs: number): boolean {
    if (this.peerNode >= 0) return true;
    const t = allocTripwire();
    try {
      armTripwire(t, { vaddr: this.#base + 8, len: 4, write: true });
      return untilTripwire(t, timeoutMs, () => this.peerNode >= 0 || null) ?? false;
    } finally {
      freeTripwire(t);
    }
  }

  /** Writes our node into the peer's word 2 (a server telling its client). */
  introduce(): void {
    WRITE32(this.#peer, PEER * 4, nodeId() + 1);
  }

  /** True if a message is waiting (a local load). */
  get ready(): boolean {
    return Atomics.load(this.#words, RX) !== 0;
  }

  /** Sends `msg` once the peer's buffer is free, waiting up to `timeoutMs`; false if not. */
  send(msg: Uint8Array, timeoutMs: number): boolean {
    if (msg.length > this.size) throw new RangeError(`${msg.length} bytes exceed ${this.size}`);
    if (this.#peer < 0) throw new SysError(Errno.EINVAL, "endpoint", "not connected");
    const free = () => Atomics.load(this.#words, TX) !== 0 || null;
    if (!untilTripwire(this.#txTripwire, timeoutMs, free)) return false;
    Atomics.store(this.#words, TX, 0);
    if (msg.length) {
      write(this.#base + HEADER + this.size, msg);
      writeBlock(this.#peer, HEADER, this.#base + HEADER + this.size, msg.length);
    }
    WRITE32(this.#peer, RX * 4, msg.length + 1);
    return true;
  }

  /** Takes the waiting message, or null (never waits). Frees the buffer for the peer. */
  tryReceive(): Uint8Array | null {
    const r = Atomics.load(this.#words, RX);
    if (r === 0) return null;
    if (r < 1 || r > this.size + 1) {
      // -1: the peer closed its end; anything else is garbage a writer left: drop it.
      if (r === -1) this.peerClosed = true;
      Atomics.store(this.#words, RX, 0);
      return null;
    }
    const len = r - 1;
    const msg = len ? read(this.#base + HEADER, len) : new Uint8Array(0);
    Atomics.store(this.#words, RX, 0);
    WRITE32(this.#peer, TX * 4, 1);
    return msg;
  }

  /** Takes the next message, waiting up to `timeoutMs`; null on timeout. */
  receive(timeoutMs: number): Uint8Array | null {
    return untilTripwire(this.rxTripwire, timeoutMs, () => this.tryReceive());
  }

  /** Closes this end: the peer is told (rx_ready = -1), then everything is let go. */
  close(): void {
    if (this.#peer >= 0 && !this.peerClosed) {
      try {
        WRITE32(this.#peer, RX * 4, -1);
      } catch { /* the peer is gone already */ }
    }
    freeTripwire(this.rxTripwire);
    freeTripwire(this.#txTripwire);
    release(this.#segment);
  }
}

/**
 * Connects to the server listening on `ep.<service>` (on node `hint`): returns the
 * connected client end. Throws ETIMEDOUT if the server never answers.
 */
export function connectEndpoint(
  service: string,
  hint: number,
  size = 4096,
  timeoutMs = 10_000,
): Endpoint {
  const k = nextEnd++;
  const name = `ep.${nodeId()}.${getpid().toString(36)}.${k.toString(36)}`;
  const end = new Endpoint(name, size);
  const listen = importSegment(`ep.${service}`, { hint }).desc;
  const deadline = performance.now() + timeoutMs;
  // [node + 1, pid, k]: the server derives our name from it. Another client may
  // take the same slot before the server looks: say it again until answered.
  for (let attempt = 0; !end.awaitPeer(attempt === 0 ? 0 : 50); attempt++) {
    if (performance.now() > deadline) {
      end.close();
      throw new SysError(Errno.ETIMEDOUT, "connectEndpoint", `no server "${service}" answered`);
    }
    const slot = (getpid() * 31 + k * 7 + attempt) % LISTEN_SLOTS;
    WRITE(listen, slot * 16, new Uint8Array(new Int32Array([nodeId() + 1, getpid(), k]).buffer));
  }
  end.connect(name + ".s", end.peerNode);
  return end;
}

/** Called with a connection's end and each message that arrives on it. */
export type EndpointHandler = (end: Endpoint, msg: Uint8Array) => void;

/**
 * An event-driven server (002 §5.3): one thread serving every connection from the
 * asynchronous event queue. A connection's rx_ready Tripwire delivers an event;
 * the server dispatches it to the handler with that connection's end, and keeps
 * taking events until the queue is empty, then spins (15 µs) before it blocks. If
 * the queue ever overflowed (events are dropped and counted), it looks at every
 * connection. A client that closes its end (rx_ready = -1) lets the server's go.
 * Waiting takes no trap, so the process's own signals are run between events
 * (a blocked wait ends within 100 ms to let them).
 */
export class EventServer {
  readonly service: string;
  readonly size: number;
  readonly #handler: EndpointHandler;
  readonly #listen: number;
  readonly #listenBase: number;
  readonly #listenWords: Int32Array;
  readonly #listenTripwire: number;
  /** Tripwire id → the connection it watches. */
  readonly #byTripwire = new Map<number, Endpoint>();
  /** The client names served, by the end that serves each. */
  readonly #names = new Map<Endpoint, string>();
  readonly #known = new Set<string>();
  #dropped = 0;
  /** Requests served. */
  served = 0;

  constructor(service: string, handler: EndpointHandler, size = 4096) {
    this.service = service;
    this.size = size;
    this.#handler = handler;
    this.#listen = CreateSegment(LISTEN_SLOTS * 16);
    this.#listenBase = bind(this.#listen);
    this.#listenWords = view32(this.#listenBase, LISTEN_SLOTS * 4);
    this.#listenTripwire = allocTripwire();
    armTripwire(this.#listenTripwire, {
      vaddr: this.#listenBase,
      len: LISTEN_SLOTS * 16,
      write: true,
      event: true,
    });
    exportSegment(this.#listen, `ep.${service}`, Rights.WRITE);
  }

  /** Connections open. */
  get connections(): number {
    return this.#byTripwire.size;
  }

  /** Serves until `stop()` returns true (checked after each wait). */
  serve(stop: () => boolean = () => false): void {
    while (!stop()) {
      drainSignals(); // its own signals (SIGTERM…) run here: waiting takes no trap
      const e = waitEvent(100, 15);
      const dropped = eventsDropped();
      if (dropped !== this.#dropped) {
        // The queue overflowed: some connection's event is lost. Look at all of them.
        this.#dropped = dropped;
        this.#accept();
        for (const end of [...this.#byTripwire.values()]) this.#take(end);
      }
      if (!e) continue;
      if (e.id === this.#listenTripwire) this.#accept();
      else {
        const end = this.#byTripwire.get(e.id);
        if (end) this.#take(end);
      }
    }
  }

  /** Serves the message waiting on `end`, or lets it go if its client closed. */
  #take(end: Endpoint): void {
    const msg = end.tryReceive();
    if (msg) {
      this.served++;
      this.#handler(end, msg);
    } else if (end.peerClosed) {
      this.#byTripwire.delete(end.rxTripwire);
      this.#known.delete(this.#names.get(end)!);
      this.#names.delete(end);
      end.close();
    }
  }

  #accept(): void {
    const w = this.#listenWords;
    for (let s = 0; s < LISTEN_SLOTS; s++) {
      const node = Atomics.load(w, s * 4) - 1;
      if (node < 0) continue;
      const pid = w[s * 4 + 1], k = w[s * 4 + 2];
      Atomics.store(w, s * 4, 0);
      const name = `ep.${node}.${pid.toString(36)}.${k.toString(36)}`;
      if (this.#known.has(name)) continue;
      let end: Endpoint | null = null;
      try {
        end = new Endpoint(name + ".s", this.size, true, [node]);
        end.connect(name, node);
        end.introduce();
      } catch {
        end?.close(); // the client is gone (or its name not there yet: it asks again)
        continue;
      }
      this.#known.add(name);
      this.#names.set(end, name);
      this.#byTripwire.set(end.rxTripwire, end);
      this.#take(end); // a request may have come before its Tripwire was armed
    }
  }
}
