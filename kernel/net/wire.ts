/**
 * The wire format: one frame layout for in-process links and TCP alike. Versioned,
 * length-framed, checksummed; every field named (STYLE: snapshots and formats).
 *
 *   offset  size  field
 *   0       2     magic 0x4D52 ("RM", little-endian)
 *   2       1     version (2: posted WRITEs)
 *   3       1     type (FrameType)
 *   4       4     length of the whole frame, checksum included
 *   8       2     source node          10  2  destination node
 *   12      4     source pid (the issuer; 0 for the kernel)
 *   16      4     sequence (the issuer's request id, echoed in replies)
 *   20      4     export id at the owner (the remote segment)
 *   24      4     generation, high word  28  4  generation, low word
 *   32      4     offset in the segment  36  4  count (bytes)
 *   40      4     flags (FrameFlag)
 *   44      4     arg0 (CAS old value; error code in a NACK; owner node in a UNIT;
 *                       mode in a JOIN reply)
 *   48      4     arg1 (CAS new value; CAS result in a reply; unit in a JOIN reply;
 *                       the issuer's pid in the NACK of a posted WRITE)
 *   52      …     payload (WRITE data, READ_REPLY data, control bodies)
 *   end-4   4     CRC-32 of everything before it
 *
 * `decodeFrame` checks everything a receiver relies on (magic, version, type,
 * length, checksum, payload size for the type) and returns a typed reason for the
 * first thing wrong, so a malformed frame is dropped with a logged reason and never
 * reaches a handler.
 */

import { crc32 } from "./crc32.ts";

/** Stores a little-endian 32-bit word. */
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Loads a little-endian unsigned 32-bit word. */
function get32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export const WIRE_MAGIC = 0x4d52;
/** 2 since posted WRITEs: a version-1 kernel would answer them and lose their refusals. */
export const WIRE_VERSION = 2;
export const HEADER_BYTES = 52;
export const CHECKSUM_BYTES = 4;
/** The largest payload: a 64 KiB block. */
export const MAX_PAYLOAD = 64 * 1024;
export const MAX_FRAME = HEADER_BYTES + MAX_PAYLOAD + CHECKSUM_BYTES;

export const FrameType = {
  WRITE: 1,
  READ: 2,
  CAS: 3,
  /** A request completed; for READ the data is the payload, for CAS arg1 is the result. */
  REPLY: 4,
  /** A request failed at the owner; arg0 is the error code. */
  NACK: 5,
  /** Control frames between kernels (hello, heartbeat): the payload is a small body. */
  CONTROL: 6,
  /**
   * A node binds a message segment that lives on the owner (001 §3.2.3): answered by
   * REPLY (arg0 = the segment's mode, arg1 = its unit) or NACK.
   */
  JOIN: 7,
  /**
   * One completed message unit, best effort, never answered: offset and count name
   * the unit, arg0 is the owner's node, export id and generation name the segment.
   */
  UNIT: 8,
  /** A node no longer binds the segment (its replica was freed): never answered. */
  LEAVE: 9,
} as const;
const TYPES = new Set<number>(Object.values(FrameType));

export const FrameFlag = {
  /** The request's notify bit (000 §3.1.1). */
  NOTIFY: 1,
  /**
   * A posted WRITE (a PIO store, 002 §2): the owner answers only a refusal, with a
   * NACK carrying this flag and the issuer's pid in arg1; success sends nothing back.
   */
  POSTED: 2,
} as const;

/** A decoded frame. `payload` aliases the frame's bytes. */
export interface Frame {
  type: number;
  srcNode: number;
  dstNode: number;
  srcPid: number;
  seq: number;
  exportId: number;
  genHi: number;
  genLo: number;
  offset: number;
  count: number;
  flags: number;
  arg0: number;
  arg1: number;
  payload: Uint8Array;
}

const NO_PAYLOAD = new Uint8Array(0);

/** Returns a zeroed frame record to fill and encode. */
export function emptyFrame(): Frame {
  return {
    type: 0,
    srcNode: 0,
    dstNode: 0,
    srcPid: 0,
    seq: 0,
    exportId: 0,
    genHi: 0,
    genLo: 0,
    offset: 0,
    count: 0,
    flags: 0,
    arg0: 0,
    arg1: 0,
    payload: NO_PAYLOAD,
  };
}

/**
 * Frames are carved from slabs, never reused: allocating a small typed array costs
 * V8 a malloc (about 0.3 µs, more than encoding the frame), taking a slice of a
 * slab a few nanoseconds. A frame keeps its slab alive, so a frame still queued or
 * being written to a socket is never overwritten; a full slab is simply replaced.
 */
const SLAB_BYTES = 256 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

function frameBytes(length: number): Uint8Array {
  if (length > SLAB_BYTES / 8) return new Uint8Array(length);
  if (slabUsed + length > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const b = slab.subarray(slabUsed, slabUsed + length);
  slabUsed += (length + 7) & ~7;
  return b;
}

/** Encodes a frame into new bytes of its own (length from its payload). */
export function encodeFrame(f: Frame): Uint8Array {
  if (f.payload.length > MAX_PAYLOAD) {
    throw new RangeError(`payload of ${f.payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  }
  const length = HEADER_BYTES + f.payload.length + CHECKSUM_BYTES;
  const b = frameBytes(length); // the fields go in byte by byte
  put32(b, 0, WIRE_MAGIC | (WIRE_VERSION << 16) | (f.type << 24));
  put32(b, 4, length);
  put32(b, 8, (f.srcNode & 0xffff) | (f.dstNode << 16));
  put32(b, 12, f.srcPid);
  put32(b, 16, f.seq);
  put32(b, 20, f.exportId);
  put32(b, 24, f.genHi);
  put32(b, 28, f.genLo);
  put32(b, 32, f.offset);
  put32(b, 36, f.count);
  put32(b, 40, f.flags);
  put32(b, 44, f.arg0);
  put32(b, 48, f.arg1);
  if (f.payload.length) b.set(f.payload, HEADER_BYTES);
  put32(b, length - CHECKSUM_BYTES, crc32(b, 0, length - CHECKSUM_BYTES));
  return b;
}

/** Why a frame was rejected. */
export type WireError =
  | "short"
  | "bad-magic"
  | "bad-version"
  | "bad-length"
  | "bad-checksum"
  | "bad-type"
  | "bad-payload";

/** Decodes and validates one whole frame; returns the frame or why it is bad. */
export function decodeFrame(bytes: Uint8Array): Frame | WireError {
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) return "short";
  const b = bytes;
  if ((b[0] | (b[1] << 8)) !== WIRE_MAGIC) return "bad-magic";
  if (b[2] !== WIRE_VERSION) return "bad-version";
  const length = get32(b, 4);
  if (length !== b.length || length > MAX_FRAME) return "bad-length";
  if (crc32(b, 0, length - CHECKSUM_BYTES) !== get32(b, length - CHECKSUM_BYTES)) {
    return "bad-checksum";
  }
  const type = b[3];
  if (!TYPES.has(type)) return "bad-type";
  const payload = b.subarray(HEADER_BYTES, length - CHECKSUM_BYTES);
  const count = get32(b, 36);
  if ((type === FrameType.WRITE || type === FrameType.UNIT) && payload.length !== count) {
    return "bad-payload";
  }
  if (
    (type === FrameType.READ || type === FrameType.CAS || type === FrameType.JOIN ||
      type === FrameType.LEAVE) &&
    payload.length !== 0
  ) {
    return "bad-payload";
  }
  return {
    type,
    srcNode: b[8] | (b[9] << 8),
    dstNode: b[10] | (b[11] << 8),
    srcPid: get32(b, 12),
    seq: get32(b, 16),
    exportId: get32(b, 20),
    genHi: get32(b, 24),
    genLo: get32(b, 28),
    offset: get32(b, 32),
    count,
    flags: get32(b, 40),
    arg0: get32(b, 44),
    arg1: get32(b, 48),
    payload,
  };
}

/**
 * Splits a byte stream (TCP) into frames: feed chunks, take whole frames. A length
 * that can never be valid is reported so the connection can be dropped.
 */
export class FrameReader {
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;

  /** Appends received bytes (the buffer grows by doubling: no quadratic copying). */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.#end - this.#start;
      let size = this.#buf.length;
      while (size < live + chunk.length) size *= 2;
      const next = size === this.#buf.length ? this.#buf : new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next whole frame's bytes, null if incomplete, or "bad-length" for a length
   * that can never be valid (or exceeds `maxLength`, as before authentication).
   */
  next(maxLength = MAX_FRAME): Uint8Array | null | "bad-length" {
    if (this.#end - this.#start < 8) return null;
    const length = get32(this.#buf, this.#start + 4);
    if (length < HEADER_BYTES + CHECKSUM_BYTES || length > maxLength) return "bad-length";
    if (this.#end - this.#start < length) return null;
    const frame = this.#buf.slice(this.#start, this.#start + length);
    this.#start += length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frame;
  }
}
