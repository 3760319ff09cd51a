/**
 * The kernel's side of its channel to the node's name clerk (000 §4.1: "its clients
 * are not ordinary users but kernels"). The kernel posts ADDNAME / LOOKUPNAME /
 * DELETENAME / PURGE requests into the channel's request slots and signals the
 * slot; the clerk answers in place and signals back, which calls `onSignal`. The
 * clerk also posts INVALIDATE notices (a refresh found an imported name dead),
 * answered by marking the matching descriptors stale. Memory and signals only.
 */

import {
  CHANNEL_BYTES,
  CHANNEL_SLOT_BYTES,
  CHANNEL_SLOTS,
  MAX_NAME_BYTES,
  NameOp,
  NOTICE_OFFSET,
  NOTICE_SLOTS,
  Slot,
  SlotState,
} from "../abi/names.ts";
import type { Segment } from "../memory/segment.ts";

/** The fields of a request or an answer. */
export interface NameRecord {
  op: number;
  name: string;
  status: number;
  node: number;
  exportId: number;
  genHi: number;
  genLo: number;
  rights: number;
  size: number;
  hint: number;
  flags: number;
}

export function blankRecord(op: number, name = ""): NameRecord {
  return {
    op,
    name,
    status: 0,
    node: 0,
    exportId: 0,
    genHi: 0,
    genLo: 0,
    rights: 0,
    size: 0,
    hint: -1,
    flags: 0,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes a record into a slot at byte offset `at` of the channel (all but STATE). */
export function writeRecord(seg: Segment, at: number, r: NameRecord): void {
  const w = seg.words, base = at >> 2;
  const put = (field: number, v: number) => Atomics.store(w, base + (field >> 2), v | 0);
  put(Slot.OP, r.op);
  put(Slot.STATUS, r.status);
  put(Slot.NODE, r.node);
  put(Slot.EXPORT, r.exportId);
  put(Slot.GEN_HI, r.genHi);
  put(Slot.GEN_LO, r.genLo);
  put(Slot.RIGHTS, r.rights);
  put(Slot.SIZE, r.size);
  put(Slot.HINT, r.hint);
  put(Slot.FLAGS, r.flags);
  const name = encoder.encode(r.name).subarray(0, MAX_NAME_BYTES);
  put(Slot.NAME_LEN, name.length);
  seg.bytes.set(name, at + Slot.NAME);
}

/** Reads a record from a slot at byte offset `at` of the channel. */
export function readRecord(seg: Segment, at: number): NameRecord {
  const w = seg.words, base = at >> 2;
  const get = (field: number) => Atomics.load(w, base + (field >> 2));
  const len = Math.max(0, Math.min(MAX_NAME_BYTES, get(Slot.NAME_LEN)));
  return {
    op: get(Slot.OP),
    status: get(Slot.STATUS),
    node: get(Slot.NODE),
    exportId: get(Slot.EXPORT) >>> 0,
    genHi: get(Slot.GEN_HI) >>> 0,
    genLo: get(Slot.GEN_LO) >>> 0,
    rights: get(Slot.RIGHTS),
    size: get(Slot.SIZE) >>> 0,
    hint: get(Slot.HINT),
    flags: get(Slot.FLAGS),
    name: decoder.decode(seg.bytes.slice(at + Slot.NAME, at + Slot.NAME + len)),
  };
}

type Callback = (answer: NameRecord) => void;

export class NameClient {
  readonly channel: Segment;
  readonly #signal: (offset: number) => void;
  readonly #waiting: (Callback | null)[] = new Array(CHANNEL_SLOTS).fill(null);
  readonly #queue: { r: NameRecord; cb: Callback }[] = [];
  /** Called for each INVALIDATE notice from the clerk. */
  onInvalidate: (r: NameRecord) => void = () => {};

  constructor(channel: Segment, signal: (offset: number) => void) {
    if (channel.size < CHANNEL_BYTES) throw new RangeError("channel segment too small");
    this.channel = channel;
    this.#signal = signal;
  }

  /** Posts a request; `cb` runs with the clerk's answer. Returns a cancel function. */
  request(r: NameRecord, cb: Callback): () => void {
    const slot = this.#waiting.indexOf(null);
    if (slot < 0) {
      const item = { r, cb };
      this.#queue.push(item);
      return () => {
        const i = this.#queue.indexOf(item);
        if (i >= 0) this.#queue.splice(i, 1);
      };
    }
    this.#waiting[slot] = cb;
    const at = slot * CHANNEL_SLOT_BYTES;
    writeRecord(this.channel, at, r);
    Atomics.store(this.channel.words, (at + Slot.STATE) >> 2, SlotState.REQUEST);
    this.#signal(at);
    // A cancelled request still gets its answer; it is just not passed on.
    return () => {
      if (this.#waiting[slot] === cb) this.#waiting[slot] = () => {};
    };
  }

  /** A signal from the clerk on the channel at `offset`. */
  onSignal(offset: number): void {
    if (offset >= NOTICE_OFFSET) return this.#takeNotices();
    const slot = Math.floor(offset / CHANNEL_SLOT_BYTES);
    const at = slot * CHANNEL_SLOT_BYTES;
    const cb = this.#waiting[slot];
    if (!cb || Atomics.load(this.channel.words, (at + Slot.STATE) >> 2) !== SlotState.DONE) return;
    const answer = readRecord(this.channel, at);
    Atomics.store(this.channel.words, (at + Slot.STATE) >> 2, SlotState.FREE);
    this.#waiting[slot] = null;
    const next = this.#queue.shift();
    if (next) this.request(next.r, next.cb);
    cb(answer);
  }

  #takeNotices(): void {
    for (let i = 0; i < NOTICE_SLOTS; i++) {
      const at = NOTICE_OFFSET + i * CHANNEL_SLOT_BYTES;
      const state = (at + Slot.STATE) >> 2;
      if (Atomics.load(this.channel.words, state) !== SlotState.REQUEST) continue;
      const r = readRecord(this.channel, at);
      Atomics.store(this.channel.words, state, SlotState.FREE);
      if (r.op === NameOp.INVALIDATE) this.onInvalidate(r);
    }
  }

  /** Fails every waiting request (the clerk died). */
  failAll(status: number): void {
    for (let i = 0; i < CHANNEL_SLOTS; i++) {
      const cb = this.#waiting[i];
      this.#waiting[i] = null;
      if (cb) cb({ ...blankRecord(0), status });
    }
    for (const { r, cb } of this.#queue.splice(0)) cb({ ...r, status });
  }
}
