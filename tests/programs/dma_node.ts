/**
 * The DMA queue (userland/lib/sys/dma.ts, 002 §3.4) between two nodes: remote WRITEs
 * posted to a ring shared with the kernel, with no trap per request.
 *
 *   dma_node owner SIZE        node 0: exports a SIZE-byte segment as "dma", reports
 *                              {role, segment, size} and sleeps until SIGINT; SIGHUP
 *                              turns write inhibit on ({inhibited})
 *   dma_node order N           imports "dma", makes its queue (one request, awaited),
 *                              reports {ready} and waits for SIGHUP; then queues
 *                              dmaWrite32 of word i = i+1 for i < N and N more to word
 *                              N (values 1..N: the last must win), waits for all 2N
 *                              completions and reports {queued, done, errors}
 *   dma_node mixed ROUNDS K    round r: K queued writes to word r, then a trapped
 *                              WRITE32 of 999000+r (it must win); a trapped WRITE32 of
 *                              777000+r to word ROUNDS+r, then K queued writes
 *                              r*1000+1.. (the last, r*1000+K, must win); waits for all
 *                              and reports {requests, done, errors}
 *   dma_node blocks REGIONS    REGIONS: JSON [[offset, count], ...]. Fills a local
 *                              buffer with pattern(i) at i, queues one dmaWriteBlock
 *                              per region from the same offset of the buffer, waits for
 *                              all and reports {requests, done, errors}
 *   dma_node errors            requests the kernel refuses, one at a time, each with
 *                              its counters, remote status and COMPLETION event; inline
 *                              sizes the library refuses; then good writes: {cases}
 *   dma_node raw               entries written into the ring by hand (no library
 *                              checks): inline counts 0 and 41, an unknown operation,
 *                              an unknown flag, then a good one: {cases}
 *   dma_node scribble          sets the ring's TAIL to HEAD + 100000 and flushes:
 *                              reports {scribbled}; after SIGHUP puts TAIL back where
 *                              its library left it (a second refusal), queues a write
 *                              to word 2 and reports {resynced}
 *   dma_node poke OFF VALUE    one queued dmaWrite32, awaited: {role, poked}
 *   dma_node posted N          posted WRITEs (no completion) and their refusal: see posted()
 *
 * Everything is reached through userland/lib; only the raw and scribble cases touch
 * the ring itself (the `dma` grant object of trap.ts).
 */

import {
  allocate,
  allocTripwire,
  armTripwire,
  awaitRemote,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  nap,
  nextEvent,
  remoteCounters,
  remoteStatus,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  type TripwireEvent,
  tripwireFired,
  waitEvent,
  write,
  WRITE32,
  writeInhibit,
} from "../../userland/lib/mod.ts";
import {
  dmaFlush,
  dmaIdle,
  dmaQueued,
  dmaWrite,
  dmaWrite32,
  dmaWriteBlock,
} from "../../userland/lib/sys/dma.ts";
import type { RemoteCounters } from "../../userland/lib/sys/remote.ts";
import { dma } from "../../userland/lib/rt/trap.ts";
import {
  DMA_CAPACITY,
  DMA_ENTRY_WORDS,
  DmaEntry,
  DmaFlag,
  DmaOp,
  DmaQueue,
} from "../../kernel/abi/layout.ts";
import { attempt, report, signalGate } from "./report.ts";

/** The byte every block test expects at segment offset `i` (never 0); dma_test.ts has it too. */
function pattern(i: number): number {
  return 1 + ((i * 131 + (i >>> 9)) % 251);
}

const WAIT_MS = 10_000;

/** Waits for `n` completions after `before` (throws SysError on an error completion). */
function awaitDone(before: RemoteCounters, n: number): void {
  awaitRemote({ ...before, done: (before.done + n - 1) | 0 }, WAIT_MS);
}

/** Says it is ready and sleeps (no trap) until SIGHUP. */
function awaitHup(): void {
  const hup = signalGate();
  report({ role: args0, ready: true });
  hup();
}

let args0 = "";

function owner(size: number): number {
  const seg = CreateSegment(size);
  bind(seg);
  const id = exportSegment(seg, "dma");
  let done = false, inhibit = false, inhibited = false;
  SignalHandler(signalAddress(Sig.SIGINT), 4, () => done = true);
  SignalHandler(signalAddress(Sig.SIGHUP), 4, () => inhibit = true);
  report({ role: "owner", segment: seg, size });
  while (!done) {
    SigWait(60_000);
    if (inhibit && !inhibited) {
      writeInhibit(id, true);
      inhibited = true;
      report({ role: "owner", inhibited });
    }
  }
  return 0;
}

/**
 * Posted WRITEs: N of word i = i+1 and a posted block, then one WRITE with a
 * completion as a fence (it leaves after them); reports {posted} with how many
 * completions were counted (only the fence's). After SIGHUP (the owner has turned
 * write inhibit on) one more posted WRITE: its refusal comes back as an error
 * completion: {refused}.
 */
function posted(n: number): number {
  const { desc } = connect();
  const buf = allocate(4096);
  write(buf, new Uint8Array(64).fill(0x77));
  // An outgoing Tripwire on the first word: a posted WRITE, which never completes,
  // fires it as it leaves.
  const out = allocTripwire();
  armTripwire(out, { descriptor: desc, offset: 0, len: 4, write: true });
  const before = remoteCounters();
  for (let i = 0; i < n; i++) dmaWrite32(desc, i * 4, i + 1, { posted: true });
  dmaWriteBlock(desc, 8192, buf, 64, { posted: true });
  dmaWrite32(desc, 1023 * 4, 1);
  awaitDone(before, 1);
  const after = remoteCounters();
  report({
    role: "posted",
    posted: { done: after.done - before.done, errors: after.errors - before.errors },
    outgoing: tripwireFired(out),
    tagRefused: attempt(() => dmaWrite32(desc, 0, 1, { posted: true, tag: 5 })),
  });
  awaitHup();
  const b2 = remoteCounters();
  dmaWrite32(desc, 0, 12345, { posted: true });
  const deadline = performance.now() + 10_000;
  while (remoteCounters().errors === b2.errors && performance.now() < deadline) nap(1);
  const a2 = remoteCounters();
  report({
    role: "posted",
    refused: {
      errors: a2.errors - b2.errors,
      errno: a2.errno,
      desc: a2.desc === desc,
      done: a2.done - b2.done,
    },
  });
  return 0;
}

/** Imports "dma" and makes this process's queue with one awaited request to word `word`. */
function connect(word = 1023): { desc: number; size: number } {
  const imported = importSegment("dma", { hint: 0 });
  const before = remoteCounters();
  dmaWrite32(imported.desc, word * 4, 0);
  awaitDone(before, 1);
  return imported;
}

function order(n: number): number {
  const { desc } = connect();
  awaitHup();
  const before = remoteCounters();
  for (let i = 0; i < n; i++) dmaWrite32(desc, i * 4, i + 1);
  for (let i = 0; i < n; i++) dmaWrite32(desc, n * 4, i + 1);
  awaitDone(before, 2 * n);
  const after = remoteCounters();
  report({ role: "order", queued: 2 * n, done: after.done - before.done, errors: after.errors });
  return 0;
}

function mixed(rounds: number, k: number): number {
  const { desc } = connect();
  const before = remoteCounters();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < k; i++) dmaWrite32(desc, r * 4, r * 1000 + i + 1);
    WRITE32(desc, r * 4, 999_000 + r);
    WRITE32(desc, (rounds + r) * 4, 777_000 + r);
    for (let i = 0; i < k; i++) dmaWrite32(desc, (rounds + r) * 4, r * 1000 + i + 1);
  }
  const requests = rounds * (2 * k + 2);
  awaitDone(before, requests);
  const after = remoteCounters();
  report({ role: "mixed", requests, done: after.done - before.done, errors: after.errors });
  return 0;
}

function blocks(regions: [number, number][]): number {
  const { desc, size } = connect(0);
  const base = allocate(size);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = pattern(i);
  write(base, bytes);
  const before = remoteCounters();
  for (const [off, n] of regions) dmaWriteBlock(desc, off, base + off, n);
  awaitDone(before, regions.length);
  const after = remoteCounters();
  report({
    role: "blocks",
    requests: regions.length,
    done: after.done - before.done,
    errors: after.errors,
  });
  return 0;
}

/** What one request the kernel refuses leaves behind. */
interface Refusal {
  /** Growth of remoteCounters().errors, and its errno, before remoteStatus. */
  errors: number;
  errno: number;
  /** remoteStatus(): the sticky errors, returned and cleared. */
  status: { errors: number; errno: number };
  /** The next event (null when untagged and none came). */
  event: TripwireEvent | null;
  /** Entries still in the ring after the flush (the kernel's view: TAIL - HEAD). */
  queued: number;
}

/** Posts with `post`, flushes (the kernel checks each entry as it takes it) and looks. */
function refused(post: () => void, tagged: boolean): Refusal {
  const before = remoteCounters();
  post();
  dmaFlush();
  const after = remoteCounters();
  const status = remoteStatus();
  return {
    errors: after.errors - before.errors,
    errno: after.errno,
    status,
    event: tagged ? waitEvent(WAIT_MS) : nextEvent(),
    queued: (Atomics.load(dma.queue!, DmaQueue.TAIL) - Atomics.load(dma.queue!, DmaQueue.HEAD)) | 0,
  };
}

/** An address below the kernel's bind area that nothing here binds. */
const UNMAPPED = 0x0800_0000;

function errors(): number {
  const { desc, size } = connect();
  const buf = allocate(128 * 1024);
  write(buf, new Uint8Array(64).fill(0x5a));
  const cases: Record<string, unknown> = {};

  // A good tagged request first: a COMPLETION event with info 0. (Making the queue
  // made the event page, so waitEvent may wait for it at once.)
  let before = remoteCounters();
  dmaWrite32(desc, 0, 0x600d, { tag: 1 });
  cases.good = { event: waitEvent(WAIT_MS), errors: remoteCounters().errors };
  awaitDone(before, 1);

  cases.badDescriptor = refused(() => dmaWrite32(desc + 1000, 0, 1, { tag: 2 }), true);

  cases.outOfBounds = refused(() => dmaWrite32(desc, size - 2, 1, { tag: 3 }), true);
  cases.blockOutOfBounds = refused(() => dmaWriteBlock(desc, size - 8, buf, 64, { tag: 4 }), true);
  cases.blockUnmapped = refused(() => dmaWriteBlock(desc, 0, UNMAPPED, 16, { tag: 7 }), true);
  cases.untagged = refused(() => dmaWrite32(desc + 1000, 0, 1), false);
  // Two refusals in one batch: both counted, the last one's code kept.
  cases.twoInABatch = refused(() => {
    dmaWrite32(desc + 1000, 0, 1);
    dmaWrite32(desc, size, 1);
  }, false);

  // Inline sizes the library refuses before anything reaches the ring.
  const tail = Atomics.load(dma.queue!, DmaQueue.TAIL);
  cases.inline0 = attempt(() => dmaWrite(desc, 0, new Uint8Array(0)));
  cases.inline41 = attempt(() => dmaWrite(desc, 0, new Uint8Array(41)));
  cases.block0 = attempt(() => dmaWriteBlock(desc, 0, buf, 0));
  cases.block65537 = attempt(() => dmaWriteBlock(desc, 0, buf, 65537));
  cases.inlineRing = {
    published: (Atomics.load(dma.queue!, DmaQueue.TAIL) - tail) | 0,
    queued: dmaQueued(),
    errors: remoteCounters().errors,
  };

  // And the process carries on: queued writes still land.
  before = remoteCounters();
  dmaWrite32(desc, 4, 0xbeef, { tag: 8 });
  dmaWrite(desc, 8, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
  dmaWriteBlock(desc, 24, buf, 64, { notify: true });
  awaitDone(before, 3);
  // As in scribble(): a completion can land before the kernel stores HEAD past the
  // entry, so wait (with a deadline) for HEAD before asking whether the ring is idle.
  const event = waitEvent(WAIT_MS);
  const idleBy = performance.now() + 5_000;
  while (!dmaIdle() && performance.now() < idleBy) nap(1);
  cases.after = {
    event,
    idle: dmaIdle(),
    errors: remoteCounters().errors,
    stray: nextEvent(),
  };
  report({ role: "errors", cases });
  return 0;
}

/** Writes one entry into the ring by hand and publishes it (the library is bypassed). */
function post(op: number, desc: number, offset: number, count: number, tag: number, word = 0) {
  const q = dma.queue!;
  const tail = Atomics.load(q, DmaQueue.TAIL);
  const at = DmaQueue.ENTRIES + ((tail >>> 0) % DMA_CAPACITY) * DMA_ENTRY_WORDS;
  q[at + DmaEntry.OP] = op;
  q[at + DmaEntry.DESC] = desc;
  q[at + DmaEntry.OFFSET] = offset;
  q[at + DmaEntry.COUNT] = count;
  q[at + DmaEntry.VADDR] = 0;
  q[at + DmaEntry.TAG] = tag;
  q[at + DmaEntry.DATA] = word;
  Atomics.store(q, DmaQueue.TAIL, (tail + 1) | 0);
}

function raw(): number {
  // From here on entries are posted by hand only: the library's private tail would
  // no longer match the ring's.
  const { desc } = connect();
  const cases: Record<string, unknown> = {};
  cases.inline0 = refused(() => post(DmaOp.WRITE, desc, 0, 0, 11), true);
  cases.inline41 = refused(() => post(DmaOp.WRITE, desc, 0, 41, 12), true);
  cases.blockZero = refused(() => post(DmaOp.WRITE_BLOCK, desc, 0, 0, 5), true);
  cases.blockTooBig = refused(() => post(DmaOp.WRITE_BLOCK, desc, 0, 65537, 6), true);
  cases.unknownOp = refused(() => post(3, desc, 0, 4, 13), true);
  cases.unknownFlag = refused(() => post(DmaOp.WRITE | 0x400, desc, 0, 4, 14), true);
  cases.postedTagged = refused(() => post(DmaOp.WRITE | DmaFlag.POSTED, desc, 0, 4, 16), true);
  const before = remoteCounters();
  post(DmaOp.WRITE | DmaFlag.NOTIFY, desc, 200, 4, 15, 0x7777);
  awaitDone(before, 1);
  cases.good = { event: waitEvent(WAIT_MS), errors: remoteCounters().errors };
  report({ role: "raw", cases });
  return 0;
}

const GARBAGE = 100_000;

function scribble(): number {
  const { desc } = connect();
  const q = dma.queue!;
  const mine = Atomics.load(q, DmaQueue.TAIL); // the library's tail: all taken
  const head = Atomics.load(q, DmaQueue.HEAD);
  const before = remoteCounters();
  Atomics.store(q, DmaQueue.TAIL, (head + GARBAGE) | 0);
  const flushed = dmaFlush();
  const after = remoteCounters();
  report({
    role: "scribble",
    scribbled: {
      idleBefore: mine === head,
      flushed,
      errors: after.errors - before.errors,
      errno: after.errno,
      status: remoteStatus(),
      headMoved: (Atomics.load(q, DmaQueue.HEAD) - head) | 0,
      stray: nextEvent(),
    },
  });
  awaitHup();
  // TAIL back to the library's own tail: garbage again (behind HEAD), refused once
  // more, and HEAD comes back with it; the library's view is whole again.
  Atomics.store(q, DmaQueue.TAIL, mine);
  dmaFlush();
  const status = remoteStatus();
  const head2 = Atomics.load(q, DmaQueue.HEAD);
  const b2 = remoteCounters();
  dmaWrite32(desc, 8, 0x5151);
  awaitDone(b2, 1);
  // The completion can land before the kernel stores HEAD past the entry (a link
  // with no latency completes on the kernel's thread, mid-batch): wait for HEAD.
  const idleBy = performance.now() + 5_000;
  while (!dmaIdle() && performance.now() < idleBy) nap(1);
  report({ role: "scribble", resynced: { status, headBack: head2 === mine, idle: dmaIdle() } });
  return 0;
}

function poke(offset: number, value: number): number {
  const imported = importSegment("dma", { hint: 0 });
  const before = remoteCounters();
  dmaWrite32(imported.desc, offset, value);
  awaitDone(before, 1);
  report({ role: "poke", poked: value, errors: remoteCounters().errors });
  return 0;
}

export default function main(args: string[]): number {
  args0 = args[0];
  switch (args[0]) {
    case "owner":
      return owner(Number(args[1]));
    case "order":
      return order(Number(args[1]));
    case "mixed":
      return mixed(Number(args[1]), Number(args[2]));
    case "blocks":
      return blocks(JSON.parse(args[1]));
    case "errors":
      return errors();
    case "raw":
      return raw();
    case "scribble":
      return scribble();
    case "posted":
      return posted(Number(args[1]));
    case "poke":
      return poke(Number(args[1]), Number(args[2]));
  }
  throw new Error(`dma_node: no role ${args[0]}`);
}
