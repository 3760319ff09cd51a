/**
 * Distributed queue and stream ends for the loss tests (tests/loss_test.ts).
 *
 *   loss_dq recv NAME SLOTS BYTES N   node 0: makes the queue, reports {ctl} then
 *                                     {exported}, waits for its sender ({ready}),
 *                                     takes N messages and reports {got, inOrder,
 *                                     dupes, missing, padded, naks} (message i
 *                                     carries i, then 0xAA up to 4 + i mod (BYTES −
 *                                     3) bytes), then goes on receiving (answering
 *                                     retransmissions) until control word 0 is set,
 *                                     and reports {extra}: messages after the N-th
 *   loss_dq send NAME SLOTS BYTES N   node 1: connects ({connected}), waits for
 *                                     SIGHUP, sends N messages, flushes: {sent,
 *                                     flushed, stats}
 *   loss_dq srecv NAME RING TOTAL     a stream's receiver: reads TOTAL bytes in
 *                                     whatever pieces arrive: {bytes, ok, naks}
 *                                     (byte i is i·7 mod 251), then like recv
 *   loss_dq ssend NAME RING TOTAL     its sender: TOTAL bytes in pieces of varying
 *                                     size, then flush: {written, flushed, stats}
 *   loss_dq srecv NAME RING TOTAL gate   the same receiver, reading only once the
 *                                     test sets control word 1
 *   loss_dq ssend NAME RING TOTAL PIECE  the same sender, in pieces of PIECE bytes;
 *                                     reports {three} after the third
 */

import { bind, CreateSegment, view32 } from "../../userland/lib/mod.ts";
import {
  QueueReceiver,
  QueueSender,
  StreamReceiver,
  StreamSender,
} from "../../userland/lib/ipc/dqueue.ts";
import { report, signalGate } from "./report.ts";

const byteAt = (i: number) => (i * 7) % 251;
const lengthOf = (i: number, bytes: number) => 4 + (i % (bytes - 3));

function control(): Int32Array {
  const ctl = CreateSegment(4096);
  const w = view32(bind(ctl), 1024);
  report({ ctl });
  return w;
}

export default function main(args: string[]): number {
  const [role, name] = args;
  const [a, b, c] = args.slice(2).map(Number);
  if (role === "recv") {
    const [slots, bytes, n] = [a, b, c];
    const ctl = control();
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
    const missing = seen.reduce((s, x) => s + (x ? 0 : 1), 0);
    report({ role, got, inOrder, dupes, missing, padded, naks: q.naks });
    let extra = 0;
    while (Atomics.load(ctl, 0) === 0) if (q.receive(20)) extra++;
    report({ role, extra });
    q.close();
    return 0;
  }
  if (role === "send") {
    const [slots, bytes, n] = [a, b, c];
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
    report({ role, sent: n, flushed: q.flush(20_000), stats: q.stats });
    q.close();
    return 0;
  }
  if (role === "srecv") {
    const [ring, total] = [a, b];
    const ctl = control();
    const s = new StreamReceiver(name, ring);
    report({ role, exported: true });
    if (!s.awaitSender(20_000)) throw new Error("no sender");
    report({ role, ready: true });
    if (args[4] === "gate") {
      const end = performance.now() + 20_000;
      while (Atomics.load(ctl, 1) === 0) {
        if (performance.now() > end) throw new Error("no gate");
        Atomics.wait(ctl, 1, 0, 50);
      }
    }
    let bytes = 0, ok = true;
    while (bytes < total) {
      const piece = s.read(total - bytes, 20_000);
      if (!piece) throw new Error(`timed out after ${bytes} bytes`);
      for (let i = 0; i < piece.length; i++) if (piece[i] !== byteAt(bytes + i)) ok = false;
      bytes += piece.length;
    }
    report({ role, bytes, ok, naks: s.naks });
    let extra = 0;
    while (Atomics.load(ctl, 0) === 0) extra += s.read(1 << 20, 20)?.length ?? 0;
    report({ role, extra });
    s.close();
    return 0;
  }
  const [ring, total] = [a, b];
  const s = new StreamSender(name, ring, 0);
  const go = signalGate();
  report({ role, connected: true });
  go();
  const all = Uint8Array.from({ length: total }, (_, i) => byteAt(i));
  let written = 0;
  const piece = Number(args[4] ?? 0);
  for (let k = 1, i = 0; written < total; k = (k * 5 + 3) % 3001, i++) {
    const n = Math.min(total - written, piece || 1 + k);
    const w = s.write(all.subarray(written, written + n), 20_000);
    if (w !== n) throw new Error(`wrote ${w} of ${n} at ${written}`);
    written += n;
    if (i === 2) report({ role, three: true });
  }
  report({ role, written, flushed: s.flush(20_000), stats: s.stats });
  s.close();
  return 0;
}
