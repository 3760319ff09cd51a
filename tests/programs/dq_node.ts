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
import { readStream, sendMessages, takeMessages, writeStream } from "./dq_traffic.ts";
import { attempt, report, signalGate } from "./report.ts";

function stream(role: string, name: string, ring: number, total: number): number {
  if (role === "srecv") {
    const s = new StreamReceiver(name, ring);
    report({ role, exported: true });
    if (!s.awaitSender(20_000)) throw new Error("no sender");
    report({ role, ready: true });
    report({ role, ...readStream(s, total) });
    return 0;
  }
  const s = new StreamSender(name, ring, 0);
  const go = signalGate();
  report({ role, connected: true });
  go();
  const written = writeStream(s, total);
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
    const { got, inOrder, dupes, padded } = takeMessages(q, n, bytes);
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
  sendMessages(q, n, bytes);
  report({ role, sent: n });
  return 0;
}
