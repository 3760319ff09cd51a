/**
 * The trap page's data area: UTF-8 text in and out of a trap, with DATA_LEN giving
 * its length. The dispatcher has already checked DATA_LEN for calls that read it.
 */

import { DATA_BYTES, DATA_OFFSET, Trap } from "../abi/layout.ts";
import { fail } from "../panic.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Reads the data area as UTF-8; fails with EINVAL on a bad length or encoding. */
export function readDataString(trap: Int32Array): string {
  const len = trap[Trap.DATA_LEN];
  if (len < 0 || len > DATA_BYTES) fail("EINVAL", `data length ${len}`);
  try {
    return decoder.decode(new Uint8Array(trap.buffer, DATA_OFFSET, len).slice());
  } catch {
    fail("EINVAL", "data area is not valid UTF-8");
  }
}

/** Writes as much of `text` as fits; returns bytes written and characters consumed. */
export function writeDataPrefix(trap: Int32Array, text: string): { written: number; read: number } {
  const r = encoder.encodeInto(text, new Uint8Array(trap.buffer, DATA_OFFSET, DATA_BYTES));
  trap[Trap.DATA_LEN] = r.written;
  return r;
}

/** Writes bytes [offset, offset+DATA_BYTES) of `bytes`; returns how many it wrote. */
export function writeDataChunk(trap: Int32Array, bytes: Uint8Array, offset: number): number {
  const n = Math.max(0, Math.min(DATA_BYTES, bytes.length - offset));
  new Uint8Array(trap.buffer, DATA_OFFSET, DATA_BYTES).set(bytes.subarray(offset, offset + n));
  trap[Trap.DATA_LEN] = n;
  return n;
}
