/**
 * Memory frames: the body that remote memory (WRITE, READ, CAS and their REPLY or
 * NACK, JOIN) and message channels (UNIT, LEAVE) put under the wire's outer header
 * (kernel/net/wire.ts). One layout for all of them, fields named by what the
 * request means at the owner:
 *
 *   offset  size  field (after the outer header's 12 bytes)
 *   12      4     source pid (the issuer; 0 for the kernel; in a REPLY the
 *                       export's owner)
 *   16      4     sequence (the issuer's request id, echoed in replies)
 *   20      4     export id at the owner (the remote segment)
 *   24      4     generation, high word  28  4  generation, low word
 *   32      4     offset in the segment  36  4  count (bytes)
 *   40      4     flags (FrameFlag)
 *   44      4     arg0 (CAS old value; error code in a NACK; owner node in a UNIT;
 *                       mode in a JOIN reply)
 *   48      4     arg1 (CAS new value; CAS result in a reply; unit in a JOIN reply;
 *                       the issuer's pid in the NACK of a posted WRITE)
 *   52      …     payload (WRITE data, READ_REPLY data, a UNIT's bytes)
 *
 * `buildFrame` is the one builder of these bodies; `decodeBody` the one reader,
 * which checks the payload against the type (a WRITE or UNIT carries exactly
 * `count` bytes; READ, CAS, JOIN and LEAVE carry none).
 */

import {
  checkFrame,
  frameDestination,
  frameSource,
  FrameType,
  frameType,
  get32,
  newFrame,
  OUTER_HEADER_BYTES,
  put32,
  sealFrame,
  type WireError,
} from "../net/wire.ts";

/** The outer header and the memory fields: where a memory frame's payload starts. */
export const HEADER_BYTES = 52;
const BODY_FIELDS = HEADER_BYTES - OUTER_HEADER_BYTES;
/** The largest payload: a 64 KiB block. */
export const MAX_PAYLOAD = 64 * 1024;

export const FrameFlag = {
  /** The request's notify bit (000 §3.1.1). */
  NOTIFY: 1,
  /**
   * A posted WRITE (a PIO store, 002 §2): the owner answers only a refusal, with a
   * NACK carrying this flag and the issuer's pid in arg1; success sends nothing back.
   */
  POSTED: 2,
} as const;

/** The frame types whose body is a memory body. */
const MEMORY_TYPES = [
  FrameType.WRITE,
  FrameType.READ,
  FrameType.CAS,
  FrameType.REPLY,
  FrameType.NACK,
  FrameType.JOIN,
  FrameType.UNIT,
  FrameType.LEAVE,
] as const;

/** A decoded memory frame. `payload` aliases the frame's bytes. */
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

/** Builds the bytes of one memory frame (the only place its body is written). */
export function buildFrame(
  type: number,
  src: number,
  dst: number,
  srcPid: number,
  seq: number,
  exportId: number,
  genHi: number,
  genLo: number,
  offset: number,
  count: number,
  flags: number,
  arg0: number,
  arg1: number,
  payload: Uint8Array | undefined,
): Uint8Array {
  const n = payload ? payload.length : 0;
  if (n > MAX_PAYLOAD) throw new RangeError(`payload of ${n} bytes exceeds ${MAX_PAYLOAD}`);
  const b = newFrame(type, src, dst, BODY_FIELDS + n);
  put32(b, 12, srcPid);
  put32(b, 16, seq);
  put32(b, 20, exportId);
  put32(b, 24, genHi);
  put32(b, 28, genLo);
  put32(b, 32, offset);
  put32(b, 36, count);
  put32(b, 40, flags);
  put32(b, 44, arg0);
  put32(b, 48, arg1);
  if (n) b.set(payload!, HEADER_BYTES);
  return sealFrame(b);
}

/** Encodes a frame record (tests and tools; the kernel calls `buildFrame`). */
export function encodeFrame(f: Frame): Uint8Array {
  return buildFrame(
    f.type,
    f.srcNode,
    f.dstNode,
    f.srcPid,
    f.seq,
    f.exportId,
    f.genHi,
    f.genLo,
    f.offset,
    f.count,
    f.flags,
    f.arg0,
    f.arg1,
    f.payload,
  );
}

/** Reads the memory body of a frame whose outer header was checked. */
export function decodeBody(b: Uint8Array): Frame | WireError {
  if (b.length < HEADER_BYTES + 4) return "short";
  const type = frameType(b);
  const payload = b.subarray(HEADER_BYTES, b.length - 4);
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
    srcNode: frameSource(b),
    dstNode: frameDestination(b),
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

/** Checks and decodes one whole memory frame; the frame or why it is bad. */
export function decodeFrame(b: Uint8Array): Frame | WireError {
  const bad = checkFrame(b);
  if (bad) return bad;
  if (!(MEMORY_TYPES as readonly number[]).includes(frameType(b))) return "bad-type";
  return decodeBody(b);
}
