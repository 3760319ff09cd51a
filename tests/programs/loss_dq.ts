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
import { readStream, sendMessages, takeMessages, writeStream } from "./dq_traffic.ts";
import { report, signalGate } from "./report.ts";

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
    report({ role, ...takeMessages(q, n, bytes), naks: q.naks });
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
    sendMessages(q, n, bytes);
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
    report({ role, ...readStream(s, total), naks: s.naks });
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
  const written = writeStream(s, total, Number(args[4] ?? 0), (i) => {
    if (i === 2) report({ role, three: true });
  });
  report({ role, written, flushed: s.flush(20_000), stats: s.stats });
  s.close();
  return 0;
}
