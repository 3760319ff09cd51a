/**
 * The disk driver library: what a server that drives a disk (the file server,
 * the pager's swap) uses. It claims the disk (`diskAttach`), binds the device
 * segment, puts commands in its submission ring and rings the doorbell (a Signal
 * on the segment), and takes completions from its completion ring, each raised
 * as an address-valued signal at the completion's own address (the device's
 * interrupt, 001 §3.1.2). The layout is kernel/abi/disk.ts; the device model is
 * kernel/dev/disk_rings.ts.
 *
 * Commands are asynchronous: `submit` returns a tag at once, and many may be in
 * flight; `wait(tag)` runs signal handlers (SigWait) until that tag's completion
 * has come, or, called inside a handler (a server's RPC procedure), where no
 * interrupt is taken, blocks on the FIFO the interrupt arrives in and looks at the
 * completion ring (waitInHandler). `read`, `write` and `flush` are submit-and-wait, and throw `SysError`
 * with the errno of a failed completion (EINVAL: misaligned, out of range, bad
 * length, a scribbled ring; ENOSYS: unknown operation; EFAULT: the buffer is not
 * mapped; EIO, ENOSPC, EPERM: the host file failed; ETIMEDOUT: no completion in
 * time). The bytes of a command are those at its `vaddr` in this process: a WRITE's
 * are read when the device takes the command, a READ's land when it completes.
 *
 * @example
 * ```ts
 * const disk = DiskDriver.attach(0);
 * const buf = allocate(4096);
 * write(buf, new TextEncoder().encode("hello"));
 * disk.write(0, buf, 4096);        // sector 0..7
 * disk.flush();                    // durable on the host file (fsync)
 * const t = disk.submit(DiskOp.READ, 0, 4096, buf); // asynchronous
 * disk.wait(t);                    // { tag, op, errno: 0, bytes: 4096, … }
 * ```
 */

import {
  DISK_CQ_CAPACITY,
  DISK_CQ_OFFSET,
  DISK_CQE_BYTES,
  DISK_CQE_WORDS,
  DISK_DOORBELL_OFFSET,
  DISK_FAULT_TEXT,
  DISK_MAGIC,
  DISK_MODEL_NAMES,
  DISK_SEGMENT_BYTES,
  DISK_SQ_CAPACITY,
  DISK_SQ_OFFSET,
  DISK_SQE_WORDS,
  DiskCqe,
  DiskFault,
  type DiskModelName,
  DiskOp,
  DiskReg,
  DiskSqe,
} from "../../../kernel/abi/disk.ts";
import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { view32 } from "../rt/mmu.ts";
import { inSignalHandler, Signal, SignalHandler, SigWait, waitInHandler } from "../rt/signals.ts";
import { diskAttach } from "../sys/disk.ts";
import { signalEvents } from "../sys/tripwire.ts";
import { bind } from "../sys/memory.ts";

/** One completion, as the device wrote it. */
export interface DiskCompletion {
  readonly tag: number;
  /** The command's operation (DiskOp), as the device read it. */
  readonly op: number;
  /** 0, or the error code (Errno). */
  readonly errno: number;
  /** DiskFault: which check failed. */
  readonly reason: number;
  /** Bytes moved. */
  readonly bytes: number;
  /** The completion's number on this attachment, from 1. */
  readonly seq: number;
}

const OP_NAMES: Record<number, string> = { 1: "read", 2: "write", 3: "flush" };

/** The SysError a failed completion stands for (null if it succeeded). */
export function diskError(unit: number, c: DiskCompletion): SysError | null {
  if (c.errno === 0) return null;
  const what = DISK_FAULT_TEXT[c.reason] ?? `reason ${c.reason}`;
  return new SysError(c.errno, `disk ${unit} ${OP_NAMES[c.op] ?? `op ${c.op}`}`, what);
}

/** How long a wait lasts unless told: generous, since the 1994 model is slow. */
const WAIT_MS = 10_000;
/** A wait looks at the ring this often even without a signal (a dropped one cannot hang it). */
const LOOK_MS = 50;

export class DiskDriver {
  readonly unit: number;
  /** The device segment's id and where it is bound. */
  readonly segment: number;
  readonly base: number;
  /** The disk's size in bytes, and its timing model. */
  readonly size: number;
  readonly model: DiskModelName;
  /**
   * Called with every completion as it is taken from the ring, instead of keeping
   * it for `wait` (a server that dispatches completions itself).
   */
  onComplete: ((c: DiskCompletion) => void) | null = null;
  readonly #w: Int32Array;
  readonly #done = new Map<number, DiskCompletion>();
  #sqTail: number;
  #cqHead: number;
  #nextTag = 1;

  /** Claims disk `unit` (diskAttach), binds its device segment and handles its interrupts. */
  static attach(unit: number): DiskDriver {
    const segment = diskAttach(unit);
    return new DiskDriver(unit, segment, bind(segment));
  }

  private constructor(unit: number, segment: number, base: number) {
    this.unit = unit;
    this.segment = segment;
    this.base = base;
    const w = this.#w = view32(base, DISK_SEGMENT_BYTES / 4, true);
    if (w[DiskReg.MAGIC] !== DISK_MAGIC) {
      throw new SysError(Errno.EIO, "DiskDriver.attach", `disk ${unit}: no device at ${base}`);
    }
    this.size = (w[DiskReg.SIZE_LO] >>> 0) + (w[DiskReg.SIZE_HI] >>> 0) * 2 ** 32;
    this.model = DISK_MODEL_NAMES[w[DiskReg.MODEL]] ?? "ssd";
    this.#sqTail = Atomics.load(w, DiskReg.SQ_TAIL);
    this.#cqHead = Atomics.load(w, DiskReg.CQ_HEAD);
    SignalHandler(base + DISK_CQ_OFFSET, DISK_CQ_CAPACITY * DISK_CQE_BYTES, () => this.poll());
  }

  /**
   * Delivers the disk's interrupts as SIGNAL events with id `tag` in this process's
   * event queue instead of handler calls (`signalEvents`): a server that waits on
   * its queue for other work (the swap pager's page requests) then sees them there,
   * and calls `poll` for each.
   */
  interruptsAsEvents(tag: number): void {
    signalEvents(this.base + DISK_CQ_OFFSET, DISK_CQ_CAPACITY * DISK_CQE_BYTES, tag);
  }

  /** The device segment's words (registers and rings), for tools and tests. */
  get words(): Int32Array {
    return this.#w;
  }

  /**
   * Queues a command and (unless `ring` is false) rings the doorbell; returns its
   * tag (a fresh one unless `tag` is given). Waits while the submission ring is
   * full. The device checks the command, not this library: a bad one completes
   * with its error.
   */
  submit(op: number, offset: number, length: number, vaddr: number, o: SubmitOptions = {}): number {
    const w = this.#w;
    const deadline = performance.now() + (o.timeoutMs ?? WAIT_MS);
    while (((this.#sqTail - Atomics.load(w, DiskReg.SQ_HEAD)) | 0) >= DISK_SQ_CAPACITY) {
      this.kick();
      if (performance.now() > deadline) {
        throw new SysError(Errno.ETIMEDOUT, `disk ${this.unit} submit`, "the ring stayed full");
      }
      SigWait(LOOK_MS);
      this.poll();
    }
    const tag = (o.tag ?? this.#freshTag()) | 0;
    const at = DISK_SQ_OFFSET / 4 + ((this.#sqTail >>> 0) % DISK_SQ_CAPACITY) * DISK_SQE_WORDS;
    w[at + DiskSqe.OP] = op;
    w[at + DiskSqe.TAG] = tag;
    w[at + DiskSqe.OFFSET_LO] = offset % 2 ** 32;
    w[at + DiskSqe.OFFSET_HI] = Math.floor(offset / 2 ** 32);
    w[at + DiskSqe.LENGTH] = length;
    w[at + DiskSqe.VADDR] = vaddr;
    this.#sqTail = (this.#sqTail + 1) | 0;
    Atomics.store(w, DiskReg.SQ_TAIL, this.#sqTail);
    if (o.ring !== false) this.kick();
    return tag;
  }

  /** Rings the doorbell: the device takes every command queued that it has room for. */
  kick(): void {
    Signal(this.base + DISK_DOORBELL_OFFSET);
  }

  /**
   * Takes every completion the device has posted (the interrupt handler calls it);
   * returns how many. Rings the doorbell again if commands wait for the room.
   */
  poll(): number {
    const w = this.#w;
    const tail = Atomics.load(w, DiskReg.CQ_TAIL);
    let n = 0;
    while (this.#cqHead !== tail && n < DISK_CQ_CAPACITY) {
      const at = DISK_CQ_OFFSET / 4 + ((this.#cqHead >>> 0) % DISK_CQ_CAPACITY) * DISK_CQE_WORDS;
      const c: DiskCompletion = {
        tag: w[at + DiskCqe.TAG],
        op: w[at + DiskCqe.OP],
        errno: w[at + DiskCqe.ERRNO],
        reason: w[at + DiskCqe.REASON],
        bytes: w[at + DiskCqe.BYTES],
        seq: w[at + DiskCqe.SEQ],
      };
      this.#cqHead = (this.#cqHead + 1) | 0;
      n++;
      // The device found SQ_TAIL scribbled and skipped what it claimed: go on from there.
      if (c.tag === 0 && c.reason === DiskFault.RING) {
        this.#sqTail = Atomics.load(w, DiskReg.SQ_HEAD);
        Atomics.store(w, DiskReg.SQ_TAIL, this.#sqTail);
      }
      if (this.onComplete) this.onComplete(c);
      else this.#done.set(c.tag, c);
    }
    if (n > 0) {
      Atomics.store(w, DiskReg.CQ_HEAD, this.#cqHead);
      if (Atomics.load(w, DiskReg.SQ_HEAD) !== this.#sqTail) this.kick();
    }
    return n;
  }

  /**
   * Waits for the completion of `tag` (running signal handlers meanwhile) and
   * returns it, failed or not; throws SysError(ETIMEDOUT) if it has not come in
   * `timeoutMs`.
   */
  wait(tag: number, timeoutMs = WAIT_MS): DiskCompletion {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.poll();
      const c = this.#done.get(tag);
      if (c) {
        this.#done.delete(tag);
        return c;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new SysError(Errno.ETIMEDOUT, `disk ${this.unit}`, `no completion for tag ${tag}`);
      }
      if (inSignalHandler()) {
        // No interrupt is taken inside a handler (an RPC procedure of a server): the
        // wait blocks on the FIFO the interrupt arrives in, and looks at the ring.
        waitInHandler(this.#completed, left);
      } else SigWait(Math.min(left, LOOK_MS));
    }
  }

  /** A completion is in the ring that poll has not taken (the device posts it before its interrupt). */
  readonly #completed = () => Atomics.load(this.#w, DiskReg.CQ_TAIL) !== this.#cqHead;

  /** The completion of `tag` if it has come (no wait), taking it. */
  take(tag: number): DiskCompletion | null {
    this.poll();
    const c = this.#done.get(tag) ?? null;
    if (c) this.#done.delete(tag);
    return c;
  }

  /** Reads `length` bytes at disk `offset` into this process's memory at `vaddr`. */
  read(offset: number, vaddr: number, length: number, timeoutMs = WAIT_MS): void {
    this.#run(DiskOp.READ, offset, length, vaddr, timeoutMs);
  }

  /** Writes `length` bytes of this process's memory at `vaddr` to disk `offset`. */
  write(offset: number, vaddr: number, length: number, timeoutMs = WAIT_MS): void {
    this.#run(DiskOp.WRITE, offset, length, vaddr, timeoutMs);
  }

  /** Returns once every write completed before it is durable on the host file (fsync). */
  flush(timeoutMs = WAIT_MS): void {
    this.#run(DiskOp.FLUSH, 0, 0, 0, timeoutMs);
  }

  #run(op: number, offset: number, length: number, vaddr: number, timeoutMs: number): void {
    const c = this.wait(this.submit(op, offset, length, vaddr, { timeoutMs }), timeoutMs);
    const e = diskError(this.unit, c);
    if (e) throw e;
  }

  #freshTag(): number {
    const tag = this.#nextTag;
    this.#nextTag = (this.#nextTag + 1) >>> 0 || 1; // 0 is the device's own (ring errors)
    return tag;
  }
}

export interface SubmitOptions {
  /** The command's tag (default: a fresh one; 0 is what the device's ring errors carry). */
  tag?: number;
  /** Ring the doorbell (default true); false to queue several and `kick()` once. */
  ring?: boolean;
  /** How long to wait for room in a full ring (default 10 s). */
  timeoutMs?: number;
}
