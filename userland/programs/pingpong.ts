/**
 * pingpong: shares a segment with a child and signals it (001 §3.1). The parent
 * binds the segment at one address, the child at another; each signal arrives at the
 * receiver's own address for the same offset.
 *
 *   run pingpong [ROUNDS]
 *
 * Each round the parent writes a counter into slot 0 and signals it; the child's
 * handler reads it (at its own address), writes counter+1 into slot 1 and signals
 * back. The child is started as `pingpong --child SEGMENT`.
 */

import {
  args,
  bind,
  CreateSegment,
  exit,
  getpid,
  load32,
  println,
  Rights,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  wait,
} from "../lib/mod.ts";

const PING = 0; // offset of the parent's word
const PONG = 64; // offset of the child's word
const STOP = 0xffffffff;

function child(segment: number): number {
  const base = bind(segment, 0x2000_0000); // a different address than the parent's
  let rounds = 0;
  SignalHandler(base + PING, 4, (addr) => {
    if (load32(addr) === STOP) return;
    store32(base + PONG, load32(addr) + 1);
    rounds++;
    Signal(base + PONG);
  });
  store32(base + PONG, 1); // ready
  Signal(base + PONG);
  while (SigWait(5_000) > 0) {
    if (load32(base + PING) === STOP) break;
  }
  println(`child ${getpid()}: answered ${rounds} pings at 0x${(base + PING).toString(16)}`);
  return 0;
}

function parent(rounds: number): number {
  const segment = CreateSegment(4096);
  const base = bind(segment, 0x1000_0000);
  let pongs = 0;
  let last = 0;
  SignalHandler(base + PONG, 4, (addr) => {
    last = load32(addr);
    pongs++;
  });
  const pid = spawn("userland/programs/pingpong.ts", ["--child", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  // A handler may already have run on a trap's return, so wait for the state, not
  // for "a signal": SigWait only sleeps while nothing has arrived.
  const await_ = (want: number, what: string) => {
    while (last !== want) if (SigWait(5_000) === 0) exit(1, `${what}: got ${last}`);
  };
  await_(1, "child never became ready");
  for (let i = 1; i <= rounds; i++) {
    store32(base + PING, i * 10);
    Signal(base + PING);
    await_(i * 10 + 1, `round ${i}`);
  }
  store32(base + PING, STOP);
  Signal(base + PING);
  const r = wait(pid);
  println(
    `parent ${getpid()}: ${pongs - 1} pongs from pid ${pid} at 0x${
      (base + PONG).toString(16)
    }; child ${r.reason}`,
  );
  return r.status;
}

export default function main(): number {
  const a = args();
  if (a[0] === "--child") return child(Number(a[1]));
  return parent(Number(a[0] ?? 5));
}
