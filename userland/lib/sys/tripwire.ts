/**
 * Tripwires and the asynchronous event queue (002 §2.5, §3.3, §3.5). The queue
 * carries Tripwire events (interest registered per Tripwire: `event: true` when
 * arming; re-arm without it or disarm to unregister), completion events (per DMA
 * request: a `tag`, see dma.ts) and signal events (per address range:
 * `signalEvents`, `unregisterSignalEvents`).
 *
 * A Tripwire watches memory for accesses that cross the network: reads or writes
 * from other nodes to a range of this process's memory, or (an outgoing one, armed
 * on a descriptor) this node's own accesses to a range of a remote segment, seen as
 * they complete (so a
 * process sees its block WRITE land; a posted WRITE, which never completes, as it
 * leaves). When one fires, the kernel sets its bit in
 * the event page this process shares with it, and, if asked, puts an event in the
 * process's event queue. Testing a bit, waiting for one, polling and blocking on the
 * queue take no system call; only arming and disarming do.
 *
 * @example
 * ```ts
 * const id = allocTripwire();
 * armTripwire(id, { vaddr: inbox, len: 4, write: true });
 * if (waitTripwire(id, 1000)) println(`a remote write landed: ${load32(inbox)}`);
 * ```
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import {
  EVENT_CAPACITY,
  EVENT_WORDS,
  EventPage,
  MAX_TRIPWIRES,
  TripwireFlag,
} from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { collectGrants, events, parkTlb, trap, unparkTlb } from "../rt/trap.ts";
import { stopIfEnded } from "../rt/runtime.ts";
import { spin, spinUntil, waitUntil } from "../rt/spin.ts";

const used = new Uint8Array(MAX_TRIPWIRES);

/** Takes a free Tripwire id (0 .. 4095); throws ENOSPC when all are taken. */
export function allocTripwire(): number {
  const id = used.indexOf(0);
  if (id < 0) throw new SysError(Errno.ENOSPC, "allocTripwire", "4096 Tripwires in use");
  used[id] = 1;
  return id;
}

/** Disarms a Tripwire and gives its id back. */
export function freeTripwire(id: number): void {
  if (used[id]) trap(Sys.tripwire_disarm, id);
  used[id] = 0;
}

export interface TripwireTarget {
  /** A local address: accesses from other nodes to [vaddr, vaddr+len) fire it. */
  vaddr?: number;
  /** Or a descriptor: this node's accesses to [offset, offset+len) of it fire it. */
  descriptor?: number;
  offset?: number;
  len: number;
  read?: boolean;
  write?: boolean;
  /** Also deliver an event into the event queue each time it fires. */
  event?: boolean;
}

/** Arms (or re-arms) Tripwire `id`, clearing its fired bit. */
export function armTripwire(id: number, t: TripwireTarget): void {
  const outgoing = t.descriptor !== undefined;
  const flags = (t.read ? TripwireFlag.READ : 0) | (t.write ? TripwireFlag.WRITE : 0) |
    (outgoing ? TripwireFlag.OUTGOING : 0) | (t.event ? TripwireFlag.EVENT : 0);
  trap(
    Sys.tripwire_arm,
    id,
    outgoing ? t.descriptor! : t.vaddr ?? 0,
    outgoing ? t.offset ?? 0 : 0,
    t.len,
    flags,
  );
  if (!events.page) collectGrants();
}

/** Disarms Tripwire `id`; returns true if it was armed. */
export function disarmTripwire(id: number): boolean {
  return trap(Sys.tripwire_disarm, id) === 1;
}

function page(): Int32Array {
  if (!events.page) collectGrants();
  if (!events.page) {
    throw new SysError(Errno.EINVAL, "tripwire", "no Tripwire has been armed yet: no event page");
  }
  return events.page;
}

/** True if Tripwire `id` has fired since it was armed or cleared (no trap). */
export function tripwireFired(id: number): boolean {
  return (Atomics.load(page(), EventPage.BITMAP + (id >>> 5)) & (1 << (id & 31))) !== 0;
}

/** Clears Tripwire `id`'s fired bit (no trap). */
export function clearTripwire(id: number): void {
  Atomics.and(page(), EventPage.BITMAP + (id >>> 5), ~(1 << (id & 31)));
}

/**
 * Waits up to `timeoutMs` for Tripwire `id` to fire, spinning first; returns true
 * if it has. The spin is the runtime's Tripwire policy (spin.ts): 002 §5.3's 15 µs
 * at rest, longer while the other side answers soon after a wait blocks, none when
 * the node runs block-only; `spinUs` fixes it instead. No system call: it blocks
 * on the word of its bit.
 */
export function waitTripwire(id: number, timeoutMs: number, spinUs?: number): boolean {
  wirePage = page();
  wireWord = EventPage.BITMAP + (id >>> 5);
  wireBit = 1 << (id & 31);
  return waitUntil(spin.tripwire, wirePage, wireWord, wireFired, timeoutMs, spinUs);
}

/** What waitTripwire waits for (module state: the wait allocates nothing). */
let wirePage: Int32Array = new Int32Array(1);
let wireWord = 0;
let wireBit = 0;
const wireFired = () => (Atomics.load(wirePage, wireWord) & wireBit) !== 0;

/**
 * Tries `attempt` until it gives a result (anything but null) or `timeoutMs` has
 * passed, sleeping on Tripwire `id` between tries. The bit is cleared before each
 * try, so a write that lands after a failed try wakes the wait: no wake-up is
 * lost. Returns the last try's result (null on timeout).
 */
export function untilTripwire<T>(id: number, timeoutMs: number, attempt: () => T | null): T | null {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    clearTripwire(id);
    const r = attempt();
    if (r !== null) return r;
    const left = deadline - performance.now();
    if (left <= 0 || !waitTripwire(id, left)) return attempt();
  }
}

/**
 * One event from the queue (EventKind): TRIPWIRE (id: the Tripwire, info: the
 * access), COMPLETION (id: the DMA request's tag, info: 0 or its error code), or
 * SIGNAL (id: the registration's tag, info: the signalled address).
 */
export interface QueuedEvent {
  kind: number;
  id: number;
  info: number;
}
/** The name this type had when only Tripwires delivered events. */
export type TripwireEvent = QueuedEvent;

/**
 * Registers interest in the signals arriving at [vaddr, vaddr+len) of this
 * process's memory: each becomes a SIGNAL event with id `tag` (> 0) and the
 * signalled address as info, instead of a handler call. Senders then reach this
 * range through the kernel (a trap each on the hardware path), as the kernel alone
 * writes the queue.
 */
export function signalEvents(vaddr: number, len: number, tag: number): void {
  if (!Number.isInteger(tag) || tag <= 0) {
    throw new SysError(Errno.EINVAL, "signalEvents", `tag ${tag}: a positive integer`);
  }
  trap(Sys.event_signal, vaddr, len, tag);
  if (!events.page) collectGrants();
}

/** Unregisters the ranges overlapping [vaddr, vaddr+len); returns how many. */
export function unregisterSignalEvents(vaddr: number, len = 1): number {
  return trap(Sys.event_signal, vaddr, len, 0);
}

/** How waits on the event queue ended: taken without blocking, or after blocking. */
const waits = { spun: 0, blocked: 0 };

/**
 * How many `waitEvent` calls took their event without blocking (it was there, or
 * came while spinning), and how many blocked.
 */
export function eventWaitCounts(): { spun: number; blocked: number } {
  return { ...waits };
}

/** Takes the next event, or null when the queue is empty (no trap). O(1). */
export function nextEvent(): QueuedEvent | null {
  const p = events.page;
  if (!p) return null;
  const head = p[EventPage.HEAD];
  const at = EventPage.ENTRIES + ((head >>> 0) % EVENT_CAPACITY) * EVENT_WORDS;
  if (Atomics.load(p, at) !== ((head + 1) | 0)) return null;
  const e = { kind: p[at + 1], id: p[at + 2], info: p[at + 3] };
  Atomics.store(p, EventPage.HEAD, (head + 1) | 0);
  return e;
}

/**
 * Takes the next event, waiting up to `timeoutMs` for one: it spins before it
 * blocks, as the runtime's event policy says (spin.ts: 15 µs at rest, as 002
 * §5.3's server; longer while events come soon after a wait blocks, so a server
 * under load does not pay a wake-up per request; none when the node runs
 * block-only); `spinUs` fixes the spin instead. Returns null on timeout. No trap:
 * it blocks on the queue's tail word, which the kernel notifies.
 * (`eventWaitCounts` counts a wait that slept as blocked, one that found or spun
 * its event as not.)
 */
export function waitEvent(timeoutMs: number, spinUs?: number): QueuedEvent | null {
  let e = nextEvent();
  if (e) {
    waits.spun++;
    return e;
  }
  const p = page();
  parkTlb(); // nothing below stores through the MMU (rt/trap.ts)
  if (spinUntil(spin.events, eventTaken, spinUs)) {
    unparkTlb();
    e = taken;
    taken = null;
    waits.spun++;
    return e;
  }
  const start = performance.now();
  const deadline = start + timeoutMs;
  for (let slept = false;;) {
    const tail = Atomics.load(p, EventPage.TAIL);
    Atomics.store(p, EventPage.WAITING, 1);
    if ((e = nextEvent())) break;
    const left = deadline - performance.now();
    if (left <= 0) break;
    if (!slept) waits.blocked++;
    slept = true;
    Atomics.wait(p, EventPage.TAIL, tail, left);
    stopIfEnded(); // the kernel wakes TAIL when it ends the process
  }
  Atomics.store(p, EventPage.WAITING, 0);
  unparkTlb();
  e ??= nextEvent();
  if (spinUs === undefined) spin.events.blocked((performance.now() - start) * 1000, e !== null);
  return e;
}

/** The event waitEvent's spin took (module state: the spin allocates no closure). */
let taken: QueuedEvent | null = null;
const eventTaken = () => (taken = nextEvent()) !== null;

/** Events the kernel dropped because the queue was full. */
export function eventsDropped(): number {
  return events.page ? Atomics.load(events.page, EventPage.DROPPED) : 0;
}
