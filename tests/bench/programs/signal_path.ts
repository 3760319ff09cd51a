// Bench program: the cost of delivering one address-valued signal on the node's
// signal path (001 §5.1, Table 1), whole and in the parts the code can separate.
// Cases:
//   round-trip        a unit completed by a store in A runs B's handler, which
//                     completes one for A: a ping-pong of signal-on-write
//   complete-silent   the sender's part with no receiver: the store that completes
//                     a line, and the check of the segment's directory
//   complete-self     complete a line whose handler is in this process, and run it:
//                     the sender's post (or trap) plus the receiver's translation,
//                     scheduling and call, with no second thread involved
//   null-trap         one system call: the software path's "sender system call" row
//
//   signal_path [quick]
//   signal_path --echo SEGMENT            (B of the ping-pong)

import {
  args,
  bind,
  CreateSegment,
  drainSignals,
  kill,
  nullTrap,
  Rights,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  wait,
} from "../../../userland/lib/mod.ts";
import { DeadlineError } from "../peers/worker_common.ts";
import { measureAndReport } from "./bench_report.ts";

/** Line offsets in the ping-pong segment: A writes PING lines, B writes PONG lines. */
const PING = 0, PONG = 2048;

function echo(segment: number): number {
  const base = bind(segment);
  let i = 0;
  // Each ping completes a line at PING + 32k; answer on the matching pong line.
  SignalHandler(base + PING, 2048, (at) => store32(base + PONG + (at - base - PING) + 28, ++i));
  store32(base + PONG + 28, 0); // ready: completes the first pong line
  for (;;) SigWait(60_000);
}

export default async function main(): Promise<number> {
  const a = args();
  if (a[0] === "--echo") return echo(Number(a[1]));
  const quick = a[0] === "quick";
  const segment = CreateSegment(4096, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  const base = bind(segment);
  let pongs = 0;
  SignalHandler(base + PONG, 2048, () => pongs++);
  const pid = spawn(new URL(import.meta.url).pathname, ["--echo", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  while (pongs === 0) if (SigWait(10_000) === 0) throw new Error("echo never started");
  let line = 0;
  await measureAndReport(
    (k, deadline) => {
      for (let i = 0; i < k; i++) {
        const want = pongs + 1;
        store32(base + PING + line * 32 + 28, i);
        line = (line + 1) & 63;
        while (pongs < want) {
          if (SigWait(1_000) === 0 && performance.now() > deadline) {
            throw new DeadlineError("signal ping-pong");
          }
        }
      }
    },
    quick,
    "round-trip",
  );
  kill(pid, 9);
  wait(pid);

  // Single-process parts.
  const silent = bind(CreateSegment(4096, SegMode.MESSAGE, SegUnit.CACHE_LINE));
  await measureAndReport(
    (k) => {
      for (let i = 0; i < k; i++) store32(silent + ((i & 127) << 5) + 28, i);
    },
    quick,
    "complete-silent",
  );
  const self = bind(CreateSegment(4096, SegMode.MESSAGE, SegUnit.CACHE_LINE));
  let ran = 0;
  SignalHandler(self, 4096, () => ran++);
  await measureAndReport(
    (k) => {
      for (let i = 0; i < k; i++) {
        store32(self + ((i & 127) << 5) + 28, i);
        drainSignals();
      }
    },
    quick,
    "complete-self",
  );
  if (ran === 0) throw new Error("the handler never ran");
  await measureAndReport(
    (k) => {
      for (let i = 0; i < k; i++) nullTrap();
    },
    quick,
    "null-trap",
  );
  return 0;
}
