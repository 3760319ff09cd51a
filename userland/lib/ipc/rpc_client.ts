/**
 * RPC's client end (see rpc.ts for the protocol).
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { Rights, SegMode, SegUnit } from "../../../kernel/abi/layout.ts";
import { attach, bind, CreateSegment, release } from "../sys/memory.ts";
import { view32, write } from "../rt/mmu.ts";
import { getpid } from "../sys/process.ts";
import { exportSegment, importSegment, nodeId, revoke } from "../sys/remote.ts";
import {
  drainSignals,
  inSignalHandler,
  removeSignalHandler,
  SignalHandler,
  signalPending,
  SigWait,
  waitInHandler,
} from "../rt/signals.ts";
import { spin, SpinPolicy } from "../rt/spin.ts";
import {
  Buffers,
  CHANNEL_BYTES,
  channelPrefix,
  CONNECT_SLOTS,
  EMPTY,
  LINE,
  MAGIC,
  nextSeq,
  readTrailer,
  receive,
  RPC_MAX_BYTES,
  RPC_MAX_PAYLOAD,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  RpcKind,
  RpcOptions,
  RpcStats,
  send,
  sequenceAfter,
  T,
  trailerWord,
} from "./_rpc_wire.ts";

let nextConnection = 1;

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
   * While a reply is due, spins a moment watching the reply slot's trailer: the
   * reply's own cache line arrives one transfer before its signal's FIFO entry
   * could be read. A message seen there is taken only if its checksum holds (it may
   * be seen half-written); the signal still arrives and is then ignored. Stops at
   * the connection's spin (#spin), or as soon as any signal is pending; then the
   * wait blocks in SigWait after its counted spin alone.
   *
   * The spin is this connection's, "success" adapted (spin.ts): kept while it
   * catches replies, gone (but for a look every 16th call) once they come later
   * than it lasts. Not SigWait's "wake" spin: that one grows to 1 ms whenever the
   * peer's answers come within 4 ms of blocking, so a client of a server that calls
   * out (a file clerk forwarding to the file server on another node, 100–300 µs a
   * call) spun through every call, on one of two cores, while the server and the
   * kernel's thread that carry its answer waited for the other: measured, 340 µs a
   * call against 190 blocking (clerk-dx 105 against 60 µs), while a server that
   * answers at once is caught by the counted spin as before.
   */
  #watch(seq: number): void {
    const p = this.#spin;
    if (!p.on || inSignalHandler()) return;
    drainSignals(); // the last reply's signal, most likely: out of the way first
    if (this.#replied) return;
    const us = p.budget();
    if (us <= 0) return;
    this.#watchSeq = seq;
    const start = performance.now(), until = start + us / 1000;
    do {
      for (let i = 256; i > 0; i--) {
        if (this.#replyHere()) return p.hit((performance.now() - start) * 1000);
      }
      if (signalPending()) return; // its signal, or another's: SigWait takes it
    } while (performance.now() < until);
    p.missed();
  }

  /** How long this connection's watch spins (see #watch). */
  readonly #spin = new SpinPolicy(spin.kernel.count, {
    floorUs: 15,
    maxUs: 60,
    adapt: "success",
    counted: false,
  });

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
   * another server) signals cannot run, so the reply is taken from its slot
   * instead, the wait blocking on the FIFO that its signal arrives in
   * (waitInHandler); the signal, and any other, runs after the handler.
   */
  #await(seq: number, ms: number): void {
    if (!inSignalHandler()) {
      SigWait(ms, false);
      return;
    }
    this.#watchSeq = seq;
    waitInHandler(this.#answerHere, ms);
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
