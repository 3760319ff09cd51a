/**
 * Eviction against a concurrent store (README, Page frames: the shootdown
 * protocol). The page-table entry is made not present in one atomic step that
 * keeps a DIRTY bit another thread sets meanwhile; a page a running process maps is
 * evicted only once that process has acknowledged the shootdown of its accessed
 * bits (TLB_SEEN) or sleeps parked (TLB_PARKED) or is held in a trap, and its
 * accessed bit is still clear; the frame table tries busy pages again before
 * ENOMEM. Then real workers: a writer and a reader sharing an externally paged
 * segment larger than the node's frames lose no store.
 */

import assert from "node:assert/strict";
import { fakePagerHost } from "./pager_host.ts";
import { Errno } from "../kernel/abi/errors.ts";
import {
  Access,
  EVENT_PAGE_BYTES,
  EventPage,
  PAGE_SIZE,
  Pte,
  Rights,
  SegMode,
  SegUnit,
  Trap,
  TrapState,
} from "../kernel/abi/layout.ts";
import { AddressSpace } from "../kernel/memory/address_space.ts";
import { type FrameOwner, FrameTable } from "../kernel/memory/frame_table.ts";
import { PageTable, walkPageTable } from "../kernel/memory/page_table.ts";
import { PagerTable } from "../kernel/memory/pager_table.ts";
import { Segment } from "../kernel/memory/segment.ts";
import { KernelError } from "../kernel/panic.ts";
import type { Process } from "../kernel/proc/process.ts";
import { withNode } from "./helpers.ts";

const VPN = 0x30000;
const RW = Rights.READ | Rights.WRITE;

/** The word index of VPN's entry in `pt`'s shared buffer, as the MMU walks it. */
function entryOf(pt: PageTable): { words: Int32Array; at: number } {
  const words = new Int32Array(pt.buffer);
  return { words, at: walkPageTable(words, VPN) };
}

Deno.test("PageTable.unmap returns a DIRTY bit the MMU set before it, refuses an accessed entry, and set() keeps D", () => {
  const pt = new PageTable();
  pt.set(VPN, Pte.PRESENT | Pte.WRITABLE, 3, 7);
  const { words, at } = entryOf(pt);
  Atomics.or(words, at, Pte.ACCESSED | Pte.DIRTY); // the MMU's fill for a store
  // An eviction that must wait for the process: the entry was accessed, it stays.
  assert.equal(pt.unmap(VPN, Pte.WRITABLE, true), -1);
  assert.equal(pt.get(VPN) & (Pte.PRESENT | Pte.DIRTY), Pte.PRESENT | Pte.DIRTY);
  // A rewrite of the same page (a protect) keeps A and D.
  pt.set(VPN, Pte.PRESENT, 3, 7);
  assert.equal(pt.get(VPN) & (Pte.ACCESSED | Pte.DIRTY | Pte.WRITABLE), Pte.ACCESSED | Pte.DIRTY);
  assert.equal(pt.clearAccessed(VPN), true);
  const old = pt.unmap(VPN, Pte.WRITABLE, true);
  assert.equal(old & (Pte.PRESENT | Pte.DIRTY), Pte.PRESENT | Pte.DIRTY);
  assert.equal(old >>> 12, 3);
  assert.equal(pt.get(VPN), Pte.WRITABLE | (3 << 12)); // not present, A and D clear, same page
  assert.equal(words[at + 1], 7); // same slot
  pt.restore(VPN, old);
  assert.equal(pt.get(VPN), old);
});

Deno.test("PageTable.unmap against another thread setting DIRTY: the bit is in the old entry or the new, never lost", () => {
  const pt = new PageTable();
  pt.set(VPN, Pte.PRESENT | Pte.WRITABLE, 3, 7);
  const { at } = entryOf(pt);
  const ctl = new Int32Array(new SharedArrayBuffer(8)); // [round, done]
  const ROUNDS = 2000;
  // The "MMU": for each round, as soon as it starts, ORs DIRTY into the entry.
  const src = `
    self.onmessage = ({ data: [pt, ctl, at, rounds] }) => {
      const words = new Int32Array(pt), c = new Int32Array(ctl);
      for (let r = 1; r <= rounds; r++) {
        while (Atomics.load(c, 0) !== r) Atomics.wait(c, 0, r - 1, 50);
        Atomics.or(words, at, ${Pte.DIRTY});
        Atomics.store(c, 1, r);
        Atomics.notify(c, 1);
      }
    };`;
  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    worker.postMessage([pt.buffer, ctl.buffer, at, ROUNDS]);
    let inOld = 0, after = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      pt.set(VPN, Pte.PRESENT | Pte.WRITABLE, 4 + (r & 1), 7); // a new page: A and D clear
      Atomics.store(ctl, 0, r);
      Atomics.notify(ctl, 0);
      for (let spin = r & 255; spin > 0; spin--) Atomics.load(ctl, 1); // vary the meeting point
      const old = pt.unmap(VPN, Pte.WRITABLE, false);
      const deadline = Date.now() + 10_000;
      while (Atomics.load(ctl, 1) !== r) {
        assert.ok(Date.now() < deadline, `round ${r}: the other thread never stored`);
        Atomics.wait(ctl, 1, r - 1, 50);
      }
      const now = pt.get(VPN);
      const d = ((old & Pte.DIRTY) !== 0 ? 1 : 0) + ((now & Pte.DIRTY) !== 0 ? 1 : 0);
      assert.equal(d, 1, `round ${r}: old ${old.toString(16)}, now ${now.toString(16)}`);
      if (old & Pte.DIRTY) inOld++;
      else after++;
    }
    assert.equal(inOld + after, ROUNDS);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});

/** A pager table with a pager (pid 5) and a client (pid 6) that maps page 0 of its segment dirty. */
function twoProcesses() {
  const fake = (pid: number) =>
    ({
      pid,
      state: "running",
      inTrap: false,
      blocked: null,
      events: new Int32Array(new SharedArrayBuffer(EVENT_PAGE_BYTES)),
      space: new AddressSpace(pid),
      trap: new Int32Array(1024),
      counters: { evictions: 0 },
    }) as unknown as Process;
  const pager = fake(5), client = fake(6);
  const procs = new Map([[5, pager], [6, client]]);
  const table = new PagerTable(fakePagerHost(procs));
  const seg = new Segment(1, 5, {
    size: 2 * PAGE_SIZE,
    mode: SegMode.NORMAL,
    unit: SegUnit.CACHE_LINE,
    notifyPolicy: 0,
  });
  seg.holders.set(5, 7);
  table.attach(pager, seg);
  const at = 0x1000_0000, vpn = at / PAGE_SIZE;
  client.space.bind(seg, at, RW, 1);
  seg.present[0] = 1;
  assert.equal(client.space.fault(at, Access.WRITE).kind, "mapped");
  const pt = client.space.pageTable;
  pt.update(vpn, Pte.ACCESSED | Pte.DIRTY, Pte.ACCESSED | Pte.DIRTY); // the MMU's store
  return { table, seg, pager, client, pt, vpn };
}

Deno.test("a page mapped by a process that has not acknowledged the shootdown is not evicted; once it has, it is", () => {
  const { table, seg, client, pt, vpn } = twoProcesses();
  const t = client.trap;
  // The clock: the accessed bit is cleared and shot down at the end of the sweep.
  assert.equal(table.referenced(seg, 0), true);
  table.sweepDone();
  assert.equal(t[Trap.TLB_EPOCH], 1);
  // The client runs and has not flushed to epoch 1: it may store through its TLB.
  assert.equal(table.evict(seg, 0), "busy");
  assert.equal(seg.present[0], 1);
  assert.equal(pt.get(vpn) & (Pte.PRESENT | Pte.DIRTY), Pte.PRESENT | Pte.DIRTY);
  assert.equal(t[Trap.TLB_EPOCH], 1); // no further shootdown: the bit was clear
  // Its MMU flushes (mmu.ts flushTlb): acknowledged, and the bit is still clear.
  Atomics.store(t, Trap.TLB_SEEN, 1);
  assert.equal(table.evict(seg, 0), "dirty");
  assert.equal(seg.present[0], 0);
  assert.equal(pt.get(vpn) & (Pte.PRESENT | Pte.ACCESSED | Pte.DIRTY), 0);
  assert.equal(t[Trap.TLB_EPOCH], 1); // it holds no entry for the page: nothing to shoot down
  assert.equal(client.counters.evictions, 1);
});

Deno.test("an acknowledged process that filled its TLB with the page again keeps it; one in a trap or parked does not", () => {
  const { table, seg, client, pt, vpn } = twoProcesses();
  const t = client.trap;
  assert.equal(table.referenced(seg, 0), true);
  table.sweepDone();
  Atomics.store(t, Trap.TLB_SEEN, 1);
  Atomics.or(
    new Int32Array(pt.buffer),
    walkPageTable(new Int32Array(pt.buffer), vpn),
    Pte.ACCESSED,
  );
  // Touched again after its flush: its bit is cleared and shot down, and it must flush again.
  assert.equal(table.evict(seg, 0), "busy");
  assert.equal(t[Trap.TLB_EPOCH], 2);
  assert.equal(pt.get(vpn) & Pte.ACCESSED, 0);
  // Posted a trap: held by the kernel, it is evicted, and shot down for its return.
  t[Trap.STATE] = TrapState.PENDING;
  assert.equal(table.evict(seg, 0), "dirty");
  assert.equal(t[Trap.TLB_EPOCH], 3);
  t[Trap.STATE] = TrapState.IDLE;
  // Parked in a wait (TLB_PARKED) with an accessed page: shot down first, then evicted.
  seg.present[1] = 1;
  assert.equal(client.space.fault(0x1000_0000 + PAGE_SIZE, Access.READ).kind, "mapped");
  pt.update(vpn + 1, Pte.ACCESSED, Pte.ACCESSED);
  assert.equal(table.evict(seg, 1), "busy"); // running: must acknowledge epoch 4
  assert.equal(t[Trap.TLB_EPOCH], 4);
  Atomics.store(t, Trap.TLB_PARKED, 1);
  assert.equal(table.evict(seg, 1), "clean");
  assert.equal(t[Trap.TLB_EPOCH], 4);
  assert.equal(pt.get(vpn + 1) & Pte.PRESENT, 0);
});

Deno.test("a process whose trap is answered but not yet taken (STATE DONE) reads the epoch first: its page goes", () => {
  const { table, seg, client } = twoProcesses();
  const t = client.trap;
  assert.equal(table.referenced(seg, 0), true);
  table.sweepDone();
  assert.equal(table.evict(seg, 0), "busy");
  t[Trap.STATE] = TrapState.DONE;
  assert.equal(table.evict(seg, 0), "dirty");
  assert.equal(t[Trap.TLB_EPOCH], 1); // its bit was clear: the sweep's shootdown is enough
  assert.deepEqual([table.counts.busy, table.counts.acknowledged], [1, 1]);
});

Deno.test("a drop waits like an eviction for a running mapper's acknowledgement (EAGAIN), then discards the page unpaged", () => {
  const { table, seg, pager, client, pt, vpn } = twoProcesses();
  const t = client.trap;
  seg.bytes.fill(7, 0, PAGE_SIZE); // the client's (dirty) contents
  const refused = (() => {
    try {
      table.drop(pager, 1, 0, 1);
    } catch (e) {
      return e instanceof KernelError ? e : null;
    }
  })();
  assert.equal(refused?.errno, Errno.EAGAIN);
  assert.match(refused!.message, /has not acknowledged a TLB shootdown yet/);
  assert.equal(seg.present[0], 1); // still there, and still mapped
  assert.equal(pt.get(vpn) & Pte.PRESENT, Pte.PRESENT);
  assert.equal(t[Trap.TLB_EPOCH], 1); // its accessed bit was shot down
  Atomics.store(t, Trap.TLB_SEEN, 1); // its MMU flushes
  assert.equal(table.drop(pager, 1, 0, 2), 1); // page 1 was not present
  assert.equal(seg.present[0], 0);
  assert.equal(pt.get(vpn) & (Pte.PRESENT | Pte.DIRTY), 0);
  assert.equal(seg.bytes.subarray(0, PAGE_SIZE).some((b) => b !== 0), false); // cleared
  assert.equal(pager.events![EventPage.TAIL], 0); // dirty, yet no PAGE_OUT: discarded
  assert.deepEqual([table.counts.dropped, table.counts.evicted], [1, 0]);
  assert.equal(client.counters.evictions, 0);
});

/** A FrameTable whose owner says "busy" for a page until `acks` tries have passed. */
function busyTable(total: number, acks: number) {
  let tries = 0;
  const owner: FrameOwner = {
    evictable: (s, p) => s.present[p] === 1,
    referenced: () => false,
    evict: (s, p) => {
      if (++tries <= acks) return "busy";
      s.present[p] = 0;
      return "clean";
    },
    sweepDone: () => {},
  };
  const table = new FrameTable(total, 3, owner);
  const seg = new Segment(1, 1, {
    size: 8 * PAGE_SIZE,
    mode: SegMode.NORMAL,
    unit: SegUnit.CACHE_LINE,
    notifyPolicy: 0,
  });
  for (let p = 0; p < total; p++) {
    table.take(seg, p);
    seg.present[p] = 1;
  }
  return { table, seg, tries: () => tries };
}

Deno.test("FrameTable tries busy pages again once its sweep found nothing else, then fails EAGAIN saying why", () => {
  const ok = busyTable(2, 50); // acknowledged after a few tries: taken, no ENOMEM
  ok.table.take(ok.seg, 2);
  assert.equal(ok.table.evictions, 1);
  assert.equal(ok.tries(), 51);
  const never = busyTable(2, Infinity);
  assert.throws(() => never.table.take(never.seg, 2), (e: unknown) => {
    assert.ok(e instanceof KernelError);
    assert.equal(e.errno, Errno.EAGAIN); // not for good: the fault waits and tries again
    assert.match(
      e.message,
      /node 3 has no free page frame yet: 2 of its 2 wait for a process to acknowledge a TLB shootdown/,
    );
    return true;
  });
  assert.equal(never.table.evictions, 0);
});

Deno.test("a writer and a reader sharing a paged segment larger than the frames lose no store to eviction", async () => {
  const PAGES = 24, ROUNDS = 40, FRAMES = 12;
  await withNode(async (node) => {
    const st = await node.run("race_pager", ["pager", String(PAGES), String(ROUNDS)], 90_000);
    const out = node.console.out + node.console.err;
    assert.equal(st.status, 0, `${st.reason}\n${out}`);
    const of = (who: string) => {
      const r = node.results().filter((x) => x.who === who);
      assert.equal(r.length, 1, `one RESULT of ${who}\n${out}`);
      return r[0];
    };
    const pager = of("pager"), writer = of("writer"), reader = of("reader");
    assert.deepEqual(pager.refused, []);
    assert.deepEqual(pager.ends.map((e: { status: number }) => e.status), [0, 0], out);
    assert.deepEqual(writer.bad, []);
    assert.deepEqual(writer.last, new Array(PAGES).fill(ROUNDS));
    assert.deepEqual(reader.bad, []);
    assert.equal(reader.done, 1);
    // The pages did go: each round met pages evicted since the last (dirty, paged out).
    assert.ok(writer.evictions >= PAGES - FRAMES, `writer saw ${writer.evictions} evictions`);
    assert.ok(pager.outs >= PAGES - FRAMES, `paged out ${pager.outs}`);
    // Some went while the other process ran, not in a trap: after its acknowledgement.
    const c = node.kernel.pagers.counts;
    assert.ok(c.acknowledged > 0, `evicted ${c.evicted}, busy ${c.busy}, acknowledged 0`);
  }, { memoryFrames: FRAMES });
});
