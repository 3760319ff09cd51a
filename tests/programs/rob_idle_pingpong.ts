/**
 * Idle delivery: a receiver whose main only awaits a Promise (no SigWait, no traps:
 * it is idle in its event loop) answers every ping of a rapid ping-pong from its
 * signal handler, and resolves the Promise after N pings.
 *
 *   rob_idle_pingpong N                 the sender: N rounds, one ping each, then
 *                                       waits for the receiver; reports
 *                                       {rounds, lost, acks, receiver}
 *   rob_idle_pingpong --rx SEGMENT N    the receiver; reports {rx: pings handled}
 */

import {
  bind,
  CreateSegment,
  PAGE_SIZE,
  Rights,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

/** How long one round may take before its wakeup counts as lost. */
const ROUND_MS = 5000;

async function receiver(segment: number, n: number): Promise<number> {
  const base = bind(segment, 0x2000_0000);
  let got = 0;
  await new Promise<void>((resolve) => {
    SignalHandler(base, 64, () => {
      got++;
      Signal(base + 64); // ack
      if (got === n) resolve();
    });
    Signal(base + 64); // ready
  });
  report({ rx: got });
  return 0;
}

function sender(n: number): number {
  const segment = CreateSegment(PAGE_SIZE);
  const base = bind(segment, 0x1000_0000);
  let acks = 0;
  SignalHandler(base + 64, 64, () => acks++);
  const rx = spawn(import.meta.url, ["--rx", String(segment), String(n)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  const awaitAcks = (want: number) => {
    const deadline = performance.now() + ROUND_MS;
    while (acks < want) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      SigWait(left);
    }
    return true;
  };
  let rounds = 0, lost = -1;
  if (!awaitAcks(1)) lost = 0; // the receiver's ready signal
  for (let i = 1; i <= n && lost < 0; i++) {
    Signal(base);
    if (awaitAcks(i + 1)) rounds = i;
    else lost = i;
  }
  const receiverEnd = lost < 0 ? attempt(() => wait(rx, ROUND_MS)) : null;
  report({ rounds, lost, acks, receiver: receiverEnd });
  return 0;
}

export default function main(args: string[]): number | Promise<number> {
  if (args[0] === "--rx") return receiver(Number(args[1]), Number(args[2]));
  return sender(Number(args[0] ?? 300));
}
