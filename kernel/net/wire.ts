/**
 * The wire: one versioned outer header for in-process links and TCP alike, and a
 * body that belongs to the protocol the frame's type names. Length-framed and
 * checksummed; every field named (STYLE: snapshots and formats).
 *
 *   offset  size  field
 *   0       2     magic 0x4D52 ("RM", little-endian)
 *   2       1     version (3: per-protocol bodies)
 *   3       1     type (FrameType: whose body follows)
 *   4       4     length of the whole frame, checksum included
 *   8       2     source node          10  2  destination node
 *   12      …     body, laid out by the type's protocol:
 *                   memory frames  kernel/remote/memory_frames.ts
 *                   control frames kernel/net/control_frames.ts
 *   end-4   4     CRC-32 of everything before it
 *
 * `checkFrame` checks what every receiver relies on (magic, version, length,
 * checksum) and returns a typed reason for the first thing wrong; the protocol's
 * body decoder then checks its own fields, so a malformed frame is dropped with a
 * logged reason and never reaches a handler. A protocol takes a type number in
 * `FrameType`, writes its body with `newFrame` and `sealFrame`, and registers its
 * decoder and receiver with the node's network interface (nic.ts): a new kind of
 * frame is a new file and a line here, not a case in a switch.
 */

import { crc32 } from "./crc32.ts";

/** Stores a little-endian 32-bit word. */
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Loads a little-endian unsigned 32-bit word. */
export function get32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export const WIRE_MAGIC = 0x4d52;
/**
 * 4 since the TCP handshake names incarnations and admits links (AUTH grew; ADMIT,
 * REFUSE, PING, PONG); 3 made bodies per protocol (control frames lost the memory
 * fields); 2 was posted WRITEs: a version-1 kernel would answer them and lose their
 * refusals.
 */
export const WIRE_VERSION = 4;
/** The outer header: magic, version, type, length, source and destination. */
export const OUTER_HEADER_BYTES = 12;
export const CHECKSUM_BYTES = 4;
/** The largest frame of any type: a 64 KiB block under the memory header. */
export const MAX_FRAME = 52 + 64 * 1024 + CHECKSUM_BYTES;

/**
 * The frame types, one per kind of body; each is owned by one protocol, which
 * registers for it (a second registration of a type is refused).
 */
export const FrameType = {
  // Remote memory (kernel/remote/remote_memory.ts), memory bodies.
  WRITE: 1,
  READ: 2,
  CAS: 3,
  /** A request completed; for READ the data is the payload, for CAS arg1 is the result. */
  REPLY: 4,
  /** A request failed at the owner; arg0 is the error code. */
  NACK: 5,
  /** Between kernels before they trust each other (the TCP handshake): control bodies. */
  CONTROL: 6,
  /**
   * A node binds a message segment that lives on the owner (001 §3.2.3): answered by
   * REPLY (arg0 = the segment's mode, arg1 = its unit) or NACK. Memory body.
   */
  JOIN: 7,
  // Message channels (kernel/remote/message_channels.ts), memory bodies.
  /**
   * One completed message unit, best effort, never answered: offset and count name
   * the unit, arg0 is the owner's node, export id and generation name the segment.
   */
  UNIT: 8,
  /** A node no longer binds the segment (its replica was freed): never answered. */
  LEAVE: 9,
} as const;
/** Types this version knows: one nobody here registered for is ignored, not malformed. */
export const KNOWN_TYPES: ReadonlySet<number> = new Set<number>(Object.values(FrameType));

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

/**
 * New frame bytes with the outer header written and room for `bodyBytes` of body
 * at OUTER_HEADER_BYTES; the protocol fills its body, then calls `sealFrame`.
 */
export function newFrame(type: number, src: number, dst: number, bodyBytes: number): Uint8Array {
  const length = OUTER_HEADER_BYTES + bodyBytes + CHECKSUM_BYTES;
  if (length > MAX_FRAME) throw new RangeError(`a frame of ${length} bytes exceeds ${MAX_FRAME}`);
  const b = frameBytes(length); // the fields go in byte by byte
  put32(b, 0, WIRE_MAGIC | (WIRE_VERSION << 16) | (type << 24));
  put32(b, 4, length);
  put32(b, 8, (src & 0xffff) | (dst << 16));
  return b;
}

/** Writes the checksum of a filled frame; returns it. */
export function sealFrame(b: Uint8Array): Uint8Array {
  put32(b, b.length - CHECKSUM_BYTES, crc32(b, 0, b.length - CHECKSUM_BYTES));
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

/** Checks the outer header and checksum of one whole frame; null if they hold. */
export function checkFrame(b: Uint8Array): WireError | null {
  if (b.length < OUTER_HEADER_BYTES + CHECKSUM_BYTES) return "short";
  if ((b[0] | (b[1] << 8)) !== WIRE_MAGIC) return "bad-magic";
  if (b[2] !== WIRE_VERSION) return "bad-version";
  const length = get32(b, 4);
  if (length !== b.length || length > MAX_FRAME) return "bad-length";
  if (crc32(b, 0, length - CHECKSUM_BYTES) !== get32(b, length - CHECKSUM_BYTES)) {
    return "bad-checksum";
  }
  return null;
}

/** The type of a checked frame. */
export const frameType = (b: Uint8Array): number => b[3];
/** The source node of a checked frame. */
export const frameSource = (b: Uint8Array): number => b[8] | (b[9] << 8);
/** The destination node of a checked frame. */
export const frameDestination = (b: Uint8Array): number => b[10] | (b[11] << 8);
/** The body of a checked frame (aliases its bytes). */
export const frameBody = (b: Uint8Array): Uint8Array =>
  b.subarray(OUTER_HEADER_BYTES, b.length - CHECKSUM_BYTES);

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
    if (length < OUTER_HEADER_BYTES + CHECKSUM_BYTES || length > maxLength) return "bad-length";
    if (this.#end - this.#start < length) return null;
    const frame = this.#buf.slice(this.#start, this.#start + length);
    this.#start += length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frame;
  }
}
