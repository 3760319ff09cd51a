/**
 * The disk device on its own (kernel/dev/disk_rings.ts, disk_model.ts): its rings
 * driven from the test as a driver would, over an image in memory whose host I/O
 * the test completes when and in the order it likes, on a controlled clock. The
 * timing models' figures are asserted as numbers, never timed.
 */

import assert from "node:assert/strict";

import {
  DISK_CQ_CAPACITY,
  DISK_CQ_OFFSET,
  DISK_CQE_BYTES,
  DISK_CQE_WORDS,
  DISK_MAGIC,
  DISK_SEGMENT_BYTES,
  DISK_SQ_CAPACITY,
  DISK_SQ_OFFSET,
  DISK_SQE_WORDS,
  DiskCqe,
  DiskFault,
  DiskOp,
  DiskReg,
  DiskSqe,
} from "../kernel/abi/disk.ts";
import { Errno } from "../kernel/abi/errors.ts";
import {
  DISK_1994,
  DiskTimeline,
  HP97560_REVOLUTION_MS,
  seekMs,
  SSD,
} from "../kernel/dev/disk_model.ts";
import { checkCommand, DiskRings, type DmaMemory } from "../kernel/dev/disk_rings.ts";
import type { Disk, DiskFailure } from "../kernel/host_interface.ts";
import { fail } from "../kernel/panic.ts";
import { ManualClock } from "./manual_clock.ts";

const KIB = 1024;

/** An image in memory whose operations finish when the test says (or at once). */
class MemoryDisk implements Disk {
  readonly name = "memory";
  readonly bytes: Uint8Array;
  /** Operations not yet finished, oldest first, while `hold` is set. */
  readonly held: (() => void)[] = [];
  hold = false;
  failWith: DiskFailure | null = null;
  flushes = 0;
  constructor(readonly size: number) {
    this.bytes = new Uint8Array(size);
  }
  read(offset: number, into: Uint8Array) {
    return this.#op(() => into.set(this.bytes.subarray(offset, offset + into.length)));
  }
  write(offset: number, from: Uint8Array) {
    return this.#op(() => this.bytes.set(from, offset));
  }
  flush() {
    return this.#op(() => void this.flushes++);
  }
  #op(run: () => void): Promise<DiskFailure | null> {
    const { promise, resolve } = Promise.withResolvers<DiskFailure | null>();
    const go = () => {
      if (this.failWith) return resolve(this.failWith);
      run();
      resolve(null);
    };
    if (this.hold) this.held.push(go);
    else go();
    return promise;
  }
}

/** A driver's memory: one 1 MiB buffer mapped at 0x10000000, the rest unmapped. */
class FlatMemory implements DmaMemory {
  static readonly BASE = 0x1000_0000;
  readonly bytes = new Uint8Array(1024 * KIB);
  #at(vaddr: number, count: number): number {
    const off = vaddr - FlatMemory.BASE;
    if (off < 0 || off + count > this.bytes.length) fail("EFAULT", `${vaddr} is not mapped`);
    return off;
  }
  load(vaddr: number, count: number) {
    const off = this.#at(vaddr, count);
    return this.bytes.slice(off, off + count);
  }
  checkWritable(vaddr: number, count: number) {
    this.#at(vaddr, count);
  }
  store(vaddr: number, bytes: Uint8Array) {
    this.bytes.set(bytes, this.#at(vaddr, bytes.length));
  }
}

/** A device on a controlled clock, with the test as its driver. */
function rig(model = SSD, size = 1024 * KIB) {
  const clock = new ManualClock();
  const disk = new MemoryDisk(size);
  const memory = new FlatMemory();
  const words = new Int32Array(new SharedArrayBuffer(DISK_SEGMENT_BYTES));
  const interrupts: number[] = [];
  const timeline = new DiskTimeline(model);
  const rings = new DiskRings(words, {
    clock,
    disk,
    timeline,
    memory,
    unit: 0,
    timerFloorMs: 0,
    interrupt: (offset) => interrupts.push(offset),
  });
  let sqTail = 0, cqHead = 0;
  const submit = (op: number, offset: number, length: number, vaddr: number, tag: number) => {
    const at = DISK_SQ_OFFSET / 4 + (sqTail % DISK_SQ_CAPACITY) * DISK_SQE_WORDS;
    words[at + DiskSqe.OP] = op;
    words[at + DiskSqe.TAG] = tag;
    words[at + DiskSqe.OFFSET_LO] = offset;
    words[at + DiskSqe.OFFSET_HI] = 0;
    words[at + DiskSqe.LENGTH] = length;
    words[at + DiskSqe.VADDR] = vaddr;
    Atomics.store(words, DiskReg.SQ_TAIL, ++sqTail);
  };
  /** Consumes every posted completion. */
  const completions = () => {
    const out: { tag: number; errno: number; reason: number; bytes: number; seq: number }[] = [];
    const tail = Atomics.load(words, DiskReg.CQ_TAIL);
    for (; cqHead !== tail; cqHead++) {
      const at = DISK_CQ_OFFSET / 4 + (cqHead % DISK_CQ_CAPACITY) * DISK_CQE_WORDS;
      out.push({
        tag: words[at + DiskCqe.TAG],
        errno: words[at + DiskCqe.ERRNO],
        reason: words[at + DiskCqe.REASON],
        bytes: words[at + DiskCqe.BYTES],
        seq: words[at + DiskCqe.SEQ],
      });
    }
    Atomics.store(words, DiskReg.CQ_HEAD, cqHead);
    return out;
  };
  /** Lets pending promise callbacks run (the host I/O's completions). */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { clock, disk, memory, words, rings, interrupts, timeline, submit, completions, settle };
}

const BUF = FlatMemory.BASE;

Deno.test("the SSD model: QD1 latency plus size over the sequential rate, latencies overlapping", () => {
  assert.equal(SSD.readLatencyMs, 1000 / 22_000); // 45.5 µs
  assert.equal(SSD.readRate, 7_450_000); // bytes per ms: 7,450 MB/s
  const t = new DiskTimeline(SSD);
  const first = t.schedule(0, DiskOp.READ, 0, 64 * KIB);
  assert.ok(Math.abs(first - (1000 / 22_000 + 65_536 / 7_450_000)) < 1e-9, `${first}`);
  // A second read taken at once overlaps its latency; only its transfer waits.
  const second = t.schedule(0, DiskOp.READ, 1 << 20, 64 * KIB);
  assert.ok(Math.abs(second - (first + 65_536 / 7_450_000)) < 1e-9, `${second}`);
  // A write after a quiet spell pays its own latency and transfer only.
  const w = t.schedule(100, DiskOp.WRITE, 0, 4096);
  assert.ok(Math.abs(w - (100 + 1000 / 80_000 + 4096 / 6_900_000)) < 1e-9, `${w}`);
  // A flush completes after every transfer before it.
  assert.equal(t.schedule(100, DiskOp.FLUSH, 0, 0), Math.max(100 + SSD.flushLatencyMs, w));
});

Deno.test("the 1994 model: overhead, seek by distance, half a revolution and the media rate, one at a time", () => {
  assert.ok(Math.abs(HP97560_REVOLUTION_MS - 14.993) < 0.001); // 4,002 rpm
  assert.ok(Math.abs(DISK_1994.readRate - 2458.8) < 0.1); // 36,864 bytes a revolution
  assert.equal(seekMs(0), 0);
  assert.equal(seekMs(100), 3.24 + 0.4 * 10);
  assert.equal(seekMs(1000), 8.0 + 8.0);
  const t = new DiskTimeline(DISK_1994);
  const cyl = DISK_1994.cylinderBytes; // 72 × 512 × 19 bytes
  const xfer = 4096 / DISK_1994.readRate;
  const a = t.schedule(0, DiskOp.READ, 0, 4096); // the head starts at cylinder 0
  assert.ok(Math.abs(a - (2.2 + HP97560_REVOLUTION_MS / 2 + xfer)) < 1e-9, `${a}`);
  // Taken at the same time, the next waits for the first, then seeks 100 cylinders.
  const b = t.schedule(0, DiskOp.READ, 100 * cyl, 4096);
  assert.ok(Math.abs(b - (a + 2.2 + seekMs(100) + HP97560_REVOLUTION_MS / 2 + xfer)) < 1e-9);
  assert.equal(t.cylinder, 100);
  assert.equal(t.schedule(b, DiskOp.FLUSH, 0, 0), b + 2.2);
});

Deno.test("checkCommand() names each bad command's fault in reading order", () => {
  const size = 1024 * KIB;
  assert.equal(checkCommand(DiskOp.READ, 0, 512, size), DiskFault.NONE);
  assert.equal(checkCommand(9, 0, 512, size), DiskFault.OP);
  assert.equal(checkCommand(DiskOp.READ, 0, 0, size), DiskFault.LENGTH);
  assert.equal(checkCommand(DiskOp.WRITE, 0, 64 * KIB + 512, size), DiskFault.LENGTH);
  assert.equal(checkCommand(DiskOp.FLUSH, 0, 512, size), DiskFault.LENGTH);
  assert.equal(checkCommand(DiskOp.READ, 100, 512, size), DiskFault.ALIGN);
  assert.equal(checkCommand(DiskOp.READ, 0, 100, size), DiskFault.ALIGN);
  assert.equal(checkCommand(DiskOp.READ, size - 512, 1024, size), DiskFault.RANGE);
  assert.equal(checkCommand(DiskOp.WRITE, size, 512, size), DiskFault.RANGE);
});

Deno.test("DiskRings: a write then a read of it completes, each signalled at its own completion", async () => {
  const r = rig();
  assert.equal(r.words[DiskReg.MAGIC], DISK_MAGIC);
  assert.equal(r.words[DiskReg.SIZE_LO], 1024 * KIB);
  r.memory.bytes.set([1, 2, 3, 4], 0);
  r.submit(DiskOp.WRITE, 8192, 4096, BUF, 11);
  r.rings.doorbell();
  r.memory.bytes.fill(0, 0, 4); // the bytes were taken with the command
  await r.settle();
  r.clock.advance(1);
  assert.deepEqual([...r.disk.bytes.subarray(8192, 8196)], [1, 2, 3, 4]);
  r.submit(DiskOp.READ, 8192, 4096, BUF + 4096, 12);
  r.rings.doorbell();
  await r.settle();
  r.clock.advance(1);
  assert.deepEqual([...r.memory.bytes.subarray(4096, 4100)], [1, 2, 3, 4]);
  const done = r.completions();
  assert.deepEqual(done.map((c) => [c.tag, c.errno, c.bytes, c.seq]), [
    [11, 0, 4096, 1],
    [12, 0, 4096, 2],
  ]);
  assert.deepEqual(r.interrupts, [DISK_CQ_OFFSET, DISK_CQ_OFFSET + DISK_CQE_BYTES]);
});

Deno.test("DiskRings: a completion waits for the model's due time, not just the host I/O", async () => {
  const r = rig(DISK_1994);
  r.submit(DiskOp.READ, 0, 4096, BUF, 1);
  r.rings.doorbell();
  await r.settle(); // the host I/O is done at once
  const due = 2.2 + HP97560_REVOLUTION_MS / 2 + 4096 / DISK_1994.readRate;
  r.clock.advance(due - 0.001);
  assert.equal(r.completions().length, 0, "completed before the model's time");
  r.clock.advance(0.001);
  assert.deepEqual(r.completions().map((c) => c.tag), [1]);
  assert.ok(Math.abs(r.clock.now() - due) < 1e-9);
});

Deno.test("DiskRings: a completion waits for the host I/O past the model's time", async () => {
  const r = rig();
  r.disk.hold = true;
  r.submit(DiskOp.READ, 0, 4096, BUF, 5);
  r.rings.doorbell();
  r.clock.advance(10);
  await r.settle();
  assert.equal(r.completions().length, 0);
  r.disk.held.shift()!();
  await r.settle();
  assert.deepEqual(r.completions().map((c) => c.tag), [5]);
});

Deno.test("DiskRings: many commands in flight complete once each, in the order the host finishes", async () => {
  const r = rig();
  r.disk.hold = true;
  const n = DISK_SQ_CAPACITY;
  for (let i = 0; i < n; i++) r.submit(DiskOp.WRITE, i * 4096, 4096, BUF, 100 + i);
  r.rings.doorbell();
  assert.equal(r.rings.inFlight, n);
  assert.equal(r.words[DiskReg.IN_FLIGHT], n);
  r.clock.advance(50);
  // The host finishes them last first.
  while (r.disk.held.length) r.disk.held.pop()!();
  await r.settle();
  const done = r.completions();
  assert.equal(done.length, n);
  assert.deepEqual(new Set(done.map((c) => c.tag)).size, n, "a tag completed twice");
  assert.deepEqual(done.map((c) => c.tag), Array.from({ length: n }, (_, i) => 100 + n - 1 - i));
  assert.ok(done.every((c) => c.errno === 0 && c.bytes === 4096));
  assert.equal(r.interrupts.length, n);
  assert.equal(r.rings.inFlight, 0);
});

Deno.test("DiskRings: a command waits in the ring while the completion ring has no room for it", async () => {
  const r = rig();
  r.disk.hold = true;
  // Fill the completion ring's worth: commands in flight plus completions unconsumed.
  for (let round = 0; round < DISK_CQ_CAPACITY / DISK_SQ_CAPACITY; round++) {
    for (let i = 0; i < DISK_SQ_CAPACITY; i++) r.submit(DiskOp.FLUSH, 0, 0, 0, round * 1000 + i);
    r.rings.doorbell();
  }
  assert.equal(r.rings.inFlight, DISK_CQ_CAPACITY);
  r.submit(DiskOp.FLUSH, 0, 0, 0, 9999);
  r.rings.doorbell();
  assert.equal(r.rings.inFlight, DISK_CQ_CAPACITY, "took a command it had no completion slot for");
  r.clock.advance(1);
  r.disk.held.shift()!(); // one completes, unconsumed: still no room
  await r.settle();
  assert.equal(r.rings.inFlight, DISK_CQ_CAPACITY - 1);
  assert.equal(r.completions().length, 1); // consumed: the driver rings again
  r.rings.doorbell();
  assert.equal(r.rings.inFlight, DISK_CQ_CAPACITY);
  while (r.disk.held.length) r.disk.held.shift()!();
  await r.settle();
  r.clock.advance(1);
  const done = r.completions();
  assert.equal(done.length, DISK_CQ_CAPACITY);
  assert.equal(done.at(-1)!.tag, 9999);
  assert.equal(r.words[DiskReg.CQ_OVERRUNS], 0);
});

Deno.test("DiskRings: bad commands complete at once with typed errors and the device goes on", async () => {
  const r = rig();
  const size = 1024 * KIB;
  r.submit(DiskOp.READ, size, 512, BUF, 1); // out of range
  r.submit(DiskOp.READ, 100, 512, BUF, 2); // misaligned
  r.submit(77, 0, 512, BUF, 3); // unknown op
  r.submit(DiskOp.WRITE, 0, 0, BUF, 4); // no length
  r.submit(DiskOp.WRITE, 0, 4096, 0x5000, 5); // buffer not mapped
  r.submit(DiskOp.READ, 0, 4096, BUF + 1024 * KIB - 512, 6); // buffer runs off the mapping
  r.submit(DiskOp.READ, 0, 512, BUF, 7); // fine
  r.rings.doorbell();
  await r.settle();
  r.clock.advance(1);
  assert.deepEqual(r.completions().map((c) => [c.tag, c.errno, c.reason]), [
    [1, Errno.EINVAL, DiskFault.RANGE],
    [2, Errno.EINVAL, DiskFault.ALIGN],
    [3, Errno.ENOSYS, DiskFault.OP],
    [4, Errno.EINVAL, DiskFault.LENGTH],
    [5, Errno.EFAULT, DiskFault.BUFFER],
    [6, Errno.EFAULT, DiskFault.BUFFER],
    [7, 0, DiskFault.NONE],
  ]);
});

Deno.test("DiskRings: the host file's errors become typed completions", async () => {
  const r = rig();
  r.disk.failWith = { errno: Errno.ENOSPC, detail: "No space left on device (os error 28)" };
  r.submit(DiskOp.WRITE, 0, 4096, BUF, 1);
  r.rings.doorbell();
  await r.settle();
  r.disk.failWith = { errno: Errno.EPERM, detail: "Permission denied" };
  r.submit(DiskOp.FLUSH, 0, 0, 0, 2);
  r.rings.doorbell();
  await r.settle();
  r.clock.advance(1);
  assert.deepEqual(r.completions().map((c) => [c.tag, c.errno, c.reason, c.bytes]), [
    [1, Errno.ENOSPC, DiskFault.HOST, 0],
    [2, Errno.EPERM, DiskFault.HOST, 0],
  ]);
});

Deno.test("DiskRings: a scribbled SQ_TAIL or CQ_HEAD completes with RING, and the rings recover", async () => {
  const r = rig();
  Atomics.store(r.words, DiskReg.SQ_TAIL, 0x7fff_0000); // claims far more than the ring holds
  r.rings.doorbell();
  let done = r.completions();
  assert.deepEqual(done.map((c) => [c.tag, c.errno, c.reason]), [[
    0,
    Errno.EINVAL,
    DiskFault.RING,
  ]]);
  assert.equal(r.words[DiskReg.RING_ERRORS], 1);
  assert.equal(r.words[DiskReg.SQ_HEAD], 0x7fff_0000, "the device skipped what the tail claimed");
  // A CQ_HEAD ahead of the tail.
  Atomics.store(r.words, DiskReg.CQ_HEAD, 5000);
  r.rings.doorbell();
  assert.equal(r.words[DiskReg.RING_ERRORS], 2);
  assert.equal(r.words[DiskReg.CQ_HEAD], 1, "CQ_HEAD taken to be the tail");
  // The driver resynchronises from the device's words and goes on.
  const at = DISK_SQ_OFFSET / 4 + (0x7fff_0000 % DISK_SQ_CAPACITY) * DISK_SQE_WORDS;
  r.words[at + DiskSqe.OP] = DiskOp.READ;
  r.words[at + DiskSqe.TAG] = 42;
  r.words[at + DiskSqe.LENGTH] = 512;
  r.words[at + DiskSqe.VADDR] = BUF;
  Atomics.store(r.words, DiskReg.SQ_TAIL, 0x7fff_0001);
  r.rings.doorbell();
  await r.settle();
  r.clock.advance(1);
  const tail = Atomics.load(r.words, DiskReg.CQ_TAIL);
  done = [];
  for (let i = 1; i < tail; i++) {
    const w = DISK_CQ_OFFSET / 4 + i * DISK_CQE_WORDS;
    done.push({ tag: r.words[w], errno: r.words[w + 1], reason: r.words[w + 2], bytes: 0, seq: 0 });
  }
  assert.deepEqual(done.map((c) => [c.tag, c.reason]), [[0, DiskFault.RING], [42, DiskFault.NONE]]);
});

Deno.test("DiskRings: after stop() nothing more completes, and the doorbell is ignored", async () => {
  const r = rig();
  r.disk.hold = true;
  r.submit(DiskOp.READ, 0, 512, BUF, 1);
  r.rings.doorbell();
  r.rings.stop();
  assert.equal(r.clock.timers.size, 0, "a timer outlived the driver");
  r.disk.held.shift()!();
  await r.settle();
  r.clock.advance(10);
  r.submit(DiskOp.READ, 0, 512, BUF, 2);
  r.rings.doorbell();
  assert.equal(r.completions().length, 0);
  assert.equal(r.interrupts.length, 0);
});
