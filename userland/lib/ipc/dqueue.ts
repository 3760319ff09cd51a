/**
 * The distributed queue (002 §4.2, Fig. 4): fixed-size messages in a circular
 * buffer in the receiver's memory, with every cross-network access a WRITE.
 *
 * The receiver's segment holds the slots and `lazy_write_i`; the sender's holds
 * `lazy_read_i`. The sender owns `write_i` (kept privately): to send it writes the
 * message into slot write_i of the receiver's buffer, advances write_i, and writes
 * the new value into the receiver's lazy_write_i. The receiver owns `read_i`: it
 * takes messages while read_i ≠ lazy_write_i (a local load), and writes each new
 * read_i into the sender's lazy_read_i. The queue is empty when the two counters
 * are equal and full when one slot is free, so no lock is needed. The lazy copies
 * may be behind, which is safe: the receiver sees fewer messages than there are,
 * the sender less room. A link delivers frames in order, so a message lands before
 * the counter that announces it. Waiting is on local Tripwires, armed on the lazy
 * counters: a remote write to them fires them.
 *
 *   receiver segment:  word 0 lazy_write_i, word 1 the sender's node + 1 (0: none
 *                      yet), slots from byte 64, `slots` × `slotBytes`
 *   sender segment:    word 0 lazy_read_i, from byte 64 a mirror of the slots
 *
 * Every WRITE goes through the DMA queue (dma.ts), so sending and receiving take
 * no trap. A message is staged in the sender's mirror of its slot and sent from
 * there (or, when short, carried in the DMA request itself); a mirror slot is
 * written again only once the ring has come round, after the receiver has taken
 * what it held, so the DMA engine never reads a half-rewritten source. Messages
 * are fixed-size: a shorter one is padded with zeros to `slotBytes`. The WRITEs
 * are posted (no completion) and never retransmitted, so use a queue on a link
 * that does not lose frames: were a slot's WRITE lost and its counter's to land,
 * the receiver would take the slot's old bytes, and a lost last counter update
 * stalls the queue.
 *
 * Names: the receiver exports `dq.<name>.<slots>x<slotBytes>` (so a sender that
 * expects another geometry finds no such queue: ENOENT) and the sender the same
 * name + `.tx`.
 *
 * The streaming variant (StreamSender, StreamReceiver) is the same queue with
 * one-byte slots: the counters count bytes, a write sends contiguous runs of up to
 * STREAM_CHUNK bytes as room appears, and a read takes whatever has arrived.
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { DMA_INLINE_BYTES, PAGE_SIZE, Rights } from "../../../kernel/abi/layout.ts";
import { bind, CreateSegment, release } from "../sys/memory.ts";
import { read, view, view32 } from "../rt/mmu.ts";
import {
  awaitRemote,
  exportSegment,
  importSegment,
  nodeId,
  READ,
  remoteCounters,
  WRITE32,
} from "../sys/remote.ts";
import { dmaWrite, dmaWrite32, dmaWriteBlock, POSTED } from "../sys/dma.ts";
import {
  allocTripwire,
  armTripwire,
  clearTripwire,
  freeTripwire,
  untilTripwire,
  waitTripwire,
} from "../sys/tripwire.ts";

const HEADER = 64;
/** The largest run a stream sends in one block WRITE. */
const STREAM_CHUNK = 16 * 1024;

/** The receiver's export name: the queue's name and geometry. */
function queueName(name: string, slots: number, slotBytes: number): string {
  return `dq.${name}.${slots}x${slotBytes}`;
}

function pages(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

/** The receiving end: owns the buffer. */
export class QueueReceiver {
  readonly name: string;
  readonly slots: number;
  readonly slotBytes: number;
  readonly #segment: number;
  readonly #base: number;
  readonly #words: Int32Array;
  readonly #tripwire: number;
  readonly #hello: number;
  #readI = 0;
  #tx = -1;

  /** Creates the buffer (`slots` messages of `slotBytes`) and exports it (see the names above). */
  constructor(name: string, slots: number, slotBytes: number) {
    if (!Number.isInteger(slots) || slots < 2) throw new RangeError(`${slots} slots: at least 2`);
    if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > 60_000) {
      throw new RangeError(`slots of ${slotBytes} bytes: 1 to 60000`);
    }
    this.name = name;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#segment = CreateSegment(pages(HEADER + slots * slotBytes));
    this.#base = bind(this.#segment);
    this.#words = view32(this.#base, HEADER / 4);
    this.#tripwire = allocTripwire();
    armTripwire(this.#tripwire, { vaddr: this.#base, len: 4, write: true });
    this.#hello = allocTripwire();
    armTripwire(this.#hello, { vaddr: this.#base + 4, len: 4, write: true });
    exportSegment(this.#segment, queueName(name, slots, slotBytes), Rights.READ | Rights.WRITE);
  }

  /** Messages waiting, as far as this end knows (the sender's counter may be ahead). */
  get available(): number {
    return (Atomics.load(this.#words, 0) - this.#readI + this.slots) % this.slots;
  }

  /** Takes the next message, or null if none is here (never waits, never reads remotely). */
  tryReceive(): Uint8Array | null {
    if (this.#readI === Atomics.load(this.#words, 0)) return null;
    const msg = read(this.#base + HEADER + this.#readI * this.slotBytes, this.slotBytes);
    this.#readI = (this.#readI + 1) % this.slots;
    this.#announce();
    return msg;
  }

  /**
   * For streams (1-byte slots): takes up to `max` contiguous bytes that have
   * arrived, waiting up to `timeoutMs` for the first; null on timeout.
   */
  takeBytes(max: number, timeoutMs: number): Uint8Array | null {
    return untilTripwire(this.#tripwire, timeoutMs, () => {
      const w = Atomics.load(this.#words, 0);
      if (w === this.#readI) return null;
      const n = Math.min(max, (w > this.#readI ? w : this.slots) - this.#readI);
      const bytes = read(this.#base + HEADER + this.#readI, n);
      this.#readI = (this.#readI + n) % this.slots;
      this.#announce();
      return bytes;
    });
  }

  /** Takes the next message, waiting up to `timeoutMs` on the counter's Tripwire. */
  receive(timeoutMs: number): Uint8Array | null {
    return untilTripwire(this.#tripwire, timeoutMs, () => this.tryReceive());
  }

  /**
   * Waits up to `timeoutMs` for a sender to connect and looks up its counter's
   * segment; true once connected. (receive() does this itself when it must.)
   */
  awaitSender(timeoutMs: number): boolean {
    // The sender's hello is a remote write to word 1, watched by its own Tripwire.
    const hello = () => Atomics.load(this.#words, 1) !== 0 || null;
    if (!untilTripwire(this.#hello, timeoutMs, hello)) return false;
    this.#connect();
    return true;
  }

  #connect(): void {
    if (this.#tx >= 0) return;
    const node = Atomics.load(this.#words, 1) - 1;
    if (node < 0) throw new SysError(Errno.EIO, "dqueue", "a message without a sender");
    this.#tx = importSegment(`${queueName(this.name, this.slots, this.slotBytes)}.tx`, {
      hint: node,
    }).desc;
  }

  /** Writes read_i into the sender's lazy_read_i (once the sender is known). */
  #announce(): void {
    this.#connect();
    dmaWrite32(this.#tx, 0, this.#readI, POSTED);
  }

  close(): void {
    freeTripwire(this.#tripwire);
    freeTripwire(this.#hello);
    release(this.#segment);
  }
}

/** The sending end. */
export class QueueSender {
  readonly name: string;
  readonly slots: number;
  readonly slotBytes: number;
  readonly #segment: number;
  readonly #base: number;
  readonly #words: Int32Array;
  readonly #rx: number;
  readonly #tripwire: number;
  /** The mirror of the receiver's slots, block WRITEs' source. */
  readonly #mirror: Uint8Array;
  /** A short message padded to its slot, carried in the DMA request itself. */
  readonly #inline: Uint8Array | null;
  #writeI = 0;

  /**
   * Connects to the receiver of queue `name` with this geometry (on node `hint` if
   * not known here). Throws ENOENT if there is none (none of this geometry), EINVAL
   * if the segment under that name is too small for it.
   */
  constructor(name: string, slots: number, slotBytes: number, hint?: number) {
    this.name = name;
    this.slots = slots;
    this.slotBytes = slotBytes;
    // The name carries the geometry: a sender of another shape finds no queue.
    const { desc, size } = importSegment(queueName(name, slots, slotBytes), { hint });
    if (size < HEADER + slots * slotBytes) {
      throw new SysError(
        Errno.EINVAL,
        "dqueue",
        `dq.${name} holds ${size} bytes, not ${slots} slots of ${slotBytes}`,
      );
    }
    this.#rx = desc;
    this.#segment = CreateSegment(pages(HEADER + slots * slotBytes));
    this.#base = bind(this.#segment);
    this.#words = view32(this.#base, HEADER / 4);
    this.#mirror = view(this.#base + HEADER, slots * slotBytes, true);
    this.#inline = slotBytes > 1 && slotBytes <= DMA_INLINE_BYTES
      ? new Uint8Array(slotBytes)
      : null;
    this.#tripwire = allocTripwire();
    try {
      armTripwire(this.#tripwire, { vaddr: this.#base, len: 4, write: true });
      // One READ of the ring names its owner to our kernel: our counter's segment is
      // exported to the receiving process alone (export's `peer`).
      const scratch = CreateSegment(PAGE_SIZE);
      try {
        const before = remoteCounters();
        READ(this.#rx, 0, 4, scratch, 0);
        awaitRemote(before);
      } finally {
        release(scratch);
      }
      exportSegment(this.#segment, `${queueName(name, slots, slotBytes)}.tx`, Rights.WRITE, {
        peer: this.#rx,
      });
    } catch (e) {
      this.close(); // (a second sender of this queue on this node: EEXIST)
      throw e;
    }
    WRITE32(this.#rx, 4, nodeId() + 1); // tell the receiver where to answer
  }

  /** Free slots, as far as this end knows (one is always kept free). */
  get room(): number {
    return (Atomics.load(this.#words, 0) - this.#writeI - 1 + 2 * this.slots) % this.slots;
  }

  /** Sends `msg` (at most slotBytes) if there is room; false if the queue is full. */
  trySend(msg: Uint8Array): boolean {
    if (msg.length > this.slotBytes) {
      throw new RangeError(`a message of ${msg.length} bytes exceeds slots of ${this.slotBytes}`);
    }
    const next = (this.#writeI + 1) % this.slots;
    if (next === Atomics.load(this.#words, 0)) return false; // one free slot: full
    const at = this.#writeI * this.slotBytes;
    if (this.#inline) {
      this.#inline.fill(0).set(msg);
      dmaWrite(this.#rx, HEADER + at, this.#inline, POSTED);
    } else {
      this.#mirror.fill(0, at + msg.length, at + this.slotBytes).set(msg, at);
      dmaWriteBlock(this.#rx, HEADER + at, this.#base + HEADER + at, this.slotBytes, POSTED);
    }
    this.#writeI = next;
    dmaWrite32(this.#rx, 0, next, POSTED); // after the message: the queue and the link keep order
    return true;
  }

  /**
   * For streams (1-byte slots): writes all of `data` in contiguous runs as room
   * appears, waiting up to `timeoutMs` in all; returns the bytes written.
   */
  putBytes(data: Uint8Array, timeoutMs: number): number {
    const deadline = performance.now() + timeoutMs;
    let done = 0;
    while (done < data.length) {
      clearTripwire(this.#tripwire); // before the look at lazy_read_i: see untilTripwire
      const r = Atomics.load(this.#words, 0);
      // Room up to the ring's end, never onto the byte before read_i.
      const room = r > this.#writeI
        ? r - this.#writeI - 1
        : this.slots - this.#writeI - (r === 0 ? 1 : 0);
      if (room > 0) {
        const n = Math.min(room, data.length - done, STREAM_CHUNK);
        this.#mirror.set(data.subarray(done, done + n), this.#writeI);
        dmaWriteBlock(
          this.#rx,
          HEADER + this.#writeI,
          this.#base + HEADER + this.#writeI,
          n,
          POSTED,
        );
        this.#writeI = (this.#writeI + n) % this.slots;
        dmaWrite32(this.#rx, 0, this.#writeI, POSTED);
        done += n;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0 || !waitTripwire(this.#tripwire, left)) break;
    }
    return done;
  }

  /** Sends `msg`, waiting up to `timeoutMs` for room; false if there was none. */
  send(msg: Uint8Array, timeoutMs: number): boolean {
    return untilTripwire(this.#tripwire, timeoutMs, () => this.trySend(msg) || null) ?? false;
  }

  close(): void {
    freeTripwire(this.#tripwire);
    release(this.#segment);
  }
}

// ---------------------------------------------------------------------------
// The streaming variant: the same two counters over a ring of bytes.

/**
 * The receiving end of a byte stream (exported as `dq.<name>`, a queue of one-byte
 * slots): like QueueReceiver, but the counters count bytes and a read takes
 * whatever has arrived.
 */
export class StreamReceiver {
  readonly #q: QueueReceiver;

  /** A ring of `bytes` bytes (one is always kept free). */
  constructor(name: string, bytes: number) {
    this.#q = new QueueReceiver(name, bytes, 1);
  }

  awaitSender(timeoutMs: number): boolean {
    return this.#q.awaitSender(timeoutMs);
  }

  /** Up to `max` bytes, waiting up to `timeoutMs` for the first; null on timeout. */
  read(max: number, timeoutMs: number): Uint8Array | null {
    return this.#q.takeBytes(max, timeoutMs);
  }

  close(): void {
    this.#q.close();
  }
}

/** The sending end of a byte stream. */
export class StreamSender {
  readonly #q: QueueSender;

  constructor(name: string, bytes: number, hint?: number) {
    this.#q = new QueueSender(name, bytes, 1, hint);
  }

  /** Writes all of `data`, waiting up to `timeoutMs` for room; returns bytes written. */
  write(data: Uint8Array, timeoutMs: number): number {
    return this.#q.putBytes(data, timeoutMs);
  }

  close(): void {
    this.#q.close();
  }
}
