/**
 * RPC's server end (see rpc.ts for the protocol).
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { Rights, SegMode, SegUnit } from "../../../kernel/abi/layout.ts";
import { attach, bind, CreateSegment, release } from "../sys/memory.ts";
import { view32 } from "../rt/mmu.ts";
import { closeDescriptor, exportSegment, importSegment, revoke } from "../sys/remote.ts";
import { info } from "../sys/process.ts";
import {
  asHandler,
  drainSignals,
  removeSignalHandler,
  SignalHandler,
  signalPending,
  SigWait,
  spinBudgetUs,
} from "../rt/signals.ts";
import { spinFor } from "../rt/spin.ts";
import {
  ANSWERED,
  Buffers,
  CHANNEL_BYTES,
  channelPrefix,
  CONNECT_SLOTS,
  copyOut,
  EMPTY,
  GONE,
  LINE,
  MAGIC,
  nextSeq,
  Procedure,
  readTrailer,
  receive,
  REQUESTS,
  RPC_MAX_BYTES,
  RPC_MAX_PAYLOAD,
  RPC_SLOT_BYTES,
  RPC_SLOTS,
  type RpcCaller,
  RpcKind,
  RpcStats,
  send,
  sequenceAfter,
  T,
  trailerWord,
} from "./_rpc_wire.ts";

interface Connection {
  readonly key: string;
  readonly nonce: number;
  /** The client's node and pid (its channels' names say so, and only it writes them). */
  readonly caller: RpcCaller;
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

/** Whether the descriptors `descs` name exports of process `pid` on node `node`. */
function ownedBy(descs: number[], node: number, pid: number): boolean {
  const rows: { desc: number; node: number; owner: number }[] = info("descriptors");
  return descs.every((d) => rows.some((r) => r.desc === d && r.node === node && r.owner === pid));
}

/** The server end: one process serving every connection to `rpc.<service>`. */
export class RpcServer {
  readonly service: string;
  /** `forged`: CONNECTs ignored because their channels were not the claimed client's. */
  readonly stats: RpcStats & { connections: number; forged: number } = {
    calls: 0,
    retransmits: 0,
    badChecksums: 0,
    duplicates: 0,
    watched: 0,
    pieces: 0,
    connections: 0,
    forged: 0,
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
      const undo = () => {
        for (const id of segments) release(id);
        for (const d of descs) closeDescriptor(d);
      };
      try {
        reqBase = open("q", Rights.READ);
        repBase = open("r", Rights.READ | Rights.WRITE);
      } catch (e) {
        undo();
        throw e;
      }
      // The channels must be the claimed client's own exports, on its node (the
      // kernel learnt their owner at attach): otherwise the CONNECT is forged, by a
      // process that exported channels under another's names to call as that one
      // (`caller`), and it is ignored.
      if (!ownedBy(descs, node, pid)) {
        undo();
        this.stats.forged++;
        return;
      }
      const conn: Connection = {
        key: prefix,
        nonce,
        caller: { node, pid },
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
      const r = proc(args, c.b.out, c.caller);
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
