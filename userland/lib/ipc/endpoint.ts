/**
 * Endpoints: the simple one-way message transfer of 002 §4.1 (Fig. 3), both ways,
 * an RPC on it, and an event-driven server built on the asynchronous event queue
 * (§3.5, §5.3).
 *
 * Each end of a connection owns a segment of S bytes (whole pages) holding its
 * receive buffer and four words right after it:
 *
 *   word 0   the peer's node + 1, once connected (set by the server's WRITE)
 *   byte 60  the receive buffer, S − 76 bytes; a message of n bytes lies at its
 *            end, [S − 16 − n, S − 16) (one longer than a frame with its stamps
 *            before, 4 bytes of the buffer for each frame but the last: see Loss)
 *   S − 16   seq: the message's sequence number (1, 2, …; never 0)
 *   S − 12   rx_ready: 0, or n + 1
 *   S − 8    closed: 1 once the peer has closed its end
 *   S − 4    tx_ready: the sequence number of the last message the peer took (0:
 *            none yet); the peer's buffer is free for our next message when it is
 *            the number of the last one we sent
 *
 * An end learns the peer's S when it imports the peer's segment, and so where
 * the peer's flags are. Messages too long to ride in the DMA queue are staged in
 * a second, private segment laid out like the peer's.
 *
 * To send, an end waits for its own tx_ready to name its last message, and writes
 * the message, its seq and the peer's rx_ready, in that order, as one WRITE: the
 * message sits right before the words, and a WRITE lands in address order. To
 * receive, an end waits for its own rx_ready, checks seq is the one after the last
 * it took, copies the message out and clears rx_ready; the peer's tx_ready is then
 * owed. It is paid with the end's next send (the WRITE runs on over closed and
 * tx_ready: a piggybacked acknowledgement), or alone (`flush`) before the end
 * waits, to receive or to send, and when a server's handler returns without
 * sending. Closing writes closed and tx_ready (waking a peer waiting to send) and
 * leaves rx_ready alone: a message sent just before is not lost. Every
 * cross-network access is a WRITE, every flag an end polls is in its own memory,
 * each end waits on one Tripwire per flag, and WRITEs go through the DMA queue:
 * sending or receiving takes no trap. A request and its reply cost two WRITEs,
 * posted (no completion: nothing comes back for them).
 *
 * Loss: one message is in flight each way (stop and wait), numbered. An end that
 * waits (to send, or to receive) `retransmitMs` with its last message still not
 * acknowledged sends it again, with the same number; the peer takes a message
 * whose number it has taken already as a duplicate: it drops it, acknowledges
 * again and sends its own unacknowledged message again (so a lost reply is
 * repeated when the call's request is). So each message is taken exactly once, in
 * order. A message longer than one frame (more than 64 KiB − 16 bytes) goes as one
 * WRITE per frame, in order; every frame before the last starts with the
 * message's number (a stamp) followed by its part of the message, and the last
 * holds the message's last 64 KiB − 16 bytes and the words after it. The receiver
 * takes the message only when every stamp is there, so a frame lost before the
 * last never yields a torn message. With two frames the message stays contiguous
 * (its one stamp right before it); with more, it is copied out of its parts. The
 * last frame brought the sender our acknowledgement, so a torn message makes our
 * next retransmission go even if our message was acknowledged (a poke: the peer
 * resends its own). Retransmission
 * happens only while an end waits in the library (send, receive, call); an
 * EventServer never waits on one connection, and relies on its clients'. A close
 * lost is not repeated (the EventServer's probes find a client that is gone).
 *
 * Connecting: a server listens on `ep.<service>` (a segment of slots clients write
 * their identity into, watched by a Tripwire with events); the client exports its
 * end as `ep.<node>.<pid>.<k>`, the server makes its end, exports it as the same
 * name + `.s` (a dot: base-36 numbers in the name never make one), and writes its
 * node into the client's word 0. Each end is exported to the other alone: the
 * client first READs a word of `ep.<service>`, whose answer names the listening
 * process to its kernel (export's `peer`); the server exports its end to the node
 * and pid the client wrote (a forged pair gives the process it names, no one else).
 */

import {
  DMA_INLINE_BYTES,
  DMA_MAX_BLOCK,
  EventKind,
  PAGE_SIZE,
  Rights,
} from "../../../kernel/abi/layout.ts";
import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { bind, CreateSegment, release } from "../sys/memory.ts";
import { view, view32 } from "../rt/mmu.ts";
import { getpid } from "../sys/process.ts";
import {
  awaitRemote,
  type ExportOptions,
  exportSegment,
  importSegment,
  nodeId,
  READ,
  remoteCounters,
  WRITE,
  WRITE32,
} from "../sys/remote.ts";
import { dmaFlush, dmaIdle, dmaWrite, dmaWrite32, dmaWriteBlock, POSTED } from "../sys/dma.ts";
import { drainSignals } from "../rt/signals.ts";
import {
  allocTripwire,
  armTripwire,
  clearTripwire,
  eventsDropped,
  freeTripwire,
  type QueuedEvent,
  untilTripwire,
  waitEvent,
  waitTripwire,
} from "../sys/tripwire.ts";

/** The receive buffer starts after word 0 (and 14 words unused). */
const BUF = 60;
/** seq, rx_ready, closed and tx_ready, after the receive buffer. */
const TAIL = 16;
/** The word before a long message (its stamp). */
const STAMP = 4;
/** A message's bytes in its last frame (all of one that fits a frame): the words follow. */
const LAST = DMA_MAX_BLOCK - TAIL;
/** A message's bytes in each frame before its last: a stamp leads them. */
const EARLIER = DMA_MAX_BLOCK - STAMP;
/** Default: resend an unacknowledged message after waiting this long. */
const RETRANSMIT_MS = 10;
const MAX_BACKOFF_MS = 320;
/**
 * A probe's completion codes that mean the client's end is gone for good (not
 * EHOSTDOWN: a node may be suspected and come back).
 */
const GONE = new Set<number>([Errno.ESTALE, Errno.EBADF]);
const PEER = 0;
/** What a server's end of a connection adds to its client's name. */
const SERVER_END = ".s";
/** Client slots in a listening segment: [node, pid, k, 0] each. */
const LISTEN_SLOTS = 256;
const EMPTY = new Uint8Array(0);

/** The sequence number after `s` (never 0). */
function nextSeq(s: number): number {
  return ((s + 1) | 0) || 1;
}

/** The frames a message of `n` bytes takes: more than one, and each carries a stamp. */
function frames(n: number): number {
  return n <= LAST ? 1 : 2 + Math.floor((n - LAST - 1) / EARLIER);
}

/** The largest message a segment of `bytes` takes (room for the stamps included). */
function capacity(bytes: number): number {
  const room = bytes - BUF - TAIL;
  return room <= LAST ? room : Math.max(LAST, room - STAMP * (frames(room) - 1));
}

/**
 * Where the frames of a message of `n` bytes ending at `end` start, first to last
 * (one for a message that fits a frame). From the end: the last frame holds the
 * message's last LAST bytes and the words after it; each one before it a stamp and
 * EARLIER bytes, the first a stamp and the rest. With two frames the message is
 * still contiguous, its stamp right before it; with more, stamps lie between parts.
 */
function frameStarts(end: number, n: number): number[] {
  const k = frames(n);
  if (k === 1) return [end - n];
  const starts = new Array<number>(k);
  starts[k - 1] = end - LAST;
  for (let j = k - 2; j >= 1; j--) starts[j] = starts[j + 1] - STAMP - EARLIER;
  starts[0] = end - n - STAMP * (k - 1);
  return starts;
}

let nextEnd = 1;

/** One end of a connection. */
export class Endpoint {
  readonly name: string;
  /** The largest message this end can take: its receive buffer's size. */
  readonly size: number;
  readonly #segment: number;
  readonly #base: number;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #stampView: DataView;
  /** Byte offsets of our rx_ready (the receive buffer ends there) and tx_ready. */
  readonly #rxAt: number;
  readonly #txAt: number;
  /** Tripwires on rx_ready and tx_ready. */
  readonly rxTripwire: number;
  readonly #txTripwire: number;
  #peer = -1;
  /** The peer's segment size: its flags are at its end, its buffer before them. */
  #peerBytes = 0;
  /** The staging segment for long messages (made on the first), its address and bytes. */
  #stage = -1;
  #stageBase = 0;
  #stageBytes: Uint8Array | null = null;
  #stageView: DataView | null = null;
  /** We took a message and have not yet told the peer its buffer is free. */
  #owed = false;
  /** The number of the last message we sent, and of the last one we took. */
  #sendSeq = 0;
  #recvSeq = 0;
  /** The last message sent, when it went inline: its bytes (for a retransmission). */
  readonly #inline = new Uint8Array(DMA_INLINE_BYTES);
  readonly #inlineView = new DataView(this.#inline.buffer);
  #inlineViews: Uint8Array[] = [];
  /** Where the last message's WRITE starts in the peer's segment, and its length (0: inline none). */
  #lastAt = 0;
  #lastCount = 0;
  /** Where its frames start (staged messages). */
  #lastStarts: number[] = [];
  #lastInline = false;
  /** It carries closed and tx_ready (an acknowledgement). */
  #lastAcks = false;
  /** A retransmission from the staging segment may still sit in the DMA ring. */
  #queuedResend = false;
  /**
   * A long message's last frame came without its first: the peer must send it
   * again, but it has our acknowledgement (it came in that last frame) and may
   * not be waiting. Our next retransmission pokes it, acknowledged or not.
   */
  #torn = false;
  /** Resend an unacknowledged message after waiting this long (ms). */
  retransmitMs = RETRANSMIT_MS;
  /** Messages sent again, and duplicates taken and dropped. */
  retransmits = 0;
  duplicates = 0;

  /** Set once the peer has closed its end (it wrote -1 into our rx_ready). */
  peerClosed = false;
  /** Messages taken so far. */
  received = 0;

  /**
   * Makes an end with a receive buffer of at least `size` bytes, exported as `name`
   * (for writes from `only`'s nodes, pids or peer alone, when given).
   */
  constructor(name: string, size: number, rxEvent = false, only: ExportOptions = {}) {
    this.name = name;
    const want = Math.max(size, 0);
    let bytes = Math.ceil((BUF + want + TAIL) / PAGE_SIZE) * PAGE_SIZE;
    while (capacity(bytes) < want) bytes += PAGE_SIZE;
    this.size = capacity(bytes);
    this.#rxAt = bytes - TAIL + 4;
    this.#txAt = bytes - 4;
    this.#segment = CreateSegment(bytes);
    this.#base = bind(this.#segment);
    this.#bytes = view(this.#base, bytes, true);
    this.#words = view32(this.#base, bytes / 4, true);
    this.#stampView = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, bytes);
    this.rxTripwire = allocTripwire();
    this.#txTripwire = allocTripwire();
    // rx_ready and closed: a message or the peer's close wakes a receiver.
    armTripwire(this.rxTripwire, {
      vaddr: this.#base + this.#rxAt,
      len: 8,
      write: true,
      event: rxEvent,
    });
    armTripwire(this.#txTripwire, { vaddr: this.#base + this.#txAt, len: 4, write: true });
    exportSegment(this.#segment, name, Rights.WRITE, only);
  }

  /** Attaches the peer's end (exported as `peerName` on node `hint`). */
  connect(peerName: string, hint: number): void {
    const { desc, size } = importSegment(peerName, { hint });
    if (size < PAGE_SIZE || size % PAGE_SIZE !== 0) {
      throw new SysError(Errno.EINVAL, "endpoint", `${peerName} is not an endpoint (${size} B)`);
    }
    this.#peer = desc;
    this.#peerBytes = size;
  }

  /** The largest message the peer can take (0 before connecting). */
  get peerSize(): number {
    return this.#peerBytes ? capacity(this.#peerBytes) : 0;
  }

  /** The peer's node, once a server has written it (word 0), else -1. */
  get peerNode(): number {
    return Atomics.load(this.#words, PEER) - 1;
  }

  /** Waits up to `timeoutMs` for word 0 (a server connecting to us). */
  awaitPeer(timeoutMs: number): boolean {
    if (this.peerNode >= 0) return true;
    const t = allocTripwire();
    try {
      armTripwire(t, { vaddr: this.#base + PEER * 4, len: 4, write: true });
      return untilTripwire(t, timeoutMs, () => this.peerNode >= 0 || null) ?? false;
    } finally {
      freeTripwire(t);
    }
  }

  /** Writes our node into the peer's word 0 (a server telling its client). */
  introduce(): void {
    WRITE32(this.#peer, PEER * 4, nodeId() + 1);
  }

  /**
   * Says it again, queued, asking for a COMPLETION event with id `tag`: the event's
   * info is 0 while the peer's end exists, ESTALE once it is gone.
   */
  probe(tag: number): void {
    if (this.#peer >= 0) dmaWrite32(this.#peer, PEER * 4, nodeId() + 1, { tag });
  }

  /** True if a message is waiting (a local load). */
  get ready(): boolean {
    return Atomics.load(this.#words, this.#rxAt >> 2) !== 0;
  }

  /**
   * Sends `msg` once the peer's buffer is free, waiting up to `timeoutMs`; false if
   * it did not free in time. Throws EPIPE once the peer has closed its end.
   */
  send(msg: Uint8Array, timeoutMs: number): boolean {
    if (this.#peer < 0) throw new SysError(Errno.EINVAL, "endpoint", "not connected");
    const n = msg.length;
    if (n > this.peerSize) {
      throw new SysError(
        Errno.EMSGSIZE,
        "endpoint",
        `${n} bytes exceed the peer's ${this.peerSize}`,
      );
    }
    const w = this.#words, tx = this.#txAt >> 2, closed = (this.#rxAt >> 2) + 1;
    if (this.peerClosed || Atomics.load(w, closed) !== 0) return this.#closedPipe("send");
    if (Atomics.load(w, tx) !== this.#sendSeq) {
      this.flush(); // the peer may be waiting for its buffer before it can take ours
      // The peer frees its buffer, or says it has closed (closing sets tx_ready too).
      if (!this.#wait(this.#txTripwire, timeoutMs, this.#free)) return false;
      if (Atomics.load(w, closed) !== 0) return this.#closedPipe("send");
    }
    const seq = this.#sendSeq = nextSeq(this.#sendSeq);
    // [message][seq][rx_ready], and [closed = 0][tx_ready] when we owe the
    // acknowledgement: one WRITE, landing in that order (a long message: two, the
    // first starting with its stamp).
    const owed = this.#owed;
    let count = n + (owed ? TAIL : 8);
    const at = this.#peerBytes - TAIL - n;
    if (count <= DMA_INLINE_BYTES) {
      const b = this.#inline, v = this.#inlineView;
      b.set(msg);
      v.setInt32(n, seq, true);
      v.setInt32(n + 4, n + 1, true);
      if (owed) {
        v.setInt32(n + 8, 0, true);
        v.setInt32(n + 12, this.#recvSeq, true);
      }
      this.#lastInline = true;
      this.#lastAcks = owed;
      this.#lastAt = at;
      this.#lastCount = count;
      dmaWrite(this.#peer, at, this.#inlineViews[count] ??= b.subarray(0, count), POSTED);
    } else {
      this.#settle();
      count = n + TAIL; // from staging, the acknowledgement always goes along
      const stage = this.#staging(), sv = this.#stageView!;
      sv.setInt32(at + n, seq, true);
      sv.setInt32(at + n + 4, n + 1, true);
      sv.setInt32(at + n + 8, 0, true);
      sv.setInt32(at + n + 12, this.#recvSeq, true);
      const starts = frameStarts(at + n, n), k = starts.length;
      if (k === 1) stage.set(msg, at);
      else {
        // [stamp][part] for each frame before the last, whose part ends the message.
        stage.set(msg.subarray(n - LAST), at + n - LAST);
        for (let j = 0, done = 0; j < k - 1; j++) {
          const len = starts[j + 1] - starts[j] - STAMP;
          sv.setInt32(starts[j], seq, true);
          stage.set(msg.subarray(done, done + len), starts[j] + STAMP);
          done += len;
        }
      }
      this.#lastInline = false;
      this.#lastAt = starts[0];
      this.#lastCount = at + count - starts[0];
      this.#lastStarts = starts;
      this.#sendStaged();
    }
    this.#owed = false;
    return true;
  }

  /** The peer took our last message (or closed its end: closing sets tx_ready too). */
  readonly #free = () =>
    Atomics.load(this.#words, this.#txAt >> 2) === this.#sendSeq ||
    Atomics.load(this.#words, (this.#rxAt >> 2) + 1) !== 0;

  /** Queues the staged message: in pieces of at most one frame, in order; the flags land with the last. */
  #sendStaged(): void {
    const starts = this.#lastStarts, end = this.#lastAt + this.#lastCount;
    for (let j = 0; j < starts.length; j++) {
      const at = starts[j], len = (j + 1 < starts.length ? starts[j + 1] : end) - at;
      dmaWriteBlock(this.#peer, at, this.#stageBase + at, len, POSTED);
    }
  }

  /** True while our last message has not been acknowledged. */
  #unacknowledged(): boolean {
    return this.#sendSeq !== 0 && !this.#free() && this.#peer >= 0;
  }

  /**
   * Sends our last message again (it, or its acknowledgement, was lost); also when
   * `poke`, even acknowledged: the peer takes it as a duplicate and sends its own
   * unacknowledged message again.
   */
  #resend(poke = false): void {
    if (!this.#unacknowledged() && !(poke && this.#sendSeq !== 0 && this.#peer >= 0)) return;
    this.retransmits++;
    if (this.#lastInline) {
      const b = this.#inline, v = this.#inlineView, count = this.#lastCount;
      // The acknowledgement it carries is brought up to date (a newer one is as true).
      if (this.#lastAcks) {
        v.setInt32(count - 4, this.#recvSeq, true);
        this.#owed = false;
      }
      dmaWrite(this.#peer, this.#lastAt, this.#inlineViews[count] ??= b.subarray(0, count), POSTED);
    } else {
      this.#stageView!.setInt32(this.#lastAt + this.#lastCount - 4, this.#recvSeq, true);
      this.#owed = false;
      this.#sendStaged();
      this.#queuedResend = true;
    }
  }

  /** Before the staging segment is written again: no retransmission queued may still read it. */
  #settle(): void {
    if (!this.#queuedResend) return;
    this.#queuedResend = false;
    while (!dmaIdle()) dmaFlush();
  }

  /**
   * untilTripwire, resending our last message after each `retransmitMs` the wait
   * ran with it unacknowledged.
   */
  #wait<T>(tripwire: number, timeoutMs: number, attempt: () => T | null | false): T | null {
    const deadline = performance.now() + timeoutMs;
    // Each resend waits twice as long as the one before (a slow peer, not a lossy
    // link, is the likelier reason), up to MAX_BACKOFF_MS.
    for (let slice = this.retransmitMs;;) {
      clearTripwire(tripwire);
      const r = attempt();
      if (r !== null && r !== false) return r;
      const left = deadline - performance.now();
      if (left <= 0) return null;
      if (!waitTripwire(tripwire, Math.min(left, slice))) {
        this.#resend(this.#torn);
        slice = Math.min(2 * slice, MAX_BACKOFF_MS);
      }
    }
  }

  /** The staging segment, laid out like the peer's (made on first use). */
  #staging(): Uint8Array {
    if (!this.#stageBytes) {
      this.#stage = CreateSegment(this.#peerBytes);
      this.#stageBase = bind(this.#stage);
      this.#stageBytes = view(this.#stageBase, this.#peerBytes, true);
      this.#stageView = new DataView(this.#stageBytes.buffer, this.#stageBytes.byteOffset);
    }
    return this.#stageBytes;
  }

  /**
   * Takes the waiting message, or null (never waits). The peer's tx_ready is then
   * owed. With `copy` false the message is not copied: it is a view of the receive
   * buffer itself, valid until this end next sends, flushes or receives.
   */
  tryReceive(copy = true): Uint8Array | null {
    const w = this.#words, rx = this.#rxAt >> 2;
    const r = Atomics.load(w, rx);
    if (r === 0) {
      // Closed, and every message sent before the close taken.
      if (Atomics.load(w, rx + 1) !== 0) this.peerClosed = true;
      return null;
    }
    if (r < 1 || r > this.size + 1) {
      Atomics.store(w, rx, 0); // garbage a writer left: drop it
      return null;
    }
    const seq = Atomics.load(w, rx - 1);
    if (seq !== nextSeq(this.#recvSeq)) {
      // A retransmission of what we took (its acknowledgement, or our reply, was
      // lost), or garbage: dropped, and both our words said again.
      Atomics.compareExchange(w, rx, r, 0);
      if (seq === this.#recvSeq) {
        this.duplicates++;
        this.#owed = true;
        if (this.#unacknowledged()) this.#resend();
        this.flush();
      }
      return null;
    }
    const end = this.#rxAt - 4;
    const n = r - 1;
    if (n > LAST) {
      // Longer than a frame: whole once every earlier frame's stamp is there too.
      const starts = frameStarts(end, n), v = this.#stampView;
      for (let j = 0; j < starts.length - 1; j++) {
        if (v.getInt32(starts[j], true) !== seq) {
          this.#torn = true;
          return null;
        }
      }
      if (starts.length > 2) return this.#takeParts(n, seq, starts, end);
    }
    this.#torn = false;
    const msg = r === 1
      ? EMPTY
      : copy
      ? this.#bytes.slice(end - (r - 1), end)
      : this.#bytes.subarray(end - (r - 1), end);
    Atomics.store(w, rx, 0);
    this.#recvSeq = seq;
    this.#owed = true;
    this.received++;
    return msg;
  }

  /** Takes a whole message of three frames or more: its parts, copied together. */
  #takeParts(n: number, seq: number, starts: number[], end: number): Uint8Array {
    this.#torn = false;
    const msg = new Uint8Array(n), k = starts.length;
    let done = 0;
    for (let j = 0; j < k - 1; j++) {
      const p = starts[j] + STAMP, len = starts[j + 1] - p;
      msg.set(this.#bytes.subarray(p, p + len), done);
      done += len;
    }
    msg.set(this.#bytes.subarray(end - LAST, end), done);
    Atomics.store(this.#words, this.#rxAt >> 2, 0);
    this.#recvSeq = seq;
    this.#owed = true;
    this.received++;
    return msg;
  }

  /** Marks the peer closed and throws EPIPE. */
  #closedPipe(call: string): never {
    this.peerClosed = true;
    throw new SysError(Errno.EPIPE, call, `${this.name}: the peer closed its end`);
  }

  /** Tells the peer its buffer is free, if that is owed and not yet said (one WRITE). */
  flush(): void {
    if (!this.#owed || this.#peer < 0) return;
    this.#owed = false;
    dmaWrite32(this.#peer, this.#peerBytes - 4, this.#recvSeq, POSTED);
  }

  /** Takes the next message, waiting up to `timeoutMs`; null on timeout or once the peer closed. */
  receive(timeoutMs: number): Uint8Array | null {
    const m = this.tryReceive();
    if (m || this.peerClosed) return m;
    this.flush(); // the peer may be waiting for its buffer before it can send
    const r = this.#wait(
      this.rxTripwire,
      timeoutMs,
      () => this.tryReceive() ?? (this.peerClosed ? EMPTY : null),
    );
    return this.peerClosed ? null : r;
  }

  /**
   * An RPC on the transfer: sends `request` and waits for the reply, up to
   * `timeoutMs` in all. Throws ETIMEDOUT if the peer's buffer never frees or no
   * reply comes, EPIPE if the peer closed its end.
   */
  call(request: Uint8Array, timeoutMs: number): Uint8Array {
    const deadline = performance.now() + timeoutMs;
    if (!this.send(request, timeoutMs)) {
      throw new SysError(Errno.ETIMEDOUT, "call", `${this.name}: the peer's buffer stayed full`);
    }
    const reply = this.receive(Math.max(0, deadline - performance.now()));
    if (reply) return reply;
    if (this.peerClosed) throw new SysError(Errno.EPIPE, "call", `${this.name}: peer closed`);
    throw new SysError(Errno.ETIMEDOUT, "call", `${this.name}: no reply in ${timeoutMs} ms`);
  }

  /**
   * Closes this end: the peer is told (closed = 1, and tx_ready = 1 to wake it if it
   * waits to send), then everything is let go. A message sent before is not lost:
   * the peer takes it, then sees the close.
   */
  close(): void {
    if (this.#peer >= 0 && !this.peerClosed) {
      const closing = new Uint8Array(new Int32Array([1, this.#recvSeq]).buffer);
      dmaWrite(this.#peer, this.#peerBytes - 8, closing, POSTED);
    }
    this.#owed = false;
    this.#peer = -1;
    freeTripwire(this.rxTripwire);
    freeTripwire(this.#txTripwire);
    release(this.#segment);
    if (this.#stage >= 0) release(this.#stage);
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
  const listen = importSegment(`ep.${service}`, { hint }).desc;
  // One READ of the listening segment: its answer names the server's process to our
  // kernel, and our end is exported to that process alone.
  const scratch = CreateSegment(PAGE_SIZE);
  try {
    const before = remoteCounters();
    READ(listen, 0, 4, scratch, 0);
    awaitRemote(before, timeoutMs);
  } finally {
    release(scratch);
  }
  const end = new Endpoint(name, size, false, { peer: listen });
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
  end.connect(name + SERVER_END, end.peerNode);
  return end;
}

/**
 * Called with a connection's end and each message that arrives on it. The message
 * is the receive buffer itself, not a copy: it is valid until the handler returns
 * or sends on `end`, whichever comes first. Copy it (`msg.slice()`) to keep it.
 */
export type EndpointHandler = (end: Endpoint, msg: Uint8Array) => void;

/**
 * An event-driven server (002 §5.3): one thread serving every connection from the
 * asynchronous event queue. A connection's rx_ready Tripwire delivers an event;
 * the server dispatches it to the handler with that connection's end, and keeps
 * taking events until the queue is empty, then spins before it blocks (the event
 * policy of spin.ts: 15 µs, kept while it catches events, none when it does not). If
 * the queue ever overflowed (events are dropped and counted), it looks at every
 * connection. A client that closes its end lets the server's go (so does a
 * handler's send failing with EPIPE); so does one that died without closing: when
 * the server is idle it probes, at most once a second, each connection that sent
 * nothing since the last look, and the probe's COMPLETION event says whether the
 * client's end still exists (probes use negative tags: give your own requests
 * positive ones). Events that are not the server's (the process's own Tripwires,
 * completions and signals) go to `onEvent`. Waiting takes no trap, so the
 * process's own signals are run between events (a blocked wait ends within 100 ms
 * to let them).
 */
export class EventServer {
  readonly service: string;
  readonly size: number;
  readonly #handler: EndpointHandler;
  readonly #listen: number;
  readonly #listenBase: number;
  readonly #listenWords: Int32Array;
  readonly #listenTripwire: number;
  /** The connections, by their rx_ready Tripwire (events name it) and by client name. */
  readonly #byTripwire = new Map<number, Endpoint>();
  readonly #byClient = new Map<string, Endpoint>();
  #dropped = 0;
  /** Probes in flight, by tag, and each connection's message count at the last look. */
  readonly #probes = new Map<number, Endpoint>();
  readonly #seen = new Map<Endpoint, number>();
  #nextTag = -1;
  readonly #onEvent: (e: QueuedEvent) => void;
  #nextSweep = 0;
  /** Requests served. */
  served = 0;

  constructor(
    service: string,
    handler: EndpointHandler,
    size = 4096,
    onEvent: (e: QueuedEvent) => void = () => {},
  ) {
    this.service = service;
    this.size = size;
    this.#handler = handler;
    this.#onEvent = onEvent;
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
    // Readable too: a client's READ of it tells its kernel who listens (connectEndpoint).
    exportSegment(this.#listen, `ep.${service}`, Rights.READ | Rights.WRITE);
  }

  /** Connections open. */
  get connections(): number {
    return this.#byTripwire.size;
  }

  /** Serves until `stop()` returns true (checked after each wait). */
  serve(stop: () => boolean = () => false): void {
    while (!stop()) {
      drainSignals(); // its own signals (SIGTERM…) run here: waiting takes no trap
      const e = waitEvent(100); // spinning first as spin.events says (none on block-only)
      const dropped = eventsDropped();
      if (dropped !== this.#dropped) {
        // The queue overflowed: some connection's event is lost. Look at all of them;
        // a probe's answer may be lost too: the next sweep asks again.
        this.#dropped = dropped;
        this.#probes.clear();
        this.#accept();
        for (const end of [...this.#byTripwire.values()]) this.#take(end);
      }
      if (!e) {
        this.#sweep(); // idle for 100 ms
        continue;
      }
      if (e.kind === EventKind.COMPLETION && this.#probes.has(e.id)) {
        const end = this.#probes.get(e.id)!;
        this.#probes.delete(e.id);
        if (GONE.has(e.info) && this.#byTripwire.get(end.rxTripwire) === end) this.#drop(end);
      } else if (e.kind === EventKind.TRIPWIRE && e.id === this.#listenTripwire) this.#accept();
      else {
        const end = e.kind === EventKind.TRIPWIRE ? this.#byTripwire.get(e.id) : undefined;
        if (end) this.#take(end);
        else this.#onEvent(e);
      }
    }
  }

  /** Probes each connection idle since the last sweep (at most once a second). */
  #sweep(): void {
    const now = performance.now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1_000;
    for (const end of this.#byTripwire.values()) {
      if (this.#seen.get(end) !== end.received) this.#seen.set(end, end.received);
      else {
        const tag = this.#nextTag--;
        if (this.#nextTag < -0x4000_0000) this.#nextTag = -1;
        this.#probes.set(tag, end);
        end.probe(tag);
      }
    }
  }

  /** Lets a connection go. */
  #drop(end: Endpoint): void {
    this.#byTripwire.delete(end.rxTripwire);
    this.#byClient.delete(end.name.slice(0, -SERVER_END.length));
    this.#seen.delete(end);
    end.close();
  }

  /** Serves the message waiting on `end`, or lets it go if its client closed. */
  #take(end: Endpoint): void {
    const msg = end.tryReceive(false);
    if (msg) {
      this.served++;
      try {
        this.#handler(end, msg);
      } catch (e) {
        // The client closed while its request was being served: let it go.
        if (!(e instanceof SysError && e.errno === Errno.EPIPE)) throw e;
      }
      if (end.peerClosed) return this.#drop(end);
      end.flush(); // a handler that did not answer still frees the client's buffer
    } else if (end.peerClosed) this.#drop(end);
  }

  #accept(): void {
    const w = this.#listenWords;
    for (let s = 0; s < LISTEN_SLOTS; s++) {
      const node = Atomics.load(w, s * 4) - 1;
      if (node < 0) continue;
      const pid = w[s * 4 + 1], k = w[s * 4 + 2];
      Atomics.store(w, s * 4, 0);
      const name = `ep.${node}.${pid.toString(36)}.${k.toString(36)}`;
      const known = this.#byClient.get(name);
      if (known) {
        known.introduce(); // asked again: our first answer may have been lost
        continue;
      }
      let end: Endpoint | null = null;
      try {
        end = new Endpoint(name + SERVER_END, this.size, true, { nodes: [node], pids: [pid] });
        end.connect(name, node);
        end.introduce();
      } catch {
        end?.close(); // the client is gone (or its name not there yet: it asks again)
        continue;
      }
      this.#byClient.set(name, end);
      this.#byTripwire.set(end.rxTripwire, end);
      this.#take(end); // a request may have come before its Tripwire was armed
    }
  }
}
