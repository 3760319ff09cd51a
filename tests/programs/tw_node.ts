/**
 * Tripwires across two nodes (002 §2.5, §3.3, §3.5).
 *
 *   tw_node owner     node 0: exports "tw" (a 2-page NORMAL segment) and arms
 *                     Tripwire A on bytes 64..71 for writes (with events), B on 1024..1027
 *                     for reads (with events), and 4094 more on other words of page 1
 *                     (4096 armed at once); reports {ready, fourThousand97th}; on each
 *                     SIGHUP reports {a, b, others, events} (fired bits and the events
 *                     queued since, taken without a trap) and clears the bits; SIGINT ends
 *   tw_node client OPS  node 1: imports "tw"; arms an outgoing Tripwire on 64..103 of
 *                     it for writes; runs OPS (w0: a 4-byte WRITE at 0, w64: a WRITE at
 *                     64, r1024: a READ at 1024, r0: a READ at 0), each to completion,
 *                     and reports {outgoing} (did the outgoing Tripwire fire) and
 *                     {idle: waitTripwire on a Tripwire nobody touches, 30 ms}
 */

import {
  allocTripwire,
  armTripwire,
  awaitRemote,
  bind,
  clearTripwire,
  CreateSegment,
  exportSegment,
  importSegment,
  nextEvent,
  PAGE_SIZE,
  READ,
  remoteCounters,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  SysError,
  tripwireFired,
  waitEvent,
  waitTripwire,
  WRITE,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

function owner(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const base = bind(seg);
  const a = allocTripwire(), b = allocTripwire();
  armTripwire(a, { vaddr: base + 64, len: 8, write: true, event: true });
  armTripwire(b, { vaddr: base + 1024, len: 4, read: true, event: true });
  const others: number[] = [];
  for (let i = 0; i < 4094; i++) {
    const id = allocTripwire();
    armTripwire(id, { vaddr: base + PAGE_SIZE + (i % 1024) * 4, len: 4, read: true, write: true });
    others.push(id);
  }
  let extra = "none";
  try {
    allocTripwire();
  } catch (e) {
    extra = e instanceof SysError ? e.code : String(e);
  }
  exportSegment(seg, "tw");
  let hups = 0, done = false;
  SignalHandler(signalAddress(Sig.SIGHUP), 4, () => hups++);
  SignalHandler(signalAddress(Sig.SIGINT), 4, () => done = true);
  report({ role: "owner", ready: true, fourThousand97th: extra });
  let seen = 0;
  while (!done) {
    SigWait(1000);
    while (seen < hups) {
      seen++;
      const evs: number[][] = [];
      for (let e = nextEvent(); e; e = nextEvent()) {
        evs.push([e.kind, e.id === a ? 0 : e.id === b ? 1 : -1, e.info]);
      }
      report({
        role: "owner",
        probe: seen,
        a: tripwireFired(a),
        b: tripwireFired(b),
        others: others.filter(tripwireFired).length,
        events: evs,
      });
      clearTripwire(a);
      clearTripwire(b);
    }
  }
  return 0;
}

function client(ops: string[]): number {
  const { desc } = importSegment("tw", { hint: 0 });
  const out = allocTripwire(), idle = allocTripwire();
  armTripwire(out, { descriptor: desc, offset: 64, len: 40, write: true });
  armTripwire(idle, { descriptor: desc, offset: 4000, len: 4, write: true });
  const local = CreateSegment(PAGE_SIZE);
  bind(local);
  for (const op of ops) {
    const before = remoteCounters();
    const at = Number(op.slice(1));
    if (op[0] === "w") WRITE(desc, at, new Uint8Array([1, 2, 3, 4]));
    else READ(desc, at, 4, local, 0);
    awaitRemote(before);
  }
  report({ role: "client", outgoing: tripwireFired(out) });
  // waitTripwire on a bit already set returns true at once (false after 50 ms if not).
  report({ role: "client", hit: waitTripwire(out, 50) });
  report({ role: "client", idle: waitTripwire(idle, 30) });
  return 0;
}

/**
 * tw_node waiter: exports "tw" with one Tripwire on bytes 64..71 (writes, events),
 * reports {ready}, blocks in waitEvent on its empty queue until a remote write's
 * event arrives, and reports {first, fired} (the event, and the Tripwire's bit).
 */
function waiter(): number {
  const seg = CreateSegment(PAGE_SIZE);
  const base = bind(seg);
  const id = allocTripwire();
  armTripwire(id, { vaddr: base + 64, len: 8, write: true, event: true });
  exportSegment(seg, "tw");
  report({ role: "waiter", ready: true });
  const first = waitEvent(20_000);
  report({ role: "waiter", first, fired: tripwireFired(id) });
  return 0;
}

export default function main(args: string[]): number {
  if (args[0] === "waiter") return waiter();
  return args[0] === "owner" ? owner() : client(args.slice(1));
}
