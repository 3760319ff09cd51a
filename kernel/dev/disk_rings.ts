/**
 * One attachment of a disk: the command and completion rings in its device
 * segment, as the device model serves them (the layout is kernel/abi/disk.ts).
 *
 * The driver rings the doorbell (a Signal at DISK_DOORBELL_OFFSET) after it has
 * filled commands; the device then takes every command it has room for, checking
 * each in reading order (op, length, alignment, range, buffer). A command that
 * fails a check completes at once with its typed error; one that passes starts
 * its host I/O at once (a WRITE's bytes are copied from the driver's memory as it
 * is taken, as a DMA engine reads them) and is due when the timing model says
 * (disk_model.ts). It completes when both the host I/O has finished and its time
 * has come: its completion is written at CQ_TAIL and raised as an address-valued
 * signal at the completion's own address (001 §3.1.2). A READ's bytes reach the
 * driver's memory then. Commands overlap: many are in flight at once, and they
 * may complete in any order; each completes exactly once.
 *
 * Room: a command is taken only while the commands in flight and the completions
 * not yet consumed leave a completion slot for it, so the completion ring cannot
 * overflow unless the driver moves CQ_HEAD backwards (counted in CQ_OVERRUNS).
 * When a completion frees room the device takes what waits in the ring; when the
 * driver consumes completions it rings the doorbell again.
 *
 * Nothing in the segment is trusted: the device keeps its own SQ_HEAD and CQ_TAIL
 * and only stores them; a SQ_TAIL more than the ring's size ahead, or a CQ_HEAD
 * that is not within a ring's size behind CQ_TAIL, is a scribbled ring: the
 * device resynchronises (drops the commands claimed, or takes CQ_HEAD to be
 * CQ_TAIL), counts it in RING_ERRORS and posts one RING completion with tag 0.
 *
 * Timers: the host's timers cannot wait less than about a millisecond, so a due
 * time closer than `timerFloorMs` is met by the host I/O and the event loop's
 * next turn instead (tests set the floor to 0 on a controlled clock).
 */

import {
  DISK_CQ_CAPACITY,
  DISK_CQ_OFFSET,
  DISK_CQE_BYTES,
  DISK_CQE_WORDS,
  DISK_MAGIC,
  DISK_MAX_TRANSFER,
  DISK_SQ_CAPACITY,
  DISK_SQ_OFFSET,
  DISK_SQE_WORDS,
  DISK_VERSION,
  DiskCqe,
  DiskFault,
  DiskOp,
  DiskReg,
  DiskSqe,
  SECTOR_BYTES,
} from "../abi/disk.ts";
import { Errno } from "../abi/errors.ts";
import type { Clock, Disk, DiskFailure, TimerHandle } from "../host_interface.ts";
import { KernelError } from "../panic.ts";
import type { DiskTimeline } from "./disk_model.ts";

/** The driver's memory, as a disk command's buffer reaches it (kernel/memory/user_copy.ts). */
export interface DmaMemory {
  /** Copies `count` bytes at `vaddr`; throws KernelError (EFAULT) where they are not mapped. */
  load(vaddr: number, count: number): Uint8Array;
  /** Throws KernelError (EFAULT) unless [vaddr, vaddr+count) is mapped writable. */
  checkWritable(vaddr: number, count: number): void;
  /** Stores `bytes` at `vaddr`; throws KernelError (EFAULT) where it cannot. */
  store(vaddr: number, bytes: Uint8Array): void;
}

export interface DiskRingsDeps {
  readonly clock: Clock;
  readonly disk: Disk;
  readonly timeline: DiskTimeline;
  readonly memory: DmaMemory;
  /** Which disk of the node, for the UNIT register. */
  readonly unit: number;
  /** Due times closer than this are not timed (see the header); default 1 ms. */
  readonly timerFloorMs?: number;
  /**
   * Due times closer than the floor are met by `pollDue`, which the kernel's trap
   * service calls while it spins (so an SSD's 45 µs is 45 µs); false (block-only
   * kernels, which never spin): such a command completes once its host I/O has.
   */
  readonly spinDue?: boolean;
  /** Raises the completion interrupt: an address-valued signal at `offset` of the segment. */
  interrupt(offset: number): void;
}

/** The error code each DiskFault completes with (HOST: the host's own). */
const FAULT_ERRNO: readonly number[] = [
  0,
  Errno.ENOSYS,
  Errno.EINVAL,
  Errno.EINVAL,
  Errno.EINVAL,
  Errno.EFAULT,
  Errno.EINVAL,
  Errno.EIO,
];

/** A command taken and not yet completed. */
interface Command {
  readonly tag: number;
  readonly op: number;
  readonly offset: number;
  readonly length: number;
  readonly vaddr: number;
  /** A READ's bytes from the host, or a WRITE's from the driver. */
  readonly data: Uint8Array | null;
  timer: TimerHandle | undefined;
  timed: boolean;
  /** When `pollDue` completes it (a due time under the floor), in the clock's ms. */
  dueAt: number;
  /** undefined while the host I/O runs; then null or its failure. */
  io: DiskFailure | null | undefined;
}

/**
 * Checks a command's words in reading order; returns the DiskFault it earns
 * (NONE if it may be taken). `size` is the disk's size in bytes.
 */
export function checkCommand(op: number, offset: number, length: number, size: number): number {
  if (op !== DiskOp.READ && op !== DiskOp.WRITE && op !== DiskOp.FLUSH) return DiskFault.OP;
  if (op === DiskOp.FLUSH) return length === 0 ? DiskFault.NONE : DiskFault.LENGTH;
  if (length === 0 || length > DISK_MAX_TRANSFER) return DiskFault.LENGTH;
  if (offset % SECTOR_BYTES !== 0 || length % SECTOR_BYTES !== 0) return DiskFault.ALIGN;
  if (offset + length > size) return DiskFault.RANGE;
  return DiskFault.NONE;
}

export class DiskRings {
  /** The device segment's words; the driver writes them too (only SQ_TAIL and CQ_HEAD are its). */
  readonly words: Int32Array;
  readonly #d: DiskRingsDeps;
  readonly #floor: number;
  readonly #pending = new Set<Command>();
  #sqHead = 0;
  #cqTail = 0;
  #completed = 0;
  #stopped = false;
  /** Inside `doorbell`: a completion's call to it only asks for another round. */
  #ringing = false;
  #again = false;
  /** Commands whose host I/O finished at once, completed once the round has taken all it can. */
  readonly #ready: Command[] = [];
  /** Commands due sooner than the timer floor, met by `pollDue`. */
  #due: Command[] = [];

  constructor(words: Int32Array, deps: DiskRingsDeps) {
    this.words = words;
    this.#d = deps;
    this.#floor = deps.timerFloorMs ?? 1;
    const w = words, size = deps.disk.size;
    w[DiskReg.MAGIC] = DISK_MAGIC;
    w[DiskReg.VERSION] = DISK_VERSION;
    w[DiskReg.SECTOR_BYTES] = SECTOR_BYTES;
    w[DiskReg.MAX_TRANSFER] = DISK_MAX_TRANSFER;
    w[DiskReg.SIZE_LO] = size % 2 ** 32;
    w[DiskReg.SIZE_HI] = Math.floor(size / 2 ** 32);
    w[DiskReg.SQ_CAPACITY] = DISK_SQ_CAPACITY;
    w[DiskReg.CQ_CAPACITY] = DISK_CQ_CAPACITY;
    w[DiskReg.MODEL] = deps.timeline.model.id;
    w[DiskReg.UNIT] = deps.unit;
  }

  /** Commands taken and not yet completed. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** The doorbell rang (or room came free): takes every command there is room for. */
  doorbell(): void {
    if (this.#stopped) return;
    if (this.#ringing) {
      this.#again = true;
      return;
    }
    this.#ringing = true;
    try {
      do {
        this.#again = false;
        this.#takeAll();
        for (let c; (c = this.#ready.shift());) this.#finish(c);
      } while (this.#again && !this.#stopped);
    } finally {
      this.#ringing = false;
    }
  }

  /** Takes every command there is room for. */
  #takeAll(): void {
    const w = this.words;
    let room = this.#room();
    const tail = Atomics.load(w, DiskReg.SQ_TAIL);
    const queued = (tail - this.#sqHead) | 0;
    if (queued < 0 || queued > DISK_SQ_CAPACITY) {
      // SQ_TAIL is the driver's word and it is garbage: drop what it claims, once.
      this.#sqHead = tail;
      Atomics.store(w, DiskReg.SQ_HEAD, tail);
      this.#ringError();
      return;
    }
    while (this.#sqHead !== tail && room > 0) {
      this.#take(DISK_SQ_OFFSET / 4 + ((this.#sqHead >>> 0) % DISK_SQ_CAPACITY) * DISK_SQE_WORDS);
      this.#sqHead = (this.#sqHead + 1) | 0;
      Atomics.store(w, DiskReg.SQ_HEAD, this.#sqHead);
      room--;
    }
  }

  /**
   * Completes the commands whose due time (under the timer floor) has come; true
   * while any is still due, so the trap service keeps spinning until it is.
   */
  pollDue(): boolean {
    if (this.#due.length === 0) return false;
    const now = this.#d.clock.now();
    const due = this.#due;
    this.#due = [];
    for (const c of due) {
      if (now < c.dueAt) this.#due.push(c);
      else {
        c.timed = true;
        this.#finish(c);
      }
    }
    return true;
  }

  /** The driver is gone: nothing more is taken or completed; host I/O in flight is ignored. */
  stop(): void {
    this.#stopped = true;
    for (const c of this.#pending) this.#d.clock.clearTimeout(c.timer);
    this.#pending.clear();
    this.#due = [];
  }

  /**
   * Completion slots free for new commands. A CQ_HEAD found scribbled is taken to
   * be CQ_TAIL (every completion consumed), with a RING completion to say so.
   */
  #room(): number {
    const w = this.words;
    for (let tries = 0; tries < 2; tries++) {
      const unconsumed = (this.#cqTail - Atomics.load(w, DiskReg.CQ_HEAD)) | 0;
      if (unconsumed >= 0 && unconsumed <= DISK_CQ_CAPACITY) {
        return DISK_CQ_CAPACITY - unconsumed - this.#pending.size;
      }
      Atomics.store(w, DiskReg.CQ_HEAD, this.#cqTail);
      this.#ringError();
    }
    return 0; // the driver keeps scribbling: take nothing this time
  }

  #ringError(): void {
    Atomics.add(this.words, DiskReg.RING_ERRORS, 1);
    const unconsumed = (this.#cqTail - Atomics.load(this.words, DiskReg.CQ_HEAD)) | 0;
    if (unconsumed + this.#pending.size < DISK_CQ_CAPACITY) {
      this.#post(0, 0, Errno.EINVAL, DiskFault.RING, 0);
    }
  }

  /** Takes the command at word `at`: completes it with its error, or starts it. */
  #take(at: number): void {
    const w = this.words, d = this.#d;
    const op = w[at + DiskSqe.OP];
    const tag = w[at + DiskSqe.TAG];
    const offset = (w[at + DiskSqe.OFFSET_LO] >>> 0) + (w[at + DiskSqe.OFFSET_HI] >>> 0) * 2 ** 32;
    const length = w[at + DiskSqe.LENGTH] >>> 0;
    const vaddr = w[at + DiskSqe.VADDR] >>> 0;
    const fault = checkCommand(op, offset, length, d.disk.size);
    if (fault !== DiskFault.NONE) return this.#post(tag, op, FAULT_ERRNO[fault], fault, 0);
    let data: Uint8Array | null = null;
    try {
      if (op === DiskOp.WRITE) data = d.memory.load(vaddr, length);
      else if (op === DiskOp.READ) {
        d.memory.checkWritable(vaddr, length);
        data = new Uint8Array(length);
      }
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      return this.#post(tag, op, Errno.EFAULT, DiskFault.BUFFER, 0);
    }
    const c: Command = {
      tag,
      op,
      offset,
      length,
      vaddr,
      data,
      timer: undefined,
      timed: false,
      dueAt: 0,
      io: undefined,
    };
    this.#pending.add(c);
    Atomics.store(w, DiskReg.IN_FLIGHT, this.#pending.size);
    const now = d.clock.now();
    const wait = d.timeline.schedule(now, op, offset, length) - now;
    if (wait >= this.#floor && wait > 0) {
      c.timer = d.clock.setTimeout(() => {
        c.timer = undefined;
        c.timed = true;
        this.#finish(c);
      }, wait);
    } else if (wait > 0 && this.#d.spinDue) {
      c.dueAt = now + wait;
      this.#due.push(c);
    } else c.timed = true;
    const io = op === DiskOp.READ
      ? d.disk.read(offset, data!)
      : op === DiskOp.WRITE
      ? d.disk.write(offset, data!)
      : d.disk.flush();
    if (!(io instanceof Promise)) {
      c.io = io; // done already (the host's page cache): completed after this round
      if (c.timed) this.#ready.push(c);
      return;
    }
    io.then(
      (failure) => failure,
      (e) => ({ errno: Errno.EIO, detail: String(e) }),
    ).then((failure) => {
      c.io = failure;
      this.#finish(c);
    });
  }

  /** Completes `c` once its host I/O has finished and its time has come. */
  #finish(c: Command): void {
    if (!c.timed || c.io === undefined || !this.#pending.delete(c)) return;
    let errno = 0, reason: number = DiskFault.NONE, bytes = c.length;
    if (c.io) {
      errno = c.io.errno;
      reason = DiskFault.HOST;
      bytes = 0;
    } else if (c.op === DiskOp.READ) {
      try {
        this.#d.memory.store(c.vaddr, c.data!);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        errno = Errno.EFAULT;
        reason = DiskFault.BUFFER;
        bytes = 0;
      }
    }
    this.#post(c.tag, c.op, errno, reason, bytes);
    this.doorbell(); // room came free: take what waits
  }

  /** Writes a completion at CQ_TAIL, publishes it and raises its interrupt. */
  #post(tag: number, op: number, errno: number, reason: number, bytes: number): void {
    const w = this.words;
    const unconsumed = (this.#cqTail - Atomics.load(w, DiskReg.CQ_HEAD)) | 0;
    if (unconsumed >= DISK_CQ_CAPACITY) Atomics.add(w, DiskReg.CQ_OVERRUNS, 1);
    const slot = (this.#cqTail >>> 0) % DISK_CQ_CAPACITY;
    const at = DISK_CQ_OFFSET / 4 + slot * DISK_CQE_WORDS;
    w[at + DiskCqe.TAG] = tag;
    w[at + DiskCqe.ERRNO] = errno;
    w[at + DiskCqe.REASON] = reason;
    w[at + DiskCqe.BYTES] = bytes;
    w[at + DiskCqe.OP] = op;
    w[at + DiskCqe.SEQ] = ++this.#completed;
    this.#cqTail = (this.#cqTail + 1) | 0;
    Atomics.store(w, DiskReg.CQ_TAIL, this.#cqTail);
    Atomics.store(w, DiskReg.COMPLETED, this.#completed);
    Atomics.store(w, DiskReg.IN_FLIGHT, this.#pending.size);
    this.#d.interrupt(DISK_CQ_OFFSET + slot * DISK_CQE_BYTES);
  }
}
