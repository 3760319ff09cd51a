/**
 * RPC's wire (see rpc.ts): the slot layout and trailer, message kinds, the
 * checksummed copy, and sending and receiving one message in a slot.
 */

import { CACHE_LINE_SIZE, PAGE_SIZE } from "../../../kernel/abi/layout.ts";
import { write } from "../rt/mmu.ts";

export const LINE = CACHE_LINE_SIZE;
/** Message slots per channel. */
export const RPC_SLOTS = 4;
export const MAGIC = 0x3143_5052; // "RPC1"
/** Trailer words. */
export const T = { SEQ: 0, STUB: 1, LEN: 2, SUM: 3, KIND: 4, REST: 5, MAGIC: 7 } as const;
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
export const CONNECT_SLOTS = 64;

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
 * message goes in pieces). `caller` says who called.
 */
export type Procedure = (
  args: Uint8Array,
  reply: Uint8Array,
  caller: RpcCaller,
) => number | Uint8Array;

/**
 * Who made a call: the node and pid of the client whose channels it came on (its
 * own exports, which only it can write: a caller cannot pass for another process).
 */
export interface RpcCaller {
  readonly node: number;
  readonly pid: number;
}

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
export const CHANNEL_BYTES = RPC_SLOTS * RPC_SLOT_BYTES;
export const TRAILER = RPC_SLOT_BYTES - LINE;

export function seedOf(kind: number, seq: number, stub: number, len: number, rest: number): number {
  return Math.imul(seq ^ MAGIC, 0x85eb_ca6b) ^ Math.imul((stub + (len << 8)) ^ kind, 0xc2b2_ae35) ^
    Math.imul(rest, 0x27d4_eb2d);
}

/** A Fletcher-style sum of `words` words of `src` from `at`, copying them to `dst` if given. */
export function copySum(
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
export class Buffers {
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
export function send(
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
export function receive(w: Int32Array, slot: number, b: Buffers): number {
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
export function readTrailer(w: Int32Array, slot: number, b: Buffers): Int32Array {
  const t = trailerWord(slot);
  const h = b.header;
  for (let i = 0; i < 8; i++) h[i] = w[t + i];
  return h;
}

/** The word index of slot `slot`'s trailer in a channel. */
export function trailerWord(slot: number): number {
  return (slot * RPC_SLOT_BYTES + TRAILER) >> 2;
}

/** The 31-bit sequence number after `seq` (0 is never used). */
export function nextSeq(seq: number): number {
  return ((seq + 1) & 0x7fff_ffff) || 1;
}

/** True if 31-bit sequence number `a` comes after `b` (serial-number arithmetic). */
export function sequenceAfter(a: number, b: number): boolean {
  return (((a - b) << 1) | 0) > 0;
}

export const EMPTY = new Uint8Array(0);
/** What a server takes from a request channel, and which of those it answers. */
export const REQUESTS = new Set<number>([
  RpcKind.CALL,
  RpcKind.ONEWAY,
  RpcKind.CLOSE,
  RpcKind.PIECE,
  RpcKind.MORE,
]);
export const ANSWERED = new Set<number>([RpcKind.CALL, RpcKind.PIECE, RpcKind.MORE]);

/** Copies a short result into the connection's reply buffer; returns its length. */
export function copyOut(c: { b: Buffers }, r: Uint8Array): number {
  if (r !== c.b.out) c.b.out.set(r);
  return r.length;
}
/**
 * What attach says when a client's channel is gone. Not EHOSTDOWN: a node that
 * looks down (a loss spike) may be up again a moment later, its connections whole;
 * one that restarted comes back with a new incarnation, and its old names ESTALE.
 */
export const GONE = new Set(["ESTALE", "ENOENT"]);

/** The names a client exports its two channels under (+ "q" and "r"): at most 32 bytes. */
export function channelPrefix(node: number, pid: number, conn: number): string {
  return `rpc.${node}.${pid.toString(36)}.${conn.toString(36)}`;
}
