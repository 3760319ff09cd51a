/**
 * Unit tests of the kernel's pure parts, in-process: the page table, the signal
 * FIFO ring, handler tables, signal directories and trap decoding.
 */

import assert from "node:assert/strict";
import {
  Access,
  Directory,
  DIRECTORY_MAX_ENTRIES,
  EVENT_PAGE_BYTES,
  EventPage,
  Fifo,
  MAX_TRIPWIRES,
  PAGE_SHIFT,
  Pte,
  Trap,
  TRAP_ARGS,
  TripwireFlag,
} from "../kernel/abi/layout.ts";
import { localTarget, TripwireTable } from "../kernel/remote/tripwires.ts";
import { Sys } from "../kernel/abi/syscalls.ts";
import { PageTable, walkPageTable } from "../kernel/memory/page_table.ts";
import { fifoCell, fifoPending, fifoPost } from "../kernel/signal/fifo_ring.ts";
import { HandlerTable } from "../kernel/signal/handler_table.ts";
import { SignalDirectory } from "../kernel/signal/signal_directory.ts";
import { SignalFifo } from "../kernel/signal/signal_fifo.ts";
import { decode } from "../kernel/trap/dispatch.ts";
import { KernelError } from "../kernel/panic.ts";

Deno.test("PageTable.set() is found by walkPageTable() through both levels", () => {
  const pt = new PageTable();
  const words = new Int32Array(pt.buffer);
  const vpn = 0x12345;
  assert.equal(walkPageTable(words, vpn), -1, "no level-2 table yet");
  pt.set(vpn, Pte.PRESENT | Pte.WRITABLE, 7, 3);
  const at = walkPageTable(words, vpn);
  assert.ok(at > 0);
  assert.equal(words[at] >>> PAGE_SHIFT, 7);
  assert.equal(words[at] & Pte.WRITABLE, Pte.WRITABLE);
  assert.equal(words[at + 1], 3);
  assert.equal(walkPageTable(words, vpn + 1) > 0, true, "same table covers the neighbour");
  assert.equal(words[walkPageTable(words, vpn + 1)], 0, "the neighbour is unmapped");
  pt.update(vpn, Pte.WRITABLE, 0);
  assert.equal(pt.get(vpn) & Pte.WRITABLE, 0);
  pt.clear(vpn);
  assert.equal(pt.get(vpn), 0);
});

Deno.test("PageTable grows one level-2 table per 4 MiB region touched", () => {
  const pt = new PageTable();
  const before = pt.bytes();
  pt.set(0, Pte.PRESENT, 0, 1);
  pt.set(1023, Pte.PRESENT, 0, 1);
  const one = pt.bytes();
  pt.set(1024, Pte.PRESENT, 0, 1);
  assert.ok(one > before);
  assert.equal(pt.bytes() - one, one - before);
});

Deno.test("fifoPost() keeps order, drops and counts when full", () => {
  const fifo = new SignalFifo(4);
  const w = fifo.words;
  for (let i = 1; i <= 6; i++) assert.equal(fifoPost(w, i * 16, 1), i <= 4);
  assert.equal(fifo.dropped(), 2);
  assert.equal(fifoPending(w), 4);
  const got: number[] = [];
  let head = w[Fifo.HEAD];
  while (head !== w[Fifo.TAIL]) {
    const at = fifoCell(4, head);
    assert.equal(w[at], head + 1, "published with its sequence number");
    got.push(w[at + 1]);
    head++;
    w[Fifo.HEAD] = head;
  }
  assert.deepEqual(got, [16, 32, 48, 64]);
  assert.equal(fifoPost(w, 99, 1), true, "room again once consumed");
});

Deno.test("HandlerTable.lookup() prefers the newest range and remove() takes overlaps", () => {
  const t = new HandlerTable();
  t.add(0x1000, 0x1000, 1);
  t.add(0x1800, 0x100, 2);
  assert.equal(t.lookup(0x1000), 1);
  assert.equal(t.lookup(0x1880), 2);
  assert.equal(t.lookup(0x2000), 0);
  assert.equal(t.remove(0x1800, 1), 2);
  assert.equal(t.lookup(0x1880), 0);
});

Deno.test("SignalDirectory.publish() leaves an even version and the entries", () => {
  const d = new SignalDirectory();
  const w = new Int32Array(d.buffer);
  d.publish([{ pid: 4, first: 0, end: 64 }, { pid: 5, first: 32, end: 4096 }]);
  assert.equal(w[Directory.VERSION] % 2, 0);
  assert.equal(w[Directory.COUNT], 2);
  assert.deepEqual([...w.subarray(Directory.ENTRIES, Directory.ENTRIES + 6)], [
    4,
    0,
    64,
    5,
    32,
    4096,
  ]);
});

Deno.test("decode() rejects unknown numbers and bad argument words with EINVAL", () => {
  const trap = new Int32Array(1024);
  const args = new Array(TRAP_ARGS).fill(0);
  const einval = (setup: () => void) => {
    trap.fill(0);
    setup();
    assert.throws(() => decode(trap, args), (e) => e instanceof KernelError && e.errno === 22);
  };
  einval(() => trap[Trap.SYSNO] = 9999);
  einval(() => trap[Trap.SYSNO] = -1);
  einval(() => {
    trap[Trap.SYSNO] = Sys.create_segment;
    trap[Trap.ARG0] = 0; // size 0
  });
  einval(() => {
    trap[Trap.SYSNO] = Sys.print;
    trap[Trap.ARG0] = 1;
    trap[Trap.DATA_LEN] = 1 << 20;
  });
  trap.fill(0);
  trap[Trap.SYSNO] = Sys.create_segment;
  trap[Trap.ARG0] = 4096;
  assert.equal(decode(trap, args).name, "create_segment");
  assert.equal(args[0], 4096);
});

Deno.test("SignalDirectory.publish() never truncates: too many entries mean COUNT -1", () => {
  const d = new SignalDirectory();
  const w = new Int32Array(d.buffer);
  const many = Array.from({ length: DIRECTORY_MAX_ENTRIES + 1 }, (_, i) => ({
    pid: 2,
    first: i * 8,
    end: i * 8 + 4,
  }));
  d.publish(many);
  assert.equal(w[Directory.COUNT], -1, "senders must fall back to the software path");
  assert.equal(w[Directory.VERSION] % 2, 0);
});

Deno.test("fifoPost() takes the capacity from the page size, not from a writable word", () => {
  const fifo = new SignalFifo(4);
  fifo.words[Fifo.CAPACITY] = 1 << 30; // scribbled on by the consumer
  fifo.words[Fifo.TAIL] = fifo.words[Fifo.HEAD] = 1 << 20;
  for (let i = 0; i < 4; i++) assert.equal(fifoPost(fifo.words, i, 1), true);
  assert.equal(fifoPost(fifo.words, 9, 1), false);
});

Deno.test("PageTable ignores a directory the process scribbled on", () => {
  const pt = new PageTable();
  pt.set(5, Pte.PRESENT, 1, 1);
  new Int32Array(pt.buffer)[0] = 0x7fffffff; // garbage in the shared directory
  assert.doesNotThrow(() => pt.clear(5));
  assert.equal(pt.get(5), 0);
});

Deno.test("Tripwire matching looks at the Tripwires of the lines touched, not at all 4096 armed", () => {
  const page = new Int32Array(EVENT_PAGE_BYTES / 4);
  const table = new TripwireTable({ eventPage: () => page });
  // 4096 Tripwires on 4096 different words of one segment, one per 64-byte line…
  for (let id = 0; id < MAX_TRIPWIRES; id++) {
    table.arm(1, id, localTarget(5), id * 64, id * 64 + 4, TripwireFlag.WRITE);
  }
  assert.equal(table.armed, 4096);
  // …and 1000 accesses of 8 bytes spread over them: each looks at one bucket of one.
  for (let i = 0; i < 1000; i++) {
    const line = (i * 37) % MAX_TRIPWIRES;
    table.matchLocal(5, line * 64, 8, Access.WRITE);
  }
  assert.equal(table.fired, 1000, "each access fired the Tripwire of its line");
  assert.equal(table.examined, 1000, "one candidate per access, not 4096");
  // An access to another segment, or by another node's writes elsewhere, looks at none.
  table.matchLocal(6, 0, 4096, Access.WRITE);
  table.matchOutgoing(1, 5, 0, 4096, Access.WRITE);
  assert.equal(table.examined, 1000);
  // The bit of the last one fired is set in the owner's page.
  const last = (999 * 37) % MAX_TRIPWIRES;
  assert.notEqual(page[EventPage.BITMAP + (last >>> 5)] & (1 << (last & 31)), 0);
});
