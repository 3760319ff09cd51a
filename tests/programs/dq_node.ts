/**
 * The distributed queue (userland/lib/ipc/dqueue.ts) between two nodes.
 *
 *   dq_node recv NAME SLOTS BYTES N   node 0: makes the queue, waits for its sender,
 *                                     reports {ready}, takes N messages and reports
 *                                     {got, inOrder, dupes, padded} (message i carries
 *                                     i, then 0xAA up to its length, 4 + i mod
 *                                     (BYTES − 3); padded: the rest of each slot was 0)
 *   dq_node send NAME SLOTS BYTES N   node 1: connects, reports {connected}, waits
 *                                     for SIGHUP, sends N messages, reports {sent}
 *   dq_node bad NAME SLOTS BYTES      tries to connect a sender: reports {bad: code}
 *   dq_node srecv NAME RING TOTAL     a byte stream's receiver: reads TOTAL bytes in
 *                                     whatever pieces arrive: {bytes, ok} (ok: byte i
 *                                     is i·7 mod 251, as the sender made it)
 *   dq_node ssend NAME RING TOTAL     its sender: writes TOTAL bytes in pieces of
 *                                     varying size (after SIGHUP): {written}
 */

import {
  QueueReceiver,
  QueueSender,
  StreamReceiver,
  StreamSender,
} from "../../userland/lib/ipc/dqueue.ts";
import { attempt, report, signalGate } from "./report.ts";

const byteAt = (i: number) => (i * 7) % 251;
/** Message i's length: its 4-byte index, then some bytes of 0xAA. */
const lengthOf = (i: number, bytes: number) => 4 + (i % (bytes - 3));

function stream(role: string, name: string, ring: number, total: number): number {
  if (role === "srecv") {
    const s = new StreamReceiver(name, ring);
    report({ role, exported: true });
    if (!s.awaitSender(20_000)) throw new Error("no sender");
    report({ role, ready: true });
    let bytes = 0, ok = true;
    while (bytes < total) {
      const piece = s.read(total - bytes, 20_000);
      if (!piece) throw new Error(`timed out after ${bytes} bytes`);
      for (let i = 0; i < piece.length; i++) if (piece[i] !== byteAt(bytes + i)) ok = false;
      bytes += piece.length;
    }
    report({ role, bytes, ok });
    return 0;
  }
  const s = new StreamSender(name, ring, 0);
  const go = signalGate();
  report({ role, connected: true });
  go();
  const all = Uint8Array.from({ length: total }, (_, i) => byteAt(i));
  let written = 0;
  for (let k = 1; written < total; k = (k * 5 + 3) % 3001) {
    const n = Math.min(total - written, 1 + k);
    written += s.write(all.subarray(written, written + n), 20_000);
  }
  report({ role, written });
  return 0;
}

export default function main(args: string[]): number {
  const [role, name] = args;
  if (role === "srecv" || role === "ssend") {
    return stream(role, name, Number(args[2]), Number(args[3]));
  }
  const [slots, bytes, n] = args.slice(2).map(Number);
  if (role === "recv") {
    const q = new QueueReceiver(name, slots, bytes);
    report({ role, exported: true });
    if (!q.awaitSender(20_000)) throw new Error("no sender");
    report({ role, ready: true });
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
    report({ role, got, inOrder, dupes, padded });
    q.close();
    return 0;
  }
  if (role === "bad") {
    report({ role, bad: attempt(() => new QueueSender(name, slots, bytes, 0)) });
    return 0;
  }
  const q = new QueueSender(name, slots, bytes, 0);
  const go = signalGate();
  report({ role, connected: true });
  go();
  const msg = new Uint8Array(bytes).fill(0xaa);
  for (let i = 0; i < n; i++) {
    new DataView(msg.buffer).setUint32(0, i, true);
    if (!q.send(msg.subarray(0, lengthOf(i, bytes)), 20_000)) {
      throw new Error(`no room for message ${i}`);
    }
  }
  report({ role, sent: n });
  return 0;
}
