/**
 * Tripwires (002 §2.5, §3.3): the network interface's content-addressable memory,
 * emulated. A Tripwire watches a range of memory for accesses that cross the
 * network: reads or writes arriving from other nodes to local memory, or (OUTGOING)
 * this node's own accesses to a remote segment, seen as they complete (a posted
 * WRITE, which never completes, as it leaves). When one
 * matches, the owner's bit in its event page is set (the process tests it without a
 * trap, and may block on it), waiters are woken, and, if asked, an event goes into
 * its asynchronous event queue. A Tripwire stays armed until disarmed.
 *
 * Matching is by hashing, never by scanning every armed Tripwire: a range of up to
 * BUCKET_LIMIT lines is entered in the bucket of every 64-byte line it covers, a
 * longer one in the bucket of every page; an access looks only at the buckets of
 * the lines and pages it touches. Its cost grows with the Tripwires sharing those
 * lines, not with the number armed on the node.
 */

import {
  Access,
  EVENT_CAPACITY,
  EVENT_PAGE_BYTES,
  EVENT_WORDS,
  EventKind,
  EventPage,
  MAX_TRIPWIRES,
  PAGE_SHIFT,
  Trap,
  TripwireFlag,
} from "../abi/layout.ts";
import type { Process } from "../proc/process.ts";

/**
 * Where a Tripwire watches: a local segment (its id, positive), or a remote one
 * this node accesses (negative: node and export id). A number, so matching an
 * access builds no string.
 */
export type WireTarget = number;

export function localTarget(segment: number): WireTarget {
  return segment;
}

export function outgoingTarget(node: number, exportId: number): WireTarget {
  return -(node * 0x1_0000_0000 + exportId) - 1;
}

interface Wire {
  readonly pid: number;
  readonly id: number;
  readonly target: WireTarget;
  readonly first: number;
  readonly end: number;
  readonly flags: number;
  /** Its bucket keys in its target's buckets: line·2, or page·2 + 1. */
  readonly keys: number[];
  /** The match call that last fired it: a range in two buckets fires once per access. */
  stamp: number;
}

/** What the table needs of the process that owns a Tripwire. */
export interface WireOwner {
  /** The owner's event page, or null if it is gone. */
  eventPage(pid: number): Int32Array | null;
}

const LINE_SHIFT = 6;
const BUCKET_LIMIT = 64;
/** Armed Tripwires one node keeps at most (002's NIC: 4096; we allow more). */
export const MAX_ARMED = 65_536;
/**
 * Bucket entries one process may hold (a long range takes one per page): bounds
 * the kernel memory and time Tripwires cost, whatever ranges a process asks for.
 */
export const MAX_KEYS_PER_PROCESS = 65_536;

export class TripwireTable {
  /** Tripwires armed now, and how many times any fired. */
  armed = 0;
  fired = 0;
  /** Bucket entries looked at by matching, over all accesses: the cost of matching. */
  examined = 0;
  readonly #owner: WireOwner;
  /** Per target, the buckets: Tripwires by line (key line·2) or page (page·2 + 1). */
  readonly #targets = new Map<WireTarget, Map<number, Wire[]>>();
  readonly #byProcess = new Map<number, Map<number, Wire>>();
  readonly #keys = new Map<number, number>();
  #stamp = 0;

  constructor(owner: WireOwner) {
    this.#owner = owner;
  }

  /** Bucket entries a range takes (the cost arm() would charge). */
  static keysFor(first: number, end: number): number {
    const lines = ((end - 1) >>> LINE_SHIFT) - (first >>> LINE_SHIFT) + 1;
    return lines <= BUCKET_LIMIT ? lines : ((end - 1) >>> PAGE_SHIFT) - (first >>> PAGE_SHIFT) + 1;
  }

  /** Bucket entries `pid`'s armed Tripwires hold. */
  keysOf(pid: number): number {
    return this.#keys.get(pid) ?? 0;
  }

  /** Arms (or re-arms) Tripwire `id` of `pid` on [first, end) of `target`. */
  arm(pid: number, id: number, target: WireTarget, first: number, end: number, flags: number) {
    this.disarm(pid, id);
    const keys: number[] = [];
    const lines = ((end - 1) >>> LINE_SHIFT) - (first >>> LINE_SHIFT) + 1;
    if (lines <= BUCKET_LIMIT) {
      for (let l = first >>> LINE_SHIFT; l <= (end - 1) >>> LINE_SHIFT; l++) keys.push(l * 2);
    } else {
      for (let pg = first >>> PAGE_SHIFT; pg <= (end - 1) >>> PAGE_SHIFT; pg++) {
        keys.push(pg * 2 + 1);
      }
    }
    const w: Wire = { pid, id, target, first, end, flags, keys, stamp: 0 };
    let buckets = this.#targets.get(target);
    if (!buckets) this.#targets.set(target, buckets = new Map());
    for (const k of keys) {
      const b = buckets.get(k);
      if (b) b.push(w);
      else buckets.set(k, [w]);
    }
    let mine = this.#byProcess.get(pid);
    if (!mine) this.#byProcess.set(pid, mine = new Map());
    mine.set(id, w);
    this.#keys.set(pid, (this.#keys.get(pid) ?? 0) + keys.length);
    this.armed++;
  }

  /** Disarms Tripwire `id` of `pid`; true if it was armed. */
  disarm(pid: number, id: number): boolean {
    const w = this.#byProcess.get(pid)?.get(id);
    if (!w) return false;
    const buckets = this.#targets.get(w.target)!;
    for (const k of w.keys) {
      const b = buckets.get(k)!;
      b.splice(b.indexOf(w), 1);
      if (b.length === 0) buckets.delete(k);
    }
    if (buckets.size === 0) this.#targets.delete(w.target);
    this.#byProcess.get(pid)!.delete(id);
    this.#keys.set(pid, this.#keys.get(pid)! - w.keys.length);
    this.armed--;
    return true;
  }

  /** Disarms every Tripwire of a process (it exited). */
  dropProcess(pid: number): void {
    for (const id of [...(this.#byProcess.get(pid)?.keys() ?? [])]) this.disarm(pid, id);
    this.#byProcess.delete(pid);
    this.#keys.delete(pid);
  }

  /** How many Tripwires `pid` has armed. */
  armedBy(pid: number): number {
    return this.#byProcess.get(pid)?.size ?? 0;
  }

  /** Another node's access to local segment `segment` was served here. */
  matchLocal(segment: number, offset: number, count: number, access: number): void {
    if (this.armed !== 0) this.#match(localTarget(segment), offset, count, access);
  }

  /** This node's own access to a remote segment completed (or, posted, left). */
  matchOutgoing(node: number, exportId: number, offset: number, count: number, access: number) {
    if (this.armed !== 0) this.#match(outgoingTarget(node, exportId), offset, count, access);
  }

  /** An access of `count` bytes at `offset` of `target` crossed the network. */
  #match(target: WireTarget, offset: number, count: number, access: number): void {
    if (count === 0) return;
    const buckets = this.#targets.get(target);
    if (!buckets) return;
    const stamp = ++this.#stamp;
    const end = offset + count;
    const bit = access === Access.READ ? TripwireFlag.READ : TripwireFlag.WRITE;
    for (let l = offset >>> LINE_SHIFT; l <= (end - 1) >>> LINE_SHIFT; l++) {
      this.#look(buckets.get(l * 2), stamp, offset, end, bit, access);
    }
    for (let pg = offset >>> PAGE_SHIFT; pg <= (end - 1) >>> PAGE_SHIFT; pg++) {
      this.#look(buckets.get(pg * 2 + 1), stamp, offset, end, bit, access);
    }
  }

  #look(
    b: Wire[] | undefined,
    stamp: number,
    offset: number,
    end: number,
    bit: number,
    access: number,
  ) {
    if (!b) return;
    this.examined += b.length;
    for (const w of b) {
      if (w.stamp === stamp || !(w.flags & bit) || w.first >= end || w.end <= offset) continue;
      w.stamp = stamp;
      this.#fire(w, access);
    }
  }

  #fire(w: Wire, access: number): void {
    const page = this.#owner.eventPage(w.pid);
    if (!page) return;
    this.fired++;
    const word = EventPage.BITMAP + (w.id >>> 5);
    Atomics.or(page, word, 1 << (w.id & 31));
    Atomics.notify(page, word);
    if (w.flags & TripwireFlag.EVENT) postEvent(page, EventKind.TRIPWIRE, w.id, access);
  }
}

/** The process's event page, made and handed over on first use. */
export function eventPage(p: Process): Int32Array {
  if (!p.events) {
    const buffer = new SharedArrayBuffer(EVENT_PAGE_BYTES);
    p.events = new Int32Array(buffer);
    p.handle!.grant({ kind: "events", buffer });
    Atomics.add(p.trap, Trap.GRANTS, 1);
  }
  return p.events;
}

/**
 * Puts one event into a process's queue (the kernel is its only producer); a full
 * queue drops and counts. Returns false if dropped. O(1).
 */
export function postEvent(page: Int32Array, kind: number, id: number, info: number): boolean {
  const tail = page[EventPage.TAIL];
  if (((tail - Atomics.load(page, EventPage.HEAD)) | 0) >= EVENT_CAPACITY) {
    Atomics.add(page, EventPage.DROPPED, 1);
    return false;
  }
  const at = EventPage.ENTRIES + ((tail >>> 0) % EVENT_CAPACITY) * EVENT_WORDS;
  page[at + 1] = kind;
  page[at + 2] = id;
  page[at + 3] = info;
  Atomics.store(page, at, (tail + 1) | 0);
  Atomics.store(page, EventPage.TAIL, (tail + 1) | 0);
  if (Atomics.load(page, EventPage.WAITING) !== 0) Atomics.notify(page, EventPage.TAIL);
  return true;
}

/** Validates a Tripwire id. */
export function validTripwireId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < MAX_TRIPWIRES;
}

/** Puts a COMPLETION event into a running process's event queue (its page made if need be). */
export function completionEvent(p: Process, tag: number, errno: number): void {
  if (p.state === "running") postEvent(eventPage(p), EventKind.COMPLETION, tag, errno);
}
