// Bench program: process A signals B, B's handler signals A back (001 §3.1).
// A is this program; B is the same program started with "--echo SEGMENT".

import {
  args,
  bind,
  CreateSegment,
  kill,
  Rights,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  wait,
} from "../../../userland/lib/mod.ts";
import { DeadlineError } from "../peers/worker_common.ts";
import { measureAndReport } from "./bench_report.ts";

const PING = 0;
const PONG = 64;

function echo(segment: number): number {
  const base = bind(segment);
  SignalHandler(base + PING, 4, () => Signal(base + PONG));
  Signal(base + PONG); // ready
  for (;;) SigWait(60_000);
}

export default async function main(): Promise<number> {
  const a = args();
  if (a[0] === "--echo") return echo(Number(a[1]));
  const segment = CreateSegment(4096);
  const base = bind(segment);
  let pongs = 0;
  SignalHandler(base + PONG, 4, () => pongs++);
  const pid = spawn(new URL(import.meta.url).pathname, ["--echo", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  while (pongs === 0) if (SigWait(10_000) === 0) throw new Error("echo never started");
  await measureAndReport((k, deadline) => {
    for (let i = 0; i < k; i++) {
      const want = pongs + 1;
      Signal(base + PING);
      while (pongs < want) {
        if (SigWait(1_000) === 0 && performance.now() > deadline) {
          throw new DeadlineError("signal round trip");
        }
      }
    }
  }, a[0] === "quick");
  kill(pid, 9);
  wait(pid);
  return 0;
}
