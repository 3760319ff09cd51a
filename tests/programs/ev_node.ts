/**
 * The asynchronous event queue's three kinds of event (002 §3.5).
 *
 *   ev_node queue N      exports "ev" (N lines) with Tripwire i on line i (writes,
 *                        events); reports {ready}; takes N events with waitEvent and
 *                        reports {inOrder, kinds}; then waits (no trap) until killed
 *   ev_node writer N     imports "ev" and writes lines 0..N-1 in order (queued WRITEs)
 *   ev_node interest     registering and unregistering interest in one Tripwire's
 *                        events (see interest())
 *   ev_node spinner US [NAME] [--hup]  (after SIGHUP, with --hup) exports NAME ("ev") with one Tripwire (events) on line 1; reports
 *                        {ready}; waits for one event spinning US µs first; reports
 *                        {got, counts} (eventWaitCounts: found spinning, or blocked)
 *   ev_node signals      one process: signals into a range registered for SIGNAL
 *                        events come as events, not handler calls, until unregistered;
 *                        reports {before, events, handled, after}
 *   ev_node sigowner     exports "ev" (notify on request) with SIGNAL events on bytes
 *                        64..127; reports {ready}; then reports the first event {first}
 *   ev_node notifier [NAME] [--hup]  imports NAME ("ev") and WRITEs at 70 with notify
 *                        (with --hup: reports {armed} and waits for SIGHUP first)
 */

import {
  allocTripwire,
  armTripwire,
  awaitRemote,
  bind,
  CreateSegment,
  dmaWrite32,
  EventKind,
  eventWaitCounts,
  exportSegment,
  importSegment,
  nextEvent,
  NotifyPolicy,
  PAGE_SIZE,
  remoteCounters,
  SegMode,
  SegUnit,
  Signal,
  signalEvents,
  SignalHandler,
  SigWait,
  unregisterSignalEvents,
  waitEvent,
  waitTripwire,
  WRITE,
} from "../../userland/lib/mod.ts";
import { report, signalGate } from "./report.ts";

function exportEv(lines: number, policy: number = NotifyPolicy.NEVER, name = "ev"): number {
  const bytes = Math.ceil((lines * 64) / PAGE_SIZE) * PAGE_SIZE;
  const seg = CreateSegment(bytes, SegMode.NORMAL, SegUnit.CACHE_LINE, policy);
  const base = bind(seg);
  exportSegment(seg, name);
  return base;
}

function queue(n: number): number {
  const base = exportEv(n);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(allocTripwire());
    armTripwire(ids[i], { vaddr: base + i * 64, len: 4, write: true, event: true });
  }
  report({ ready: true });
  const got: number[] = [], kinds = new Set<number>();
  while (got.length < n) {
    const e = waitEvent(20_000);
    if (!e) break;
    got.push(ids.indexOf(e.id));
    kinds.add(e.kind);
  }
  report({ inOrder: got.length === n && got.every((g, i) => g === i), kinds: [...kinds] });
  for (;;) waitEvent(60_000); // until killed, without a trap
}

function writer(n: number): number {
  const { desc } = importSegment("ev", { hint: 0 });
  const before = remoteCounters();
  for (let i = 0; i < n; i++) dmaWrite32(desc, i * 64, i + 1);
  awaitRemote({ ...before, done: before.done + n - 1 }, 10_000);
  return 0;
}

/**
 * Interest per Tripwire: A (line 0) is armed with events, B (line 1) without.
 * After a writer has written both lines: {first} — both bits, the events taken.
 * Then A is re-armed without events (interest unregistered) and, after SIGHUP and
 * a second writer: {second} — A's bit, the events taken.
 */
function interest(): number {
  const base = exportEv(2);
  const a = allocTripwire(), b = allocTripwire();
  armTripwire(a, { vaddr: base, len: 4, write: true, event: true });
  armTripwire(b, { vaddr: base + 64, len: 4, write: true });
  const fired = (id: number) => waitTripwire(id, 20_000);
  const taken = () => {
    const ids: number[] = [];
    for (let e = nextEvent(); e; e = nextEvent()) ids.push(e.id === a ? 0 : e.id === b ? 1 : -1);
    return ids;
  };
  const gate = signalGate();
  report({ ready: true });
  const both = fired(a) && fired(b);
  report({ first: { both, events: taken() } });
  armTripwire(a, { vaddr: base, len: 4, write: true }); // no more events from A
  gate();
  report({ second: { a: fired(a), events: taken() } });
  return 0;
}

function spinner(spinUs: number, name: string, hup: boolean): number {
  const base = exportEv(2, NotifyPolicy.NEVER, name);
  armTripwire(allocTripwire(), { vaddr: base + 64, len: 64, write: true, event: true });
  const gate = hup ? signalGate() : () => {};
  report({ ready: true });
  gate();
  const e = waitEvent(30_000, spinUs);
  report({ got: e !== null, counts: eventWaitCounts() });
  return 0;
}

function signals(): number {
  const seg = CreateSegment(PAGE_SIZE);
  const base = bind(seg);
  let handled = 0;
  SignalHandler(base, 128, () => handled++);
  const sig = (at: number) => {
    Signal(base + at);
    SigWait(20); // runs what was queued
  };
  sig(8);
  const before = handled; // a plain handler range: 1
  signalEvents(base + 64, 64, 7);
  sig(70);
  sig(100);
  const events = [];
  for (let e = waitEvent(0); e; e = waitEvent(0)) events.push([e.kind, e.id, e.info - base]);
  const handledWhileRegistered = handled - before;
  const removed = unregisterSignalEvents(base + 64, 64);
  sig(70);
  report({
    before,
    events,
    handled: handledWhileRegistered,
    removed,
    after: handled - before,
    kind: EventKind.SIGNAL,
  });
  return 0;
}

function sigowner(): number {
  const base = exportEv(64, NotifyPolicy.CONDITIONAL);
  let handled = 0;
  SignalHandler(base, PAGE_SIZE, () => handled++);
  signalEvents(base + 64, 64, 9);
  report({ ready: true });
  const e = waitEvent(20_000);
  SigWait(20);
  report({ first: e && [e.kind, e.id, e.info - base], handled });
  return 0;
}

function notifier(name: string, hup: boolean): number {
  const { desc } = importSegment(name, { hint: 0 });
  if (hup) {
    const gate = signalGate();
    report({ armed: true });
    gate();
  }
  const before = remoteCounters();
  WRITE(desc, 70, new Uint8Array([1, 2, 3, 4]), true);
  awaitRemote(before);
  return 0;
}

export default function main(args: string[]): number {
  const n = Number(args[1] ?? 0);
  switch (args[0]) {
    case "interest":
      return interest();
    case "queue":
      return queue(n);
    case "writer":
      return writer(n);
    case "spinner":
      return spinner(n, args[2] ?? "ev", args.includes("--hup"));
    case "signals":
      return signals();
    case "sigowner":
      return sigowner();
    default:
      return notifier(args[1] ?? "ev", args.includes("--hup"));
  }
}
