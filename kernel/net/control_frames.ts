/**
 * Control frames: what two kernels say to each other before they trust each other
 * (the TCP transport's handshake). The body under the outer header (wire.ts):
 *
 *   offset  size  field (after the outer header's 12 bytes)
 *   12      4     kind (the transport's: HELLO, AUTH, …)
 *   16      …     the kind's bytes (a nonce, a MAC)
 */

import {
  CHECKSUM_BYTES,
  frameSource,
  FrameType,
  frameType,
  get32,
  newFrame,
  OUTER_HEADER_BYTES,
  put32,
  sealFrame,
  type WireError,
} from "./wire.ts";

const KIND_BYTES = 4;

/** A decoded control frame; `body` aliases the frame's bytes. */
export interface ControlFrame {
  srcNode: number;
  kind: number;
  body: Uint8Array;
}

/** Builds a control frame from `src` to `dst` (the only place its body is written). */
export function buildControl(src: number, dst: number, kind: number, body: Uint8Array): Uint8Array {
  const b = newFrame(FrameType.CONTROL, src, dst, KIND_BYTES + body.length);
  put32(b, OUTER_HEADER_BYTES, kind);
  b.set(body, OUTER_HEADER_BYTES + KIND_BYTES);
  return sealFrame(b);
}

/** Reads a checked frame as a control frame. */
export function decodeControl(b: Uint8Array): ControlFrame | WireError {
  if (frameType(b) !== FrameType.CONTROL) return "bad-type";
  if (b.length < OUTER_HEADER_BYTES + KIND_BYTES + CHECKSUM_BYTES) return "short";
  return {
    srcNode: frameSource(b),
    kind: get32(b, OUTER_HEADER_BYTES),
    body: b.subarray(OUTER_HEADER_BYTES + KIND_BYTES, b.length - CHECKSUM_BYTES),
  };
}
