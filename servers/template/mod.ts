/**
 * The template server: where to start when writing a server. It is an ordinary
 * program built only on userland/lib, exactly as yours will be.
 *
 * It keeps a counter and serves requests through memory and address-valued signals
 * (001 §3.1, §4 in miniature). Its client shares a segment with it (see
 * userland/programs/counter.ts); the segment is an array of 64-byte request slots:
 *
 *   +0  op      (Op.ADD, Op.GET, Op.STOP)        written by the client
 *   +4  arg                                      written by the client
 *   +8  result                                   written by the server
 *   +12 state   (State.REQUEST → State.DONE)     written by both
 *
 * The client fills a slot, sets state = REQUEST and signals the slot's address. The
 * server's handler is called with the address at which *it* sees that slot, answers,
 * sets state = DONE and signals back at the same slot.
 *
 *   run servers/template/mod.ts SEGMENT       (normally started by its client)
 */

import {
  args,
  bind,
  load32,
  println,
  Sig,
  Signal,
  signalAddress,
  SignalHandler,
  SigWait,
  store32,
} from "../../userland/lib/mod.ts";

export const SLOT_BYTES = 64;
export const Slot = { OP: 0, ARG: 4, RESULT: 8, STATE: 12 } as const;
export const Op = { ADD: 1, GET: 2, STOP: 3 } as const;
export const State = { IDLE: 0, REQUEST: 1, DONE: 2 } as const;

export default function main(): number {
  const segment = Number(args()[0]);
  if (!Number.isInteger(segment) || segment <= 0) {
    println("template server: usage: mod.ts SEGMENT (a segment shared by the client)");
    return 2;
  }
  const base = bind(segment);
  let counter = 0;
  let running = true;

  // One handler for the whole segment: the signalled address says which slot.
  SignalHandler(base, 4096, (addr) => {
    const slot = addr - ((addr - base) % SLOT_BYTES);
    if (load32(slot + Slot.STATE) !== State.REQUEST) return; // our own reply, or noise
    const op = load32(slot + Slot.OP);
    if (op === Op.ADD) counter = (counter + load32(slot + Slot.ARG)) >>> 0;
    if (op === Op.STOP) running = false;
    store32(slot + Slot.RESULT, counter);
    store32(slot + Slot.STATE, State.DONE);
    Signal(slot);
  });
  // Unix-style termination is a signal at a well-known address too.
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);

  while (running) SigWait(1_000);
  return 0;
}
