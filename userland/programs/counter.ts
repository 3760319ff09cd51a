/**
 * counter: a client of the template server (servers/template/mod.ts). Starts the
 * server with a shared segment, asks it to add 1..N through memory and signals, and
 * prints the total.
 *
 *   run counter [N]
 */

import {
  args,
  bind,
  CreateSegment,
  exit,
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

// The slot layout the server documents (servers/template/mod.ts).
const Slot = { OP: 0, ARG: 4, RESULT: 8, STATE: 12 } as const;
const Op = { ADD: 1, GET: 2, STOP: 3 } as const;
const State = { REQUEST: 1, DONE: 2 } as const;

export default function main(): number {
  const n = Number(args()[0] ?? 10);
  const segment = CreateSegment(4096);
  const base = bind(segment);
  const slot = base; // this client uses slot 0
  SignalHandler(slot, 64, () => {}); // replies wake SigWait; the state word says which
  const server = spawn("servers/template/mod.ts", [String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });

  const call = (op: number, arg = 0): number => {
    store32(slot + Slot.OP, op);
    store32(slot + Slot.ARG, arg);
    store32(slot + Slot.STATE, State.REQUEST);
    // The server may not have registered its handler yet: re-signal until answered.
    while (load32(slot + Slot.STATE) !== State.DONE) {
      Signal(slot);
      SigWait(50);
    }
    return load32(slot + Slot.RESULT);
  };

  for (let i = 1; i <= n; i++) call(Op.ADD, i);
  const total = call(Op.GET);
  call(Op.STOP);
  const st = wait(server);
  if (total !== (n * (n + 1)) / 2) exit(1, `server counted ${total}`);
  println(`counter: the server added 1..${n} = ${total}; it ${st.reason}`);
  return 0;
}
