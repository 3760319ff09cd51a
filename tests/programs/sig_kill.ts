/**
 * kill() as a signal at a well-known address (001 §3.1 footnote 4).
 *
 *   sig_kill               the parent: kills an unprepared child (SIGTERM's default),
 *                          then one with handlers at the SIGTERM and SIGKILL addresses
 *                          (TERM is handled and it carries on; KILL cannot be handled),
 *                          then tries bad targets; reports every outcome
 *   sig_kill --plain       waits forever, no handlers
 *   sig_kill --handler S   binds S, handles SIGTERM and SIGKILL, acks at word 0 when
 *                          ready and at word 4 after its SIGTERM handler ran
 */

import {
  bind,
  CreateSegment,
  getpid,
  kill,
  PAGE_SIZE,
  Rights,
  Sig,
  Signal,
  signalAddress,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

function plain(): number {
  for (;;) SigWait(60_000);
}

function handler(segment: number): number {
  const base = bind(segment, 0x2000_0000);
  const got: number[] = [];
  SignalHandler(signalAddress(Sig.SIGTERM), 4, (addr: number) => got.push(addr));
  SignalHandler(signalAddress(Sig.SIGKILL), 4, (addr: number) => got.push(addr));
  Signal(base); // ready
  while (got.length === 0) SigWait(10_000);
  report({ child: getpid(), got: [...got] });
  Signal(base + 4); // still running after SIGTERM
  for (;;) SigWait(60_000);
}

function parent(): number {
  const segment = CreateSegment(PAGE_SIZE);
  const base = bind(segment, 0x1000_0000);
  const acks: number[] = [];
  SignalHandler(base, 64, (addr: number) => acks.push(addr - base));
  const awaitAck = (off: number) => {
    while (!acks.includes(off)) {
      if (SigWait(10_000) === 0) throw new Error(`no ack at ${off}`);
    }
  };

  const p1 = spawn(import.meta.url, ["--plain"]);
  kill(p1); // SIGTERM, no handler: the default action ends it
  const plainEnd = wait(p1);

  const p2 = spawn(import.meta.url, ["--handler", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  awaitAck(0);
  kill(p2, Sig.SIGTERM);
  awaitAck(4);
  kill(p2, Sig.SIGKILL);
  const handledEnd = wait(p2);

  const errors = {
    noSuchPid: attempt(() => kill(99_999)),
    reaped: attempt(() => kill(p2)),
    badSigno: attempt(() => kill(getpid(), 0)),
  };
  report({ parent: getpid(), plain: plainEnd, handled: handledEnd, errors });
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "--plain") return plain();
  if (args[0] === "--handler") return handler(Number(args[1]));
  return parent();
}
