/**
 * The distributed queue (002 §4.2, Fig. 4): fixed-size messages in a circular
 * buffer in the receiver's memory, with every cross-network access a WRITE, and
 * exactly-once, in-order delivery over a link that loses frames.
 *
 * The receiver's segment holds the slots; the sender's holds `lazy_read_i` and a
 * mirror of the slots. The sender owns `write_i` (kept privately): to send it
 * stages the message in its mirror of slot write_i, stamped with the message's
 * sequence number (its count from 0, + 1) in the slot's last word, and WRITEs the
 * slot, message and stamp, into the receiver's buffer as one WRITE. A WRITE lands
 * in address order, so a stamp that has landed says its whole message has: the
 * receiver owns `read_i` and takes slot read_i when it holds the stamp it expects
 * next (a local load), then writes its count of messages taken into the sender's
 * lazy_read_i. A slot holding an older stamp (a message of an earlier round, or
 * nothing yet) is not ready. The sender writes a slot again only once lazy_read_i
 * says the receiver has taken what it held; lazy_read_i may be behind, which is
 * safe: the sender sees less room. Waiting is on local Tripwires: the receiver's
 * on its slots, the sender's on its lazy_read_i (and NAK word).
 *
 * Loss. A frame lost is a WRITE lost whole: a slot that never changes, or an
 * acknowledgement that never comes (frames are never torn, and a link keeps their
 * order). A lost message is never replaced by a stale one (its slot's stamp stays
 * old: the receiver waits), a lost acknowledgement is covered by the next. The
 * sender retransmits every message not yet acknowledged, from its mirror (go-back-N):
 *
 * - when the receiver asks (NAK): a write landed in its slots and what it waits for
 *   is still not there (the link keeps order, so it was lost, or the write was a
 *   retransmission of what it already has): it writes [read count, NAK count] into
 *   the sender's words 0 and 1 (which also repeats a lost acknowledgement);
 * - when the sender has waited `retransmitMs` for room (or in `flush`) and nothing
 *   was acknowledged meanwhile (a lost last message, or a lost last acknowledgement);
 *   each such round in a row waits twice as long, up to 320 ms.
 *
 * A retransmitted message lands where it landed before, with the same bytes and
 * stamp, so duplicates change nothing and the receiver takes each message once, in
 * order. Retransmission happens while the sender is in the library (sending, or in
 * `flush`): call `flush()` before dropping a sender whose last messages matter, with
 * its receiver still receiving. Connection setup (the name lookups, the sender's
 * hello) is not made loss-tolerant here: connect before the link turns lossy.
 *
 *   receiver segment:  word 1 the sender's node + 1 (0: none yet), slots from byte
 *                      64, `slots` × `stride` (slotBytes rounded up to words, + 4:
 *                      the stamp)
 *   sender segment:    word 0 lazy_read_i (messages taken), word 1 NAKs sent, from
 *                      byte 64 the mirror of the slots
 *
 * Every WRITE goes through the DMA queue (dma.ts), so sending and receiving take
 * no trap. A slot short enough (stride ≤ 40 bytes) is carried in the DMA request
 * itself. A mirror slot is written again only after the receiver has taken what it
 * held, so the DMA engine never reads a half-rewritten source; after a
 * retransmission (which may still sit in the DMA ring) the sender first has the
 * kernel take everything queued. Messages are fixed-size: a shorter one is padded
 * with zeros to `slotBytes`. The WRITEs are posted (no completion).
 *
 * Names: the receiver exports `dq.<name>.<slots>x<slotBytes>` (so a sender that
 * expects another geometry finds no such queue: ENOENT) and the sender the same
 * name + `.tx`.
 *
 * The streaming variant (StreamSender, StreamReceiver) carries bytes through a ring
 * the same way, as records: each write of up to STREAM_CHUNK bytes is one record
 * [position, length, bytes (padded to words), ~position], one WRITE, where position
 * is the record's offset in the stream (counted in ring bytes); a record is whole
 * and current when its first word is the position the receiver expects and its last
 * that position inverted. Records never wrap: one that would not fit before the
 * ring's end is cut there, and fewer than 16 bytes left before the end are skipped
 * by both ends. Acknowledgements, NAKs and retransmission are the queue's.
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { DMA_INLINE_BYTES, DMA_MAX_BLOCK, PAGE_SIZE, Rights } from "../../../kernel/abi/layout.ts";
import { bind, CreateSegment, release } from "../sys/memory.ts";
import { view, view32 } from "../rt/mmu.ts";
import {
  awaitRemote,
  exportSegment,
  importSegment,
  nodeId,
  READ,
  remoteCounters,
  WRITE32,
} from "../sys/remote.ts";
import { dmaFlush, dmaIdle, dmaWrite, dmaWrite32, dmaWriteBlock, POSTED } from "../sys/dma.ts";
import {
  allocTripwire,
  armTripwire,
  clearTripwire,
  freeTripwire,
  tripwireFired,
  untilTripwire,
  waitTripwire,
} from "../sys/tripwire.ts";

const HEADER = 64;
/** The largest record a stream sends in one WRITE. */
const STREAM_CHUNK = 16 * 1024;
/** A stream record's words around its bytes: position and length before, ~position after. */
const RECORD_OVERHEAD = 12;
/** The smallest record: fewer bytes than this before the ring's end are skipped. */
const MIN_RECORD = 16;
/** Default: retransmit after this long waiting with nothing acknowledged. */
const RETRANSMIT_MS = 10;
/** The longest a sender waits between two retransmissions without progress. */
const MAX_BACKOFF_MS = 320;
/** A sender answers NAKs at most this often (they come in bursts after one loss). */
const NAK_GAP_MS = 1;

/** The receiver's export name: the queue's name and geometry. */
function queueName(name: string, slots: number, slotBytes: number): string {
  return `dq.${name}.${slots}x${slotBytes}`;
}

function pages(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

/** A slot's bytes: the message rounded up to words, and the stamp. */
function strideOf(slotBytes: number): number {
  return ((slotBytes + 3) & ~3) + 4;
}

/** Message k's stamp (never 0, the value of a slot never written). */
function stamp(k: number): number {
  return ((k % 0xffff_ffff) + 1) | 0;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A sender's options (mod.ts exports the classes; these types go with them). */
interface DqueueOptions {
  /** Retransmit unacknowledged messages after waiting this long with no progress. */
  retransmitMs?: number;
}

/** Transfer counters of a sending end. */
interface SenderStats {
  /** Go-back-N rounds: after a NAK, or after waiting retransmitMs. */
  retransmits: number;
  /** Of those, rounds a NAK asked for. */
  naks: number;
}

/**
 * What both receivers share: the segment, the hello from the sender, the sender's
 * words to acknowledge and NAK into, and the NAK rule.
 */
class ReceiverEnd {
  readonly exportName: string;
  readonly segment: number;
  readonly base: number;
  readonly words: Int32Array;
  readonly bytes: Uint8Array;
  /** Fires on every remote write to the data area. */
  readonly tripwire: number;
  readonly #hello: number;
  #tx = -1;
  #lastAck = -1;
  #naks = 0;
  #lastNak = -Infinity;
  /** NAKs sent (loss seen, or retransmissions of what was here already). */
  naksSent = 0;

  constructor(exportName: string, dataBytes: number) {
    this.exportName = exportName;
    const size = pages(HEADER + dataBytes);
    this.segment = CreateSegment(size);
    this.base = bind(this.segment);
    this.words = view32(this.base, size / 4);
    this.bytes = view(this.base, size);
    this.tripwire = allocTripwire();
    armTripwire(this.tripwire, { vaddr: this.base + HEADER, len: dataBytes, write: true });
    this.#hello = allocTripwire();
    armTripwire(this.#hello, { vaddr: this.base + 4, len: 4, write: true });
    exportSegment(this.segment, exportName, Rights.READ | Rights.WRITE);
  }

  awaitSender(timeoutMs: number): boolean {
    // The sender's hello is a remote write to word 1, watched by its own Tripwire.
    const hello = () => Atomics.load(this.words, 1) !== 0 || null;
    if (!untilTripwire(this.#hello, timeoutMs, hello)) return false;
    return this.#connect();
  }

  /** Looks up the sender's segment once its hello is here; false before. */
  #connect(): boolean {
    if (this.#tx >= 0) return true;
    const node = Atomics.load(this.words, 1) - 1;
    if (node < 0) return false; // its hello was lost: it says it again when it retransmits
    this.#tx = importSegment(`${this.exportName}.tx`, { hint: node }).desc;
    return true;
  }

  /** Tells the sender how far this end has taken (`count`, 32 bits), if it changed. */
  ack(count: number): void {
    if (count === this.#lastAck || !this.#connect()) return;
    this.#lastAck = count;
    dmaWrite32(this.#tx, 0, count, POSTED);
  }

  /**
   * A write landed in the data area and what this end waits for is not there: asks
   * the sender to go back to `count` (at most once a millisecond).
   */
  nak(count: number): void {
    const now = performance.now();
    if (now - this.#lastNak < NAK_GAP_MS || !this.#connect()) return;
    this.#lastNak = now;
    this.#lastAck = count;
    this.naksSent++;
    NAK_PAIR[0] = count;
    NAK_PAIR[1] = ++this.#naks;
    dmaWrite(this.#tx, 0, NAK_BYTES, POSTED);
  }

  /**
   * Tries `take` until it gives something or `timeoutMs` passes, sleeping on the
   * data Tripwire; a wake-up that brings nothing `take` wants is answered with a NAK.
   */
  wait<T>(timeoutMs: number, take: () => T | null, position: () => number): T | null {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      clearTripwire(this.tripwire);
      const r = take();
      if (r !== null) return r;
      const left = deadline - performance.now();
      if (left <= 0 || !waitTripwire(this.tripwire, left)) return take();
      const again = take();
      if (again !== null) return again;
      this.nak(position());
    }
  }

  /** For a non-blocking take that found nothing: NAK if something landed since the last look. */
  nakIfFired(count: number): void {
    if (!tripwireFired(this.tripwire)) return;
    clearTripwire(this.tripwire);
    this.nak(count);
  }

  close(): void {
    freeTripwire(this.tripwire);
    freeTripwire(this.#hello);
    release(this.segment);
  }
}

const NAK_PAIR = new Int32Array(2);
const NAK_BYTES = new Uint8Array(NAK_PAIR.buffer);

/**
 * What both senders share: the segment with lazy_read_i, the NAK word and the
 * mirror, the receiver's descriptor, waiting for acknowledgements, and go-back-N.
 * Positions are absolute (JavaScript numbers): messages for a queue, ring bytes
 * for a stream; the receiver acknowledges their low 32 bits.
 */
abstract class SenderEnd {
  readonly stats: SenderStats = { retransmits: 0, naks: 0 };
  protected readonly rx: number;
  protected readonly segment: number;
  protected readonly base: number;
  protected readonly words: Int32Array;
  /** The mirror of the receiver's data area. */
  protected readonly mirror: Uint8Array;
  protected readonly mirrorWords: Int32Array;
  /** The data area's bytes (the ring). */
  protected readonly ring: number;
  readonly #tripwire: number;
  readonly #retransmitMs: number;
  /** The next position to send, and the last acknowledged one. */
  protected sent = 0;
  protected acked = 0;
  #nakSeen = 0;
  #lastResend = -Infinity;
  /** A retransmission may still sit in the DMA ring, reading the mirror. */
  #queuedResend = false;

  constructor(rx: number, txName: string, ring: number, opts: DqueueOptions) {
    this.rx = rx;
    this.ring = ring;
    this.#retransmitMs = opts.retransmitMs ?? RETRANSMIT_MS;
    const size = pages(HEADER + ring);
    this.segment = CreateSegment(size);
    this.base = bind(this.segment);
    this.words = view32(this.base, HEADER / 4);
    this.mirror = view(this.base + HEADER, ring, true);
    this.mirrorWords = new Int32Array(this.mirror.buffer, this.mirror.byteOffset, ring >> 2);
    this.#tripwire = allocTripwire();
    try {
      armTripwire(this.#tripwire, { vaddr: this.base, len: 8, write: true });
      // One READ of the ring names its owner to our kernel: our counter's segment is
      // exported to the receiving process alone (export's `peer`).
      const scratch = CreateSegment(PAGE_SIZE);
      try {
        const before = remoteCounters();
        READ(this.rx, 0, 4, scratch, 0);
        awaitRemote(before);
      } finally {
        release(scratch);
      }
      exportSegment(this.segment, txName, Rights.WRITE, { peer: this.rx });
    } catch (e) {
      this.close(); // (a second sender of this queue on this node: EEXIST)
      throw e;
    }
    this.#hello();
  }

  /** Tells the receiver where to answer. */
  #hello(): void {
    WRITE32(this.rx, 4, nodeId() + 1);
  }

  /** Reads lazy_read_i (and answers a NAK): how far the receiver has taken. */
  protected progress(): number {
    const a = Atomics.load(this.words, 0);
    const behind = ((this.sent | 0) - a) >>> 0;
    if (behind <= this.sent - this.acked) this.acked = this.sent - behind; // else stale or forged
    if (Atomics.load(this.words, 1) !== this.#nakSeen) this.#onNak();
    return this.acked;
  }

  #onNak(): void {
    const now = performance.now();
    if (now - this.#lastResend < NAK_GAP_MS) return; // looked at again on the next call
    this.#nakSeen = Atomics.load(this.words, 1);
    this.stats.naks++;
    this.resend(now);
  }

  /** Go-back-N: sends the mirror from the last acknowledged position again. */
  protected resend(now = performance.now()): void {
    this.#lastResend = now;
    if (this.sent === this.acked) return;
    this.stats.retransmits++;
    if (this.acked === 0) this.#hello(); // it may never have arrived
    const from = this.acked % this.ringUnits(), to = this.sent % this.ringUnits();
    const runs = from < to ? [[from, to]] : [[from, this.ringUnits()], [0, to]];
    for (const [a, b] of runs) {
      const start = this.byteOf(a), end = this.byteOf(b);
      for (let at = start; at < end; at += DMA_MAX_BLOCK) {
        const n = Math.min(DMA_MAX_BLOCK, end - at);
        dmaWriteBlock(this.rx, HEADER + at, this.base + HEADER + at, n, POSTED);
      }
    }
    this.#queuedResend = true;
  }

  /** Positions in one round of the ring (slots, or bytes). */
  protected abstract ringUnits(): number;
  /** The mirror's byte offset of ring position `unit`. */
  protected abstract byteOf(unit: number): number;

  /** Before rewriting the mirror: no retransmission still queued may read it. */
  protected settle(): void {
    if (!this.#queuedResend) return;
    this.#queuedResend = false;
    while (!dmaIdle()) dmaFlush();
  }

  /**
   * Waits up to `timeoutMs` until `ready()` holds, retransmitting after each
   * `retransmitMs` in which nothing was acknowledged; false on timeout.
   */
  protected waitFor(timeoutMs: number, ready: () => boolean): boolean {
    const deadline = performance.now() + timeoutMs;
    let mark = this.acked, since = performance.now(), rto = this.#retransmitMs;
    for (;;) {
      clearTripwire(this.#tripwire); // before the look at lazy_read_i: see untilTripwire
      this.progress();
      if (ready()) return true;
      const now = performance.now();
      if (this.acked !== mark) {
        mark = this.acked;
        since = now;
        rto = this.#retransmitMs;
      } else if (now - since >= rto) {
        this.resend(now);
        since = now;
        // Each round in a row without progress waits twice as long: a slow
        // receiver, not loss, is then the likelier reason.
        rto = Math.min(2 * rto, MAX_BACKOFF_MS);
      }
      const left = deadline - now;
      if (left <= 0) return false;
      waitTripwire(this.#tripwire, Math.min(left, rto));
    }
  }

  /**
   * Waits up to `timeoutMs` until the receiver has acknowledged everything sent,
   * retransmitting meanwhile; true once it has.
   */
  flush(timeoutMs: number): boolean {
    return this.waitFor(timeoutMs, () => this.acked === this.sent);
  }

  /** Sent but not yet acknowledged (slots, or ring bytes). */
  get unacknowledged(): number {
    this.progress();
    return this.sent - this.acked;
  }

  close(): void {
    freeTripwire(this.#tripwire);
    release(this.segment);
  }
}

/** The receiving end: owns the buffer. */
export class QueueReceiver {
  readonly name: string;
  readonly slots: number;
  readonly slotBytes: number;
  readonly #end: ReceiverEnd;
  readonly #stride: number;
  /** Messages taken (absolute). */
  #taken = 0;

  /** Creates the buffer (`slots` messages of `slotBytes`) and exports it (see the names above). */
  constructor(name: string, slots: number, slotBytes: number) {
    if (!Number.isInteger(slots) || slots < 2) {
      throw new SysError(Errno.EINVAL, "QueueReceiver", `${slots} slots: at least 2`);
    }
    if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > 60_000) {
      throw new SysError(Errno.EINVAL, "QueueReceiver", `slots of ${slotBytes} bytes: 1 to 60000`);
    }
    this.name = name;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#stride = strideOf(slotBytes);
    this.#end = new ReceiverEnd(queueName(name, slots, slotBytes), slots * this.#stride);
  }

  /** The stamp word of message k's slot. */
  #stampAt(k: number): number {
    return (HEADER + (k % this.slots) * this.#stride + this.#stride - 4) >> 2;
  }

  /** Messages waiting (a local look: those whose stamps have landed, in order). */
  get available(): number {
    let n = 0;
    const w = this.#end.words;
    while (
      n < this.slots - 1 &&
      Atomics.load(w, this.#stampAt(this.#taken + n)) === stamp(this.#taken + n)
    ) n++;
    return n;
  }

  #take(): Uint8Array | null {
    const k = this.#taken;
    if (Atomics.load(this.#end.words, this.#stampAt(k)) !== stamp(k)) return null;
    const at = HEADER + (k % this.slots) * this.#stride;
    const msg = this.#end.bytes.slice(at, at + this.slotBytes);
    this.#taken = k + 1;
    this.#end.ack(this.#taken | 0);
    return msg;
  }

  /** Takes the next message, or null if none is here (never waits, never reads remotely). */
  tryReceive(): Uint8Array | null {
    const m = this.#take();
    if (m === null) this.#end.nakIfFired(this.#taken | 0);
    return m;
  }

  /** Takes the next message, waiting up to `timeoutMs` on the slots' Tripwire. */
  receive(timeoutMs: number): Uint8Array | null {
    return this.#end.wait(timeoutMs, this.#taker, this.#position);
  }

  readonly #taker = () => this.#take();
  readonly #position = () => this.#taken | 0;

  /** NAKs this end sent. */
  get naks(): number {
    return this.#end.naksSent;
  }

  /**
   * Waits up to `timeoutMs` for a sender to connect and looks up its counter's
   * segment; true once connected. (A receive acknowledges only once it is.)
   */
  awaitSender(timeoutMs: number): boolean {
    return this.#end.awaitSender(timeoutMs);
  }

  close(): void {
    this.#end.close();
  }
}

/** The sending end. */
export class QueueSender extends SenderEnd {
  readonly name: string;
  readonly slots: number;
  readonly slotBytes: number;
  readonly #stride: number;
  /** Slots short enough to ride in the DMA request: each slot's mirror, as a view. */
  readonly #inline: Uint8Array[] | null;

  /**
   * Connects to the receiver of queue `name` with this geometry (on node `hint` if
   * not known here). Throws ENOENT if there is none (none of this geometry), EINVAL
   * if the segment under that name is too small for it.
   */
  constructor(
    name: string,
    slots: number,
    slotBytes: number,
    hint?: number,
    opts: DqueueOptions = {},
  ) {
    // The name carries the geometry: a sender of another shape finds no queue.
    const exported = queueName(name, slots, slotBytes);
    const { desc, size } = importSegment(exported, { hint });
    const stride = strideOf(slotBytes);
    if (size < HEADER + slots * stride) {
      throw new SysError(
        Errno.EINVAL,
        "dqueue",
        `dq.${name} holds ${size} bytes, not ${slots} slots of ${slotBytes}`,
      );
    }
    super(desc, `${exported}.tx`, slots * stride, opts);
    this.name = name;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#stride = stride;
    this.#inline = stride <= DMA_INLINE_BYTES
      ? Array.from({ length: slots }, (_, s) => this.mirror.subarray(s * stride, (s + 1) * stride))
      : null;
  }

  protected ringUnits(): number {
    return this.slots;
  }

  protected byteOf(slot: number): number {
    return slot * this.#stride;
  }

  /** Free slots, as far as this end knows (one is always kept free). */
  get room(): number {
    return this.slots - 1 - (this.sent - this.progress());
  }

  /** Sends `msg` (at most slotBytes) if there is room; false if the queue is full. */
  trySend(msg: Uint8Array): boolean {
    if (msg.length > this.slotBytes) {
      throw new SysError(
        Errno.EMSGSIZE,
        "QueueSender.send",
        `a message of ${msg.length} bytes exceeds slots of ${this.slotBytes}`,
      );
    }
    const k = this.sent;
    if (k - this.progress() >= this.slots - 1) return false; // one free slot: full
    this.settle();
    const slot = k % this.slots, stride = this.#stride, at = slot * stride;
    this.mirror.fill(0, at + msg.length, at + stride - 4).set(msg, at);
    this.mirrorWords[(at + stride - 4) >> 2] = stamp(k);
    if (this.#inline) dmaWrite(this.rx, HEADER + at, this.#inline[slot], POSTED);
    else dmaWriteBlock(this.rx, HEADER + at, this.base + HEADER + at, stride, POSTED);
    this.sent = k + 1;
    return true;
  }

  /** Sends `msg`, waiting up to `timeoutMs` for room (retransmitting meanwhile); false if there was none. */
  send(msg: Uint8Array, timeoutMs: number): boolean {
    if (this.trySend(msg)) return true;
    return this.waitFor(timeoutMs, () => this.sent - this.acked < this.slots - 1) &&
      this.trySend(msg);
  }
}

// ---------------------------------------------------------------------------
// The streaming variant: records in a ring of bytes.

/**
 * The receiving end of a byte stream (exported as `dq.<name>.<bytes>x1`): a read
 * takes whatever has arrived.
 */
export class StreamReceiver {
  readonly #end: ReceiverEnd;
  readonly #ring: number;
  /** The position of the record being read (absolute ring bytes), and how much of it is read. */
  #at = 0;
  #inRecord = 0;

  /** A ring of `bytes` bytes (rounded down to words; at least 64). */
  constructor(name: string, bytes: number) {
    if (!Number.isInteger(bytes) || bytes < 64) {
      throw new SysError(Errno.EINVAL, "StreamReceiver", `a ring of ${bytes} bytes: at least 64`);
    }
    this.#ring = bytes & ~3;
    this.#end = new ReceiverEnd(queueName(name, bytes, 1), this.#ring);
  }

  awaitSender(timeoutMs: number): boolean {
    return this.#end.awaitSender(timeoutMs);
  }

  /** The length of the whole, current record at `at` (skipping a ring end's tail), or -1. */
  #record(at: number): number {
    const o = at % this.#ring;
    const w = this.#end.words, i = (HEADER + o) >> 2;
    if (Atomics.load(w, i) !== (at | 0)) return -1;
    const n = Atomics.load(w, i + 1);
    if (n < 1 || n > this.#ring - o - RECORD_OVERHEAD) return -1; // not ours: stale bytes
    return Atomics.load(w, i + 2 + (pad4(n) >> 2)) === ~(at | 0) ? n : -1;
  }

  /** `at`, moved past the bytes before the ring's end that hold no record. */
  #skip(at: number): number {
    const rest = this.#ring - (at % this.#ring);
    return rest < MIN_RECORD ? at + rest : at;
  }

  /** Up to `max` bytes of the records that are here, in order; null if none. */
  #take(max: number): Uint8Array | null {
    // First count what is here, then copy it out in one piece. Positions stay
    // before a ring end's skipped bytes until the next record is looked for: the
    // sender skips them only when it writes that record, and an acknowledgement
    // must never name a position it has not reached.
    let at = this.#at, off = this.#inRecord, total = 0;
    const spans: number[] = [];
    while (total < max) {
      const rec = this.#skip(at);
      const n = this.#record(rec);
      if (n < 0) break;
      const take = Math.min(max - total, n - off);
      spans.push(HEADER + (rec % this.#ring) + 8 + off, take);
      total += take;
      at = rec;
      if (off + take < n) {
        off += take;
        break;
      }
      at = rec + RECORD_OVERHEAD + pad4(n);
      off = 0;
    }
    if (total === 0) return null;
    const bytes = this.#end.bytes;
    const out = spans.length === 2
      ? bytes.slice(spans[0], spans[0] + spans[1])
      : new Uint8Array(total);
    if (spans.length > 2) {
      for (let i = 0, d = 0; i < spans.length; i += 2) {
        out.set(bytes.subarray(spans[i], spans[i] + spans[i + 1]), d);
        d += spans[i + 1];
      }
    }
    this.#at = at;
    this.#inRecord = off;
    this.#end.ack(at | 0);
    return out;
  }

  /** Up to `max` bytes, waiting up to `timeoutMs` for the first; null on timeout. */
  read(max: number, timeoutMs: number): Uint8Array | null {
    return this.#end.wait(timeoutMs, () => this.#take(max), this.#position);
  }

  /** Up to `max` bytes that are here, or null (never waits). */
  tryRead(max: number): Uint8Array | null {
    const r = this.#take(max);
    if (r === null) this.#end.nakIfFired(this.#at | 0);
    return r;
  }

  readonly #position = () => this.#at | 0;

  /** NAKs this end sent. */
  get naks(): number {
    return this.#end.naksSent;
  }

  close(): void {
    this.#end.close();
  }
}

/** The sending end of a byte stream. */
export class StreamSender extends SenderEnd {
  readonly #ring: number;

  constructor(name: string, bytes: number, hint?: number, opts: DqueueOptions = {}) {
    const exported = queueName(name, bytes, 1);
    const { desc, size } = importSegment(exported, { hint });
    const ring = bytes & ~3;
    if (size < HEADER + ring) {
      throw new SysError(Errno.EINVAL, "dqueue", `dq.${name} holds ${size} bytes, not ${ring}`);
    }
    super(desc, `${exported}.tx`, ring, opts);
    this.#ring = ring;
  }

  protected ringUnits(): number {
    return this.#ring;
  }

  protected byteOf(unit: number): number {
    return unit;
  }

  /**
   * Sends as much of `data` from `done` as fits now, in one record; returns the
   * bytes sent (0: no room).
   */
  #put(data: Uint8Array, done: number): number {
    let at = this.sent;
    let rest = this.#ring - (at % this.#ring);
    let free = this.#ring - (at - this.progress());
    if (rest < MIN_RECORD) {
      if (free < rest + MIN_RECORD) return 0;
      at += rest; // the ring's last few bytes hold no record: both ends skip them
      free -= rest;
      rest = this.#ring;
      this.sent = at;
    }
    if (free < MIN_RECORD) return 0;
    const n = Math.min(
      data.length - done,
      STREAM_CHUNK,
      rest - RECORD_OVERHEAD,
      free - RECORD_OVERHEAD,
    );
    this.settle();
    const o = at % this.#ring, w = this.mirrorWords, i = o >> 2, size = RECORD_OVERHEAD + pad4(n);
    w[i] = at | 0;
    w[i + 1] = n;
    this.mirror.set(data.subarray(done, done + n), o + 8);
    if ((n & 3) !== 0) this.mirror.fill(0, o + 8 + n, o + 8 + pad4(n));
    w[i + 2 + (pad4(n) >> 2)] = ~(at | 0);
    dmaWriteBlock(this.rx, HEADER + o, this.base + HEADER + o, size, POSTED);
    this.sent = at + size;
    return n;
  }

  /**
   * Writes all of `data`, waiting up to `timeoutMs` in all for room (retransmitting
   * meanwhile); returns the bytes written.
   */
  write(data: Uint8Array, timeoutMs: number): number {
    let done = 0, deadline = 0;
    while (done < data.length) {
      const n = this.#put(data, done);
      if (n > 0) {
        done += n;
        continue;
      }
      if (deadline === 0) deadline = performance.now() + timeoutMs;
      const left = deadline - performance.now();
      const room = () => this.#ring - (this.sent - this.acked) >= 2 * MIN_RECORD;
      if (left <= 0 || !this.waitFor(left, room)) break;
    }
    return done;
  }
}
