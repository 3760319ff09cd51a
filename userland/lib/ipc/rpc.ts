/**
 * Remote procedure call on memory-based messaging (001 §4), entirely in the
 * process: the kernel only moves memory and signals.
 *
 * A connection is two message segments that signal on page ends only (001 §3.3:
 * the receiver picks the unit): requests flow client → server in one, replies
 * server → client in the other. Each holds RPC_SLOTS one-page slots; message `seq`
 * uses slot `seq % RPC_SLOTS`, written as one run of stores that ends at the page's
 * last byte, so every message costs exactly one signal (at the slot's first byte)
 * and, across nodes, one datagram:
 *
 *   slot + 4064 − padded   payload, `len` bytes, padded to whole lines
 *   slot + 4064            trailer (the last line): seq, stub, len, checksum,
 *                          kind, rest, 0, MAGIC
 *
 * Arguments and results longer than one slot's payload (RPC_MAX_PAYLOAD, 4,064
 * bytes) go in pieces, each a message of its own with its own sequence number, so
 * retransmission and duplicate suppression cover every piece: the client sends
 * the arguments but the last part as PIECE messages, each acknowledged by an empty
 * REPLY, then the CALL with the last part; a reply whose `rest` is not 0 has that
 * many bytes to come, which the client asks for with MORE messages, each answered
 * by the next part. One piece is in flight at a time (stop-and-wait). A call and
 * its result are at most RPC_MAX_BYTES (16 MiB) each.
 *
 * First contact goes through the server's well-known channel, a message segment
 * exported as `rpc.<service>` that any client may write (001 §4: "similar to the
 * well-known multicast addresses"). A client exports its two segments under names
 * derived from (node, pid, connection) and writes a one-line CONNECT into a slot of
 * the well-known channel; the server imports and attaches them (the same call for
 * a local or a remote segment: a remote one becomes a replica, and every line
 * travels as a datagram), binds them, and answers ACCEPT.
 *
 * The transport is the paper's: a checksum over the message (computed in the same
 * pass as the unmarshalling copy into private memory, so a message overwritten
 * while it is being read is caught), retransmission by timer when no reply came,
 * and duplicate suppression at the server (at-most-once: a retransmitted call is
 * answered from the cached reply, never executed twice). The timer costs nothing
 * on the normal path: a synchronous call looks at the clock only when a wait ran
 * out; asynchronous calls are reviewed by an interval timer while any is pending.
 * One-way calls (no reply) and a raw channel without any transport are there for
 * traffic that does not need reliability.
 *
 * @example
 * ```ts
 * const server = new RpcServer("kv", { 1: (args, reply) => { reply.set(args); return args.length } });
 * server.serve(() => false); // forever
 * // elsewhere:
 * const c = RpcClient.connect("kv", { hint: 0 });
 * const echoed = c.call(1, new TextEncoder().encode("hello"));
 * ```
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import {
  CACHE_LINE_SIZE,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
} from "../../../kernel/abi/layout.ts";
import { attach, bind, CreateSegment, release } from "../sys/memory.ts";
import { view32, write } from "../rt/mmu.ts";
import { getpid } from "../sys/process.ts";
import { exportSegment, importSegment, nodeId, revoke } from "../sys/remote.ts";
import {
  asHandler,
  drainSignals,
  inSignalHandler,
  removeSignalHandler,
  SignalHandler,
  signalPending,
  SigWait,
  spinBudgetUs,
} from "../rt/signals.ts";
import { pollUntil, spin, spinFor } from "../rt/spin.ts";

const LINE = CACHE_LINE_SIZE;
/** Message slots per channel. */
export const RPC_SLOTS = 4;
const MAGIC = 0x3143_5052; // "RPC1"
/** Trailer words. */
const T = { SEQ: 0, STUB: 1, LEN: 2, SUM: 3, KIND: 4, REST: 5, MAGIC: 7 } as const;
/** What a message is. */
export const RpcKind = {
  CALL: 1,
  ONEWAY: 2,
  REPLY: 3,
  /** The server has no such stub. */
  NOSTUB: 4,
  /** The procedure threw: the payload is its message. */
  FAILED: 5,
  ACCEPT: 6,
  CONNECT: 7,
  /** The client is closing: the server lets the connection's segments go. */
  CLOSE: 8,
  /** A part of a long call's arguments (all but the last); answered by an empty REPLY. */
  PIECE: 9,
  /** The client asks for the next part of a long result. */
  MORE: 10,
} as const;
/** Slots in a server's well-known channel (one line each). */
const CONNECT_SLOTS = 64;

export interface RpcOptions {
  /** Resend a call (or a CONNECT) after this long without a reply. Default 20 ms. */
  retransmitMs?: number;
  /** Give up with ETIMEDOUT after this long. Default 2000 ms. */
  timeoutMs?: number;
}

/**
 * A procedure: reads `args` (valid during the call), and either writes its result
 * into `reply` (RPC_MAX_PAYLOAD bytes) and returns the result's length, or returns
 * the result itself, of any length up to RPC_MAX_BYTES (a result longer than one
 * message goes in pieces).
 */
export type Procedure = (args: Uint8Array, reply: Uint8Array) => number | Uint8Array;

/** Transport counters of one end. */
export interface RpcStats {
  calls: number;
  retransmits: number;
  /** Messages discarded because the checksum did not match (lost or overwritten parts). */
  badChecksums: number;
  /** Calls answered from the cached reply, and stale messages ignored. */
  duplicates: number;
  /** Replies taken by watching the reply slot before their signal was handled. */
  watched: number;
  /** Messages that carried a part of a long call or result (PIECE, MORE and their answers). */
  pieces: number;
}

/** A slot is one page: the channel signals on page ends only (001 §3.3). */
export const RPC_SLOT_BYTES = PAGE_SIZE;
/** The largest argument or result carried in one message; longer ones go in pieces. */
export const RPC_MAX_PAYLOAD = RPC_SLOT_BYTES - LINE;
/** The largest argument or result of one call (EMSGSIZE beyond). */
export const RPC_MAX_BYTES = 16 * 1024 * 1024;
const CHANNEL_BYTES = RPC_SLOTS * RPC_SLOT_BYTES;
const TRAILER = RPC_SLOT_BYTES - LINE;

function seedOf(kind: number, seq: number, stub: number, len: number, rest: number): number {
  return Math.imul(seq ^ MAGIC, 0x85eb_ca6b) ^ Math.imul((stub + (len << 8)) ^ kind, 0xc2b2_ae35) ^
    Math.imul(rest, 0x27d4_eb2d);
}

/** A Fletcher-style sum of `words` words of `src` from `at`, copying them to `dst` if given. */
function copySum(
  src: Int32Array,
  at: number,
  dst: Int32Array | null,
  words: number,
  seed: number,
): number {
  let a = seed | 0, b = 0;
  if (dst) {
    for (let i = 0; i < words; i++) {
      const w = src[at + i];
      dst[i] = w;
      a = (a + w) | 0;
      b = (b + a) | 0;
    }
  } else {
    for (let i = 0; i < words; i++) {
      a = (a + src[at + i]) | 0;
      b = (b + a) | 0;
    }
  }
  return (a ^ Math.imul(b, 0x9e37_79b1)) | 0;
}

/** One end's private buffers: the slot image it sends, what it unmarshals, its results. */
class Buffers {
  /** The outgoing slot: payload right-aligned against the trailer in the last line. */
  readonly msg = new Uint8Array(RPC_SLOT_BYTES);
  readonly msgWords = new Int32Array(this.msg.buffer);
  /** Unmarshalled arguments or results. */
  readonly in = new Uint8Array(RPC_MAX_PAYLOAD);
  readonly inWords = new Int32Array(this.in.buffer);
  /** Where a procedure writes its result. */
  readonly out = new Uint8Array(RPC_MAX_PAYLOAD);
  /** The trailer of the message being received, copied once. */
  readonly header = new Int32Array(8);
  /** Views made once per length, so the fast path allocates nothing. */
  readonly #inViews: Uint8Array[] = [];
  readonly #outViews: Uint8Array[] = [];
  readonly #msgViews: Uint8Array[] = [];
  /** The first `len` bytes of `in`. */
  inView(len: number): Uint8Array {
    return this.#inViews[len] ??= this.in.subarray(0, len);
  }
  /** The first `len` bytes of `out`. */
  outView(len: number): Uint8Array {
    return this.#outViews[len] ??= this.out.subarray(0, len);
  }
  /** `msg` from `start` to its end. */
  msgView(start: number): Uint8Array {
    return this.#msgViews[start] ??= this.msg.subarray(start);
  }
}

/**
 * Writes a message carrying `data` into slot `seq % RPC_SLOTS` of the channel at
 * `base`, with one store sequence that ends at the page's last byte: the payload
 * (padded to lines) just below the trailer, then the trailer. Only that last store
 * completes the unit, so a message costs one signal whatever its size.
 */
function send(
  base: number,
  b: Buffers,
  kind: number,
  seq: number,
  stub: number,
  data: Uint8Array,
  rest = 0,
): void {
  const len = data.length;
  const start = TRAILER - ((len + LINE - 1) & ~(LINE - 1));
  const m = b.msg, w = b.msgWords;
  m.set(data, start);
  if (start + len !== TRAILER) m.fill(0, start + len, TRAILER);
  const t = TRAILER >> 2;
  w[t + T.SEQ] = seq;
  w[t + T.STUB] = stub;
  w[t + T.LEN] = len;
  w[t + T.SUM] = copySum(w, start >> 2, null, (len + 3) >> 2, seedOf(kind, seq, stub, len, rest));
  w[t + T.KIND] = kind;
  w[t + T.REST] = rest;
  w[t + 6] = 0;
  w[t + T.MAGIC] = MAGIC;
  write(base + (seq % RPC_SLOTS) * RPC_SLOT_BYTES + start, b.msgView(start));
}

/**
 * Reads the message in slot `slot` of channel words `w` into `b.in` if it is whole:
 * returns its length, or -1 (bad trailer, or checksum mismatch: a part was lost or
 * overwritten during the copy).
 */
function receive(w: Int32Array, slot: number, b: Buffers): number {
  const h = b.header;
  const len = h[T.LEN];
  if (h[T.MAGIC] !== MAGIC || len < 0 || len > RPC_MAX_PAYLOAD) return -1;
  const seed = seedOf(h[T.KIND], h[T.SEQ], h[T.STUB], len, h[T.REST]);
  const t = trailerWord(slot);
  const start = t - (((len + LINE - 1) & ~(LINE - 1)) >> 2);
  const sum = copySum(w, start, b.inWords, (len + 3) >> 2, seed);
  return sum === h[T.SUM] ? len : -1;
}

/**
 * Copies the trailer of slot `slot` into `b.header` and returns it: every decision
 * about a message is taken on this one copy, so a trailer rewritten meanwhile (by a
 * later message, or a deposit from the network) cannot mix two messages' fields.
 */
function readTrailer(w: Int32Array, slot: number, b: Buffers): Int32Array {
  const t = trailerWord(slot);
  const h = b.header;
  for (let i = 0; i < 8; i++) h[i] = w[t + i];
  return h;
}

/** The word index of slot `slot`'s trailer in a channel. */
function trailerWord(slot: number): number {
  return (slot * RPC_SLOT_BYTES + TRAILER) >> 2;
}

/** The 31-bit sequence number after `seq` (0 is never used). */
function nextSeq(seq: number): number {
  return ((seq + 1) & 0x7fff_ffff) || 1;
}

/** True if 31-bit sequence number `a` comes after `b` (serial-number arithmetic). */
export function sequenceAfter(a: number, b: number): boolean {
  return (((a - b) << 1) | 0) > 0;
}

const EMPTY = new Uint8Array(0);
/** What a server takes from a request channel, and which of those it answers. */
const REQUESTS = new Set<number>([
  RpcKind.CALL,
  RpcKind.ONEWAY,
  RpcKind.CLOSE,
  RpcKind.PIECE,
  RpcKind.MORE,
]);
const ANSWERED = new Set<number>([RpcKind.CALL, RpcKind.PIECE, RpcKind.MORE]);

/** Copies a short result into the connection's reply buffer; returns its length. */
function copyOut(c: { b: Buffers }, r: Uint8Array): number {
  if (r !== c.b.out) c.b.out.set(r);
  return r.length;
}
/**
 * What attach says when a client's channel is gone. Not EHOSTDOWN: a node that
 * looks down (a loss spike) may be up again a moment later, its connections whole;
 * one that restarted comes back with a new incarnation, and its old names ESTALE.
 */
const GONE = new Set(["ESTALE", "ENOENT"]);
let nextConnection = 1;

/** The names a client exports its two channels under (+ "q" and "r"): at most 32 bytes. */
function channelPrefix(node: number, pid: number, conn: number): string {
  return `rpc.${node}.${pid.toString(36)}.${conn.toString(36)}`;
}

/** An asynchronous call, queued or in flight, and how far its pieces have got. */
interface AsyncCall {
  readonly stub: number;
  readonly args: Uint8Array;
  /** Bytes of the arguments sent as acknowledged pieces. */
  sent: number;
  /** A long result being gathered, and its bytes so far. */
  result: Uint8Array | null;
  got: number;
  resolve: (r: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** The client end of a connection. */
export class RpcClient {
  readonly service: string;
  readonly stats: RpcStats = {
    calls: 0,
    retransmits: 0,
    badChecksums: 0,
    duplicates: 0,
    watched: 0,
    pieces: 0,
  };
  readonly #retransmitMs: number;
  readonly #timeoutMs: number;
  readonly #b = new Buffers();
  readonly #req: { segment: number; base: number; name: string };
  readonly #rep: { segment: number; base: number; name: string; words: Int32Array };
  #seq = 0;
  /** The call awaiting its reply (0: none), and what came back. */
  #waiting = 0;
  #replied = false;
  #replyKind = 0;
  #replyLen = 0;
  /** Bytes of a long result still to come after this reply's part. */
  #replyRest = 0;
  /** The last reply taken by watching its slot (its signal comes later). */
  #watched = 0;
  #accepted = false;
  readonly #nonce: number;
  readonly #conn: number;
  #closed = false;
  readonly #async: AsyncCall[] = [];
  #asyncSent = 0;
  #asyncSeq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `server`: the attached descriptor of `rpc.<service>`, whose owner is the peer. */
  private constructor(service: string, opts: RpcOptions, server: number) {
    this.service = service;
    this.#retransmitMs = opts.retransmitMs ?? 20;
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#nonce = (crypto.getRandomValues(new Uint32Array(1))[0] | 1) | 0;
    this.#conn = nextConnection++;
    const prefix = channelPrefix(nodeId(), getpid(), this.#conn);
    // Requests: we write, the server reads. Replies: the server writes, we read.
    const make = (suffix: string, exported: number, bound: number) => {
      const segment = CreateSegment(CHANNEL_BYTES, SegMode.MESSAGE, SegUnit.PAGE);
      const base = bind(segment, 0, bound);
      const name = prefix + suffix;
      // To the server alone (its node and pid, as the kernel knows them from the
      // attached well-known channel): no bystander can bind or read them.
      exportSegment(segment, name, exported, { peer: server });
      return { segment, base, name };
    };
    this.#req = make("q", Rights.READ, Rights.READ | Rights.WRITE);
    const rep = make("r", Rights.READ | Rights.WRITE, Rights.READ);
    this.#rep = { ...rep, words: view32(rep.base, CHANNEL_BYTES / 4) };
    for (let s = 0; s < RPC_SLOTS; s++) {
      SignalHandler(rep.base + s * RPC_SLOT_BYTES, LINE, () => this.#onReply(s));
    }
  }

  /**
   * Connects to the server exporting `rpc.<service>` (looked up on node `hint` if it
   * is not known locally). Throws ETIMEDOUT if the server never accepts.
   */
  static connect(service: string, opts: RpcOptions & { hint?: number } = {}): RpcClient {
    // The well-known channel first: attaching it tells the kernel which process serves
    // it, and the connection's two channels are exported to that process alone.
    const { desc } = importSegment(`rpc.${service}`, { hint: opts.hint });
    const wk = attach(desc);
    let c: RpcClient;
    try {
      c = new RpcClient(service, opts, desc);
    } catch (e) {
      release(wk);
      throw e;
    }
    try {
      c.#handshake(wk);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  #handshake(wk: number): void {
    const wkBase = bind(wk, 0, Rights.READ | Rights.WRITE);
    const bytes = new Uint8Array(LINE);
    const line = new Int32Array(bytes.buffer);
    const start = performance.now();
    try {
      while (!this.#accepted) {
        line[0] = this.#nonce;
        line[1] = nodeId();
        line[2] = getpid();
        line[3] = this.#conn;
        line[4] = RpcKind.CONNECT;
        line[5] = 0;
        line[6] = 0;
        line[T.MAGIC] = MAGIC;
        const slot = (crypto.getRandomValues(new Uint8Array(1))[0] % CONNECT_SLOTS) * LINE;
        write(wkBase + slot, bytes);
        const resend = performance.now() + this.#retransmitMs;
        while (!this.#accepted && performance.now() < resend) this.#await(0, this.#retransmitMs);
        if (!this.#accepted && performance.now() - start > this.#timeoutMs) {
          throw new SysError(
            Errno.ETIMEDOUT,
            "rpc connect",
            `no server "${this.service}" answered`,
          );
        }
      }
    } finally {
      release(wk);
    }
  }

  #onReply(slot: number): void {
    const w = this.#rep.words;
    const h = readTrailer(w, slot, this.#b);
    const kind = h[T.KIND];
    if (kind === RpcKind.ACCEPT) {
      if (h[T.MAGIC] === MAGIC && h[T.STUB] === this.#nonce) this.#accepted = true;
      return;
    }
    const seq = h[T.SEQ];
    if (seq !== this.#waiting || this.#replied) {
      // The signals of replies taken by watching their slots are expected; others not.
      if (sequenceAfter(seq, this.#watched)) this.stats.duplicates++;
      return;
    }
    const len = receive(w, slot, this.#b);
    if (len < 0) {
      this.stats.badChecksums++;
      return;
    }
    this.#replyKind = kind;
    this.#replyLen = len;
    this.#replyRest = h[T.REST];
    this.#replied = true;
    if (this.#async.length !== 0 && seq === this.#asyncSeq) this.#finishAsync();
  }

  /**
   * While a reply is due and this process would spin anyway, watches the reply
   * slot's trailer: the reply's own cache line arrives one transfer before its
   * signal's FIFO entry could be read. A message seen there is taken only if its
   * checksum holds (it may be seen half-written); the signal still arrives and is
   * then ignored. Stops at the spin budget, or as soon as any signal is pending.
   */
  #watch(seq: number): void {
    const budget = spinBudgetUs();
    if (budget === 0) return;
    drainSignals(); // the last reply's signal, most likely: out of the way first
    if (this.#replied) return;
    this.#watchSeq = seq;
    spinFor(budget, this.#replyHere, signalPending);
  }

  /** The reply the spin watches for (made once: the spin allocates nothing). */
  #watchSeq = 0;
  readonly #replyHere = () => this.#takeReply(this.#watchSeq);
  readonly #answerHere = () => this.#takeReply(this.#watchSeq) || this.#pollAccept();

  /** Takes the reply to `seq` from its slot if it is there, whole; true if it did. */
  #takeReply(seq: number): boolean {
    const slot = seq % RPC_SLOTS, w = this.#rep.words;
    if (Atomics.load(w, trailerWord(slot) + T.SEQ) !== seq) return false;
    const h = readTrailer(w, slot, this.#b);
    if (h[T.SEQ] !== seq || h[T.KIND] === RpcKind.ACCEPT) return false;
    const len = receive(w, slot, this.#b);
    if (len < 0) return false; // not all of it is here yet
    this.#replyKind = h[T.KIND];
    this.#replyLen = len;
    this.#replyRest = h[T.REST];
    this.#replied = true;
    this.#watched = seq;
    this.stats.watched++;
    return true;
  }

  /**
   * Waits a moment for a reply. Inside a signal handler (a procedure calling
   * another server) signals cannot run, so the reply is taken from its slot instead.
   */
  #await(seq: number, ms: number): void {
    if (!inSignalHandler()) {
      SigWait(ms);
      return;
    }
    this.#watchSeq = seq;
    pollUntil(spin.signals, this.#answerHere, ms);
  }

  /** Looks for this client's ACCEPT in reply slot 0 (while in a handler). */
  #pollAccept(): boolean {
    if (this.#accepted) return false;
    const h = readTrailer(this.#rep.words, 0, this.#b);
    if (h[T.KIND] === RpcKind.ACCEPT && h[T.MAGIC] === MAGIC && h[T.STUB] === this.#nonce) {
      this.#accepted = true;
    }
    return this.#accepted;
  }

  #check(args: Uint8Array, call: string): void {
    if (this.#closed) throw new SysError(Errno.EBADF, "rpc", "the connection is closed");
    if (args.length > RPC_MAX_BYTES) {
      throw new SysError(
        Errno.EMSGSIZE,
        `rpc ${call}`,
        `${args.length} bytes of arguments exceed ${RPC_MAX_BYTES}`,
      );
    }
  }

  /** Sends a request; `at` is where its bytes start in a call's arguments (PIECE, CALL). */
  #issue(kind: number, stub: number, args: Uint8Array, at = 0): number {
    const seq = nextSeq(this.#seq);
    this.#seq = seq;
    if (kind === RpcKind.PIECE || kind === RpcKind.MORE) this.stats.pieces++;
    else this.stats.calls++;
    if (kind !== RpcKind.ONEWAY && kind !== RpcKind.CLOSE) {
      // Before the send: a trap it makes (across nodes) returns through a safe point
      // where the reply's handler may already run.
      this.#waiting = seq;
      this.#replied = false;
    }
    send(this.#req.base, this.#b, kind, seq, stub, args, at);
    return seq;
  }

  /**
   * Sends one message that expects an answer (CALL, PIECE or MORE) and waits for
   * it, retransmitting; the answer is left in #replyKind, #replyLen and #replyRest.
   */
  #exchange(kind: number, stub: number, data: Uint8Array, at = 0): void {
    const seq = this.#issue(kind, stub, data, at);
    this.#watch(seq);
    let start = -1, resend = 0;
    while (!this.#replied) {
      this.#await(seq, this.#retransmitMs);
      if (this.#replied) break;
      const now = performance.now();
      if (start < 0) {
        start = now;
        resend = now + this.#retransmitMs;
        continue;
      }
      if (now - start > this.#timeoutMs) {
        this.#waiting = 0;
        throw new SysError(
          Errno.ETIMEDOUT,
          "rpc call",
          `${this.service} stub ${stub}: no reply in ${this.#timeoutMs} ms`,
        );
      }
      if (now >= resend) {
        this.stats.retransmits++;
        send(this.#req.base, this.#b, kind, seq, stub, data, at);
        resend = now + this.#retransmitMs;
      }
    }
    this.#waiting = 0;
  }

  /**
   * Sends all of `args` but its last part as acknowledged pieces; returns where the
   * last part starts (0 for arguments that fit one message).
   */
  #sendPieces(stub: number, args: Uint8Array): number {
    let at = 0;
    for (; args.length - at > RPC_MAX_PAYLOAD; at += RPC_MAX_PAYLOAD) {
      this.#exchange(RpcKind.PIECE, stub, args.subarray(at, at + RPC_MAX_PAYLOAD), at);
      this.#result(stub); // the server refused the call (EIO)
    }
    return at;
  }

  /**
   * Calls procedure `stub` with `args` (at most RPC_MAX_BYTES, 16 MiB; longer than
   * RPC_MAX_PAYLOAD, 4,064 bytes, they go in pieces) and waits for its result. The
   * returned bytes alias a private buffer, valid until the next call. Throws
   * ETIMEDOUT when no reply came within the timeout, ENOENT for an unknown stub,
   * EIO if it failed, EMSGSIZE for arguments over the limit, EBUSY while
   * asynchronous calls are pending, EBADF once closed.
   */
  call(stub: number, args: Uint8Array = EMPTY): Uint8Array {
    this.#check(args, "call");
    if (this.#async.length !== 0) {
      throw new SysError(Errno.EBUSY, "rpc call", "asynchronous calls are pending");
    }
    const at = this.#sendPieces(stub, args);
    this.#exchange(RpcKind.CALL, stub, at === 0 ? args : args.subarray(at), at);
    const first = this.#result(stub);
    if (this.#replyRest === 0) return first;
    const all = this.#longResult(stub, first.length);
    all.set(first);
    for (let at = first.length; at < all.length;) {
      this.#exchange(RpcKind.MORE, stub, EMPTY);
      const part = this.#result(stub);
      if (at + part.length > all.length) this.#badPiece(stub);
      all.set(part, at);
      at += part.length;
    }
    return all;
  }

  /** A buffer for a result of `first` bytes plus #replyRest more. */
  #longResult(stub: number, first: number): Uint8Array {
    const total = first + this.#replyRest;
    if (this.#replyRest < 0 || total > RPC_MAX_BYTES) this.#badPiece(stub);
    return new Uint8Array(total);
  }

  #badPiece(stub: number): never {
    throw new SysError(Errno.EIO, "rpc call", `${this.service} stub ${stub}: a malformed piece`);
  }

  #result(stub: number): Uint8Array {
    const bytes = this.#b.inView(this.#replyLen);
    if (this.#replyKind === RpcKind.NOSTUB) {
      throw new SysError(Errno.ENOENT, "rpc call", `${this.service} has no stub ${stub}`);
    }
    if (this.#replyKind === RpcKind.FAILED) {
      throw new SysError(Errno.EIO, "rpc call", new TextDecoder().decode(bytes));
    }
    return bytes;
  }

  /**
   * Sends `args` (at most RPC_MAX_BYTES) to `stub` with no reply and no
   * retransmission (best effort); arguments longer than RPC_MAX_PAYLOAD go in
   * acknowledged pieces, and only the last is best effort.
   */
  oneWay(stub: number, args: Uint8Array = EMPTY): void {
    this.#check(args, "oneWay");
    if (this.#async.length !== 0) {
      // Its sequence number would overtake the pending call's: a retransmission of
      // that call would then look old to the server and never be answered.
      throw new SysError(Errno.EBUSY, "rpc oneWay", "asynchronous calls are pending");
    }
    const at = this.#sendPieces(stub, args);
    this.#issue(RpcKind.ONEWAY, stub, at === 0 ? args : args.subarray(at), at);
  }

  /**
   * An asynchronous call: resolves with a copy of the result when the reply's signal
   * is handled (while the program's event loop is idle). Calls queue and go one at
   * a time; an interval timer retransmits and times them out. Long arguments and
   * results go in pieces, as for `call`.
   */
  callAsync(stub: number, args: Uint8Array = EMPTY): Promise<Uint8Array> {
    this.#check(args, "callAsync");
    if (this.#async.length === 0 && this.#waiting !== 0) {
      // A synchronous call is waiting (this runs in a handler during it).
      throw new SysError(Errno.EBUSY, "rpc callAsync", "a synchronous call is pending");
    }
    return new Promise((resolve, reject) => {
      this.#async.push({
        stub,
        args: args.slice(),
        sent: 0,
        result: null,
        got: 0,
        resolve,
        reject,
      });
      if (this.#async.length === 1) this.#startAsync();
    });
  }

  /** The message the first asynchronous call sends next: a piece, its CALL, or MORE. */
  #asyncStep(a: AsyncCall): [number, Uint8Array] {
    if (a.result) return [RpcKind.MORE, EMPTY];
    if (a.args.length - a.sent > RPC_MAX_PAYLOAD) {
      return [RpcKind.PIECE, a.args.subarray(a.sent, a.sent + RPC_MAX_PAYLOAD)];
    }
    return [RpcKind.CALL, a.sent === 0 ? a.args : a.args.subarray(a.sent)];
  }

  #startAsync(): void {
    const next = this.#async[0];
    const [kind, data] = this.#asyncStep(next);
    const at = kind === RpcKind.MORE ? 0 : next.sent;
    const seq = this.#asyncSeq = nextSeq(this.#seq); // the sequence #issue will use
    this.#issue(kind, next.stub, data, at);
    // #issue's safe point may have run the reply's handler, finished this step and
    // started the next one already.
    if (this.#asyncSeq !== seq || this.#replied) return;
    this.#asyncSent = performance.now();
    const first = this.#asyncSent;
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      const now = performance.now();
      if (now - first > this.#timeoutMs) {
        this.#async.shift()!.reject(
          new SysError(Errno.ETIMEDOUT, "rpc call", `${this.service} stub ${next.stub}: no reply`),
        );
        this.#advanceAsync();
      } else if (now - this.#asyncSent >= this.#retransmitMs) {
        this.stats.retransmits++;
        send(this.#req.base, this.#b, kind, seq, next.stub, data, at);
        this.#asyncSent = now;
      }
    }, Math.max(1, this.#retransmitMs / 2));
  }

  /** The answer to the first asynchronous call's current step has come. */
  #finishAsync(): void {
    const a = this.#async[0];
    try {
      const bytes = this.#result(a.stub);
      if (!a.result && a.args.length - a.sent > RPC_MAX_PAYLOAD) {
        a.sent += RPC_MAX_PAYLOAD; // a piece acknowledged
        return this.#continueAsync();
      }
      if (!a.result) {
        if (this.#replyRest === 0) {
          this.#async.shift();
          a.resolve(bytes.slice());
          return this.#advanceAsync();
        }
        a.result = this.#longResult(a.stub, bytes.length);
      }
      if (a.got + bytes.length > a.result.length) this.#badPiece(a.stub);
      a.result.set(bytes, a.got);
      a.got += bytes.length;
      if (a.got < a.result.length) return this.#continueAsync();
      this.#async.shift();
      a.resolve(a.result);
    } catch (e) {
      this.#async.shift();
      a.reject(e as Error);
    }
    this.#advanceAsync();
  }

  /** Sends the first asynchronous call's next step. */
  #continueAsync(): void {
    this.#waiting = 0;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#startAsync();
  }

  #advanceAsync(): void {
    this.#waiting = 0;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#async.length !== 0) this.#startAsync();
  }

  /** Asynchronous calls queued or in flight. */
  get pending(): number {
    return this.#async.length;
  }

  /** Ends the connection: its segments are revoked and released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#issue(RpcKind.CLOSE, 0, EMPTY); // best effort: the server lets its side go
    } catch { /* the channel is already gone */ }
    for (const a of this.#async.splice(0)) {
      a.reject(new SysError(Errno.EBADF, "rpc", "the connection was closed"));
    }
    removeSignalHandler(this.#rep.base, CHANNEL_BYTES);
    for (const ch of [this.#req, this.#rep]) {
      try {
        revoke(ch.name);
      } catch { /* the clerk is gone: the release below still frees it */ }
      release(ch.segment);
    }
  }
}

interface Connection {
  readonly key: string;
  readonly nonce: number;
  /** The two channel segments as attached here (replicas for a remote client). */
  readonly segments: number[];
  readonly reqBase: number;
  readonly reqWords: Int32Array;
  readonly repBase: number;
  readonly b: Buffers;
  lastSeq: number;
  /** The cached reply for lastSeq (kind, bytes, stub, rest), for duplicates; null: none. */
  replyKind: number;
  replyData: Uint8Array | null;
  replyStub: number;
  replyRest: number;
  /** A long call's arguments gathered from its PIECEs so far, and its stub. */
  args: Uint8Array | null;
  argsLen: number;
  argsStub: number;
  /** A long result whose parts MORE takes, and how far it has been sent. */
  result: Uint8Array | null;
  resultAt: number;
  /** A request taken by watching its slot: its signal, still to come, is ignored once. */
  watched: number;
  /** The descriptors of the client's two channels (to see whether it still exists). */
  readonly descs: number[];
  /** Messages taken, and the count at the last sweep (an idle connection is probed). */
  calls: number;
  seen: number;
}

/** The server end: one process serving every connection to `rpc.<service>`. */
export class RpcServer {
  readonly service: string;
  readonly stats: RpcStats & { connections: number } = {
    calls: 0,
    retransmits: 0,
    badChecksums: 0,
    duplicates: 0,
    watched: 0,
    pieces: 0,
    connections: 0,
  };
  readonly #procedures: Map<number, Procedure>;
  readonly #segment: number;
  readonly #words: Int32Array;
  readonly #connections = new Map<string, Connection>();
  /** The connection served last: its next request is the likeliest. */
  #hot: Connection | null = null;
  #nextSweep = 0;
  readonly #encoder = new TextEncoder();

  /** Creates the well-known channel and exports it as `rpc.<service>`. */
  constructor(service: string, procedures: Record<number, Procedure> | Map<number, Procedure>) {
    this.service = service;
    this.#procedures = procedures instanceof Map
      ? procedures
      : new Map(Object.entries(procedures).map(([k, v]) => [Number(k), v]));
    this.#segment = CreateSegment(CONNECT_SLOTS * LINE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
    const base = bind(this.#segment);
    this.#words = view32(base, (CONNECT_SLOTS * LINE) / 4);
    SignalHandler(base, CONNECT_SLOTS * LINE, (addr) => this.#onConnect((addr - base) >> 2));
    try {
      exportSegment(this.#segment, `rpc.${service}`, Rights.READ | Rights.WRITE);
    } catch (e) {
      removeSignalHandler(base, CONNECT_SLOTS * LINE);
      release(this.#segment);
      throw e;
    }
  }

  /**
   * Serves calls until `stop()` returns true (checked after every wake-up). Calls
   * and connections are handled in signal handlers, so any SigWait serves them too.
   */
  serve(stop: () => boolean = () => false): void {
    while (!stop()) {
      const hot = this.#hot;
      if (hot && this.#watchNext(hot)) continue;
      if (SigWait(100) === 0) this.sweep(); // idle for 100 ms
    }
  }

  /**
   * Lets go of connections whose client is gone (it died without CLOSE, or its CLOSE
   * was lost): each connection idle since the last sweep is probed by attaching its
   * request channel again, which fails once the client's export has died with it.
   * serve() calls this when idle, at most once a second.
   */
  sweep(): void {
    const now = performance.now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1_000;
    for (const c of [...this.#connections.values()]) {
      if (c.calls !== c.seen) {
        c.seen = c.calls;
        continue;
      }
      try {
        attach(c.descs[0]);
      } catch (e) {
        if (e instanceof SysError && GONE.has(e.code)) this.#drop(c);
      }
    }
  }

  /**
   * While this process would spin anyway, watches the slot where the connection it
   * served last will put its next request (a caller that got its reply calls again
   * soon): that request's line arrives one transfer before its signal can be read.
   * Only that one slot is watched, never a scan of every client's channel; any
   * signal stops it. Returns true if it took a request.
   */
  #watchNext(c: Connection): boolean {
    const budget = spinBudgetUs();
    if (budget === 0 || !this.#connections.has(c.key)) return false;
    if (drainSignals() > 0 || this.#hot !== c) return true; // served something: look again
    const seq = nextSeq(c.lastSeq);
    const slot = seq % RPC_SLOTS;
    this.#next = c;
    this.#nextSeq = seq;
    this.#nextSlot = slot;
    this.#nextAt = trailerWord(slot) + T.SEQ;
    return spinFor(budget, this.#requestHere, signalPending);
  }

  /** The request #watchNext's spin watches for (made once: the spin allocates nothing). */
  #next: Connection | null = null;
  #nextSeq = 0;
  #nextSlot = 0;
  #nextAt = 0;
  readonly #requestHere = (): boolean => {
    const c = this.#next!, seq = this.#nextSeq;
    if (Atomics.load(c.reqWords, this.#nextAt) !== seq) return false;
    let taken = false;
    asHandler(() => taken = this.#onCall(c, this.#nextSlot, true));
    if (!taken) return false; // not all of it is here yet
    c.watched = seq;
    this.stats.watched++;
    return true;
  };

  /** A CONNECT line completed at word `at` of the well-known channel. */
  #onConnect(at: number): void {
    const w = this.#words;
    if (w[at + T.MAGIC] !== MAGIC || w[at + 4] !== RpcKind.CONNECT) return;
    try {
      this.#connect(w[at], w[at + 1], w[at + 2], w[at + 3]);
    } catch {
      // The client is gone or its names are not there yet: it will retransmit.
    }
  }

  #connect(nonce: number, node: number, pid: number, conn: number): void {
    const prefix = channelPrefix(node, pid, conn);
    let c = this.#connections.get(prefix);
    if (c && c.nonce !== nonce) {
      // A new client under the same names (its node restarted and reused the pid),
      // or a forged CONNECT: never two connections on one pair of channels.
      this.#drop(c);
      c = undefined;
    }
    if (!c) {
      const segments: number[] = [], descs: number[] = [];
      const open = (suffix: string, rights: number) => {
        const { desc } = importSegment(prefix + suffix, { hint: node });
        descs.push(desc);
        segments.push(attach(desc));
        return bind(segments[segments.length - 1], 0, rights);
      };
      let reqBase: number, repBase: number;
      try {
        reqBase = open("q", Rights.READ);
        repBase = open("r", Rights.READ | Rights.WRITE);
      } catch (e) {
        for (const id of segments) release(id);
        throw e;
      }
      const conn: Connection = {
        key: prefix,
        nonce,
        segments,
        reqBase,
        reqWords: view32(reqBase, CHANNEL_BYTES / 4),
        repBase,
        b: new Buffers(),
        lastSeq: 0,
        replyKind: 0,
        replyData: null,
        replyStub: 0,
        replyRest: 0,
        args: null,
        argsLen: 0,
        argsStub: 0,
        result: null,
        resultAt: 0,
        watched: 0,
        descs,
        calls: 0,
        seen: 0,
      };
      for (let s = 0; s < RPC_SLOTS; s++) {
        SignalHandler(reqBase + s * RPC_SLOT_BYTES, LINE, () => this.#onCall(conn, s));
      }
      this.#connections.set(prefix, conn);
      this.stats.connections++;
      c = conn;
    }
    send(c.repBase, c.b, RpcKind.ACCEPT, 0, nonce, EMPTY);
  }

  /**
   * Takes the message in slot `slot` of connection `c` (on its signal, or seen by
   * watching: then a message not yet whole is left for its signal). Returns true
   * if it was taken.
   */
  #onCall(c: Connection, slot: number, watching = false): boolean {
    const w = c.reqWords;
    const h = readTrailer(w, slot, c.b);
    const kind = h[T.KIND];
    if (!REQUESTS.has(kind)) return false;
    const seq = h[T.SEQ];
    if (!sequenceAfter(seq, c.lastSeq)) {
      if (watching) return false;
      if (seq === c.watched) {
        c.watched = 0; // the signal of a request taken by watching: expected, once
        return false;
      }
      // At most once: a retransmitted call gets the cached reply; older ones nothing.
      this.stats.duplicates++;
      if (seq === c.lastSeq && ANSWERED.has(kind) && c.replyData) {
        send(c.repBase, c.b, c.replyKind, seq, c.replyStub, c.replyData, c.replyRest);
      }
      return false;
    }
    const len = receive(w, slot, c.b);
    if (len < 0) {
      if (!watching) this.stats.badChecksums++;
      return false;
    }
    const stub = h[T.STUB];
    c.lastSeq = seq;
    c.calls++;
    switch (kind) {
      case RpcKind.CLOSE:
        this.#drop(c);
        return true;
      case RpcKind.PIECE:
        this.stats.pieces++;
        this.#gather(c, stub, c.b.inView(len), h[T.REST]);
        return true;
      case RpcKind.MORE:
        this.stats.pieces++;
        this.#nextPart(c, stub);
        return true;
    }
    this.#hot = c;
    this.stats.calls++;
    // The last part of a long call (at > 0) runs only after all the pieces before it.
    const at = h[T.REST];
    const whole = at === 0 || (c.args !== null && c.argsStub === stub && c.argsLen === at);
    const args = at === 0 ? c.b.inView(len) : whole ? this.#gathered(c, c.b.inView(len)) : EMPTY;
    c.args = null;
    const [replyKind, result] = whole
      ? this.#run(c, stub, at === 0 ? args : args.subarray(0, at + len))
      : this.#refusal(c, `stub ${stub}: the pieces before byte ${at} are missing`);
    if (kind === RpcKind.ONEWAY) {
      c.replyData = null;
      return true;
    }
    if (result.length <= RPC_MAX_PAYLOAD) {
      this.#answer(c, seq, replyKind, stub, result, 0);
    } else {
      c.result = result;
      c.resultAt = 0;
      this.#nextPart(c, stub);
    }
    return true;
  }

  /** Runs procedure `stub`; returns the reply's kind and bytes. */
  #run(c: Connection, stub: number, args: Uint8Array): [number, Uint8Array] {
    const proc = this.#procedures.get(stub);
    if (!proc) return [RpcKind.NOSTUB, EMPTY];
    try {
      const r = proc(args, c.b.out);
      if (r instanceof Uint8Array) {
        if (r.length > RPC_MAX_BYTES) {
          throw new SysError(Errno.EMSGSIZE, "rpc", `stub ${stub} returned ${r.length} bytes`);
        }
        return [
          RpcKind.REPLY,
          r.length <= RPC_MAX_PAYLOAD ? c.b.outView(copyOut(c, r)) : r.slice(),
        ];
      }
      if (!Number.isInteger(r) || r < 0 || r > RPC_MAX_PAYLOAD) {
        throw new SysError(Errno.EINVAL, "rpc", `stub ${stub} returned a length of ${r}`);
      }
      return [RpcKind.REPLY, c.b.outView(r)];
    } catch (e) {
      return this.#refusal(c, e instanceof Error ? e.message : String(e));
    }
  }

  /** Sends a reply to `seq` and keeps it for a retransmitted request. */
  #answer(c: Connection, seq: number, kind: number, stub: number, data: Uint8Array, rest: number) {
    c.replyKind = kind;
    c.replyData = data;
    c.replyStub = stub;
    c.replyRest = rest;
    send(c.repBase, c.b, kind, seq, stub, data, rest);
  }

  /** A PIECE of a long call's arguments at byte `at`: kept, and acknowledged by an empty REPLY. */
  #gather(c: Connection, stub: number, part: Uint8Array, at: number): void {
    if (at === 0) {
      c.args = new Uint8Array(4 * RPC_MAX_PAYLOAD);
      c.argsLen = 0;
      c.argsStub = stub;
    }
    let refused = "";
    if (!c.args || c.argsStub !== stub || c.argsLen !== at) {
      refused = `stub ${stub}: a piece at byte ${at} out of order`;
    } else if (at + part.length > RPC_MAX_BYTES) {
      refused = `stub ${stub}: arguments over ${RPC_MAX_BYTES} bytes`;
    }
    if (refused) {
      c.args = null;
      const [kind, text] = this.#refusal(c, refused);
      return this.#answer(c, c.lastSeq, kind, stub, text, 0);
    }
    c.args = this.#gathered(c, part);
    c.argsLen += part.length;
    this.#answer(c, c.lastSeq, RpcKind.REPLY, stub, EMPTY, 0);
  }

  /** A FAILED reply saying `why`, in the connection's reply buffer. */
  #refusal(c: Connection, why: string): [number, Uint8Array] {
    const text = this.#encoder.encode(why);
    const n = Math.min(text.length, RPC_MAX_PAYLOAD);
    c.b.out.set(text.subarray(0, n));
    return [RpcKind.FAILED, c.b.outView(n)];
  }

  /** c.args (grown if needed) with `part` written at c.argsLen, which is left unchanged. */
  #gathered(c: Connection, part: Uint8Array): Uint8Array {
    let buf = c.args!;
    const end = c.argsLen + part.length;
    if (end > buf.length) {
      const grown = new Uint8Array(Math.max(end, buf.length * 2));
      grown.set(buf.subarray(0, c.argsLen));
      buf = grown;
    }
    buf.set(part, c.argsLen);
    return buf;
  }

  /** Sends the next part of the long result (after its CALL, or on MORE). */
  #nextPart(c: Connection, stub: number): void {
    const r = c.result;
    if (!r || c.resultAt >= r.length) {
      const [kind, text] = this.#refusal(c, "no long result to continue");
      return this.#answer(c, c.lastSeq, kind, stub, text, 0);
    }
    const part = r.subarray(c.resultAt, c.resultAt + RPC_MAX_PAYLOAD);
    c.resultAt += part.length;
    const rest = r.length - c.resultAt;
    if (rest === 0) c.result = null;
    this.#answer(c, c.lastSeq, RpcKind.REPLY, stub, part, rest);
  }

  /** Lets a closed connection's channels go. */
  #drop(c: Connection): void {
    this.#connections.delete(c.key);
    if (this.#hot === c) this.#hot = null;
    removeSignalHandler(c.reqBase, CHANNEL_BYTES);
    for (const id of c.segments) release(id);
  }

  /** Connections open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Stops taking connections: the well-known channel is revoked and released. */
  close(): void {
    try {
      revoke(`rpc.${this.service}`);
    } catch { /* the clerk is gone */ }
    release(this.#segment);
  }
}

/**
 * A raw channel (001 §4: "a basic channel mechanism ... does not impose the
 * transport level overhead"): fixed-size records in a message segment, each
 * completed by the store of its last byte, with no checksum, acknowledgement or
 * retransmission. A record's last two words carry its sequence number and length,
 * so a receiver can see a gap; a lost or overwritten record is simply gone.
 *
 * A one-line record (the default) is all-or-none to a reader woken by its signal,
 * on this node and across nodes. A longer record in a
 * line-unit segment travels across nodes as one datagram per line, so under loss it
 * can arrive with some lines stale; use a page-unit segment with page-sized records
 * when records must be longer and whole.
 */
export class RawChannel {
  readonly base: number;
  readonly size: number;
  readonly recordBytes: number;
  readonly records: number;
  /** The segment's unit in bytes: where the signal of a record's completion arrives. */
  readonly #unit: number;
  #next = 0;
  readonly #buf: Uint8Array;
  readonly #words: Int32Array;

  /**
   * Uses the message segment bound at `base` (`size` bytes, unit `unit` as it was
   * created with), in records of `recordBytes`: a multiple of the unit.
   */
  constructor(base: number, size: number, recordBytes = LINE, unit: number = SegUnit.CACHE_LINE) {
    this.#unit = unit === SegUnit.PAGE ? PAGE_SIZE : LINE;
    if (recordBytes % this.#unit !== 0 || recordBytes === 0 || size % recordBytes !== 0) {
      throw new SysError(
        Errno.EINVAL,
        "RawChannel",
        `records of ${recordBytes} bytes in ${size}: a multiple of the unit, dividing the size`,
      );
    }
    this.base = base;
    this.size = size;
    this.recordBytes = recordBytes;
    this.records = size / recordBytes;
    this.#buf = new Uint8Array(recordBytes);
    this.#words = new Int32Array(this.#buf.buffer);
  }

  /** The largest record payload. */
  get maxPayload(): number {
    return this.recordBytes - 8;
  }

  /** Sends `data` as the next record (wrapping around). */
  send(data: Uint8Array): void {
    if (data.length > this.maxPayload) {
      throw new SysError(
        Errno.EMSGSIZE,
        "RawChannel.send",
        `${data.length} bytes exceed ${this.maxPayload}`,
      );
    }
    const seq = this.#next++;
    this.#buf.fill(0);
    this.#buf.set(data);
    const n = this.recordBytes / 4;
    this.#words[n - 2] = seq;
    this.#words[n - 1] = data.length;
    write(this.base + (seq % this.records) * this.recordBytes, this.#buf);
  }

  /**
   * Calls `fn(data, seq)` for every record completed in the channel. `data` aliases
   * the channel: copy it to keep it. A record is taken on the signal of its last unit.
   */
  listen(fn: (data: Uint8Array, seq: number) => void): void {
    const words = view32(this.base, this.size / 4);
    const bytes = new Uint8Array(words.buffer, words.byteOffset, this.size);
    const rb = this.recordBytes, unit = this.#unit;
    SignalHandler(this.base, this.size, (addr) => {
      const off = addr - this.base;
      const at = off - (off % rb);
      if (off !== at + rb - unit) return; // a unit inside the record, not its last
      const end = (at + rb) >> 2;
      const len = words[end - 1];
      if (len < 0 || len > this.maxPayload) return;
      fn(bytes.subarray(at, at + len), words[end - 2]);
    });
  }
}
