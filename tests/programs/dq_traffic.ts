/**
 * The traffic the queue and stream test programs (dq_node.ts, loss_dq.ts) send and
 * check: message i of a queue carries i, then 0xAA up to its length, 4 + i mod
 * (BYTES − 3), the rest of its slot zero; byte i of a stream is i·7 mod 251.
 */

import type {
  QueueReceiver,
  QueueSender,
  StreamReceiver,
  StreamSender,
} from "../../userland/lib/ipc/dqueue.ts";

export const byteAt = (i: number) => (i * 7) % 251;
/** Message i's length: its 4-byte index, then some bytes of 0xAA. */
export const lengthOf = (i: number, bytes: number) => 4 + (i % (bytes - 3));

/** Takes `n` messages: how many came, in order, twice, never, and whether each was padded. */
export function takeMessages(q: QueueReceiver, n: number, bytes: number) {
  let got = 0, inOrder = 0, dupes = 0, last = -1, padded = true;
  const seen = new Uint8Array(n);
  while (got < n) {
    const m = q.receive(20_000);
    if (!m) throw new Error(`timed out after ${got} messages`);
    const i = new DataView(m.buffer).getUint32(0, true);
    if (i >= n || seen[i]) dupes++;
    else seen[i] = 1;
    if (i === last + 1) inOrder++;
    const len = lengthOf(i, bytes);
    for (let k = 4; k < bytes; k++) if (m[k] !== (k < len ? 0xaa : 0)) padded = false;
    last = i;
    got++;
  }
  const missing = seen.reduce((s, x) => s + (x ? 0 : 1), 0);
  return { got, inOrder, dupes, missing, padded };
}

/** Sends messages 0 … n − 1. */
export function sendMessages(q: QueueSender, n: number, bytes: number): void {
  const msg = new Uint8Array(bytes).fill(0xaa);
  for (let i = 0; i < n; i++) {
    new DataView(msg.buffer).setUint32(0, i, true);
    if (!q.send(msg.subarray(0, lengthOf(i, bytes)), 20_000)) {
      throw new Error(`no room for message ${i}`);
    }
  }
}

/** Reads `total` bytes in whatever pieces arrive; ok: each is the byte the sender made. */
export function readStream(s: StreamReceiver, total: number): { bytes: number; ok: boolean } {
  let bytes = 0, ok = true;
  while (bytes < total) {
    const piece = s.read(total - bytes, 20_000);
    if (!piece) throw new Error(`timed out after ${bytes} bytes`);
    for (let i = 0; i < piece.length; i++) if (piece[i] !== byteAt(bytes + i)) ok = false;
    bytes += piece.length;
  }
  return { bytes, ok };
}

/**
 * Writes `total` bytes in pieces of `piece` bytes (0: of varying size), calling
 * `after(i)` after the i-th; returns the bytes written.
 */
export function writeStream(
  s: StreamSender,
  total: number,
  piece = 0,
  after: (i: number) => void = () => {},
): number {
  const all = Uint8Array.from({ length: total }, (_, i) => byteAt(i));
  let written = 0;
  for (let k = 1, i = 0; written < total; k = (k * 5 + 3) % 3001, i++) {
    const n = Math.min(total - written, piece || 1 + k);
    const w = s.write(all.subarray(written, written + n), 20_000);
    if (w !== n) throw new Error(`wrote ${w} of ${n} at ${written}`);
    written += n;
    after(i);
  }
  return written;
}
