/**
 * Page frames (kernel/memory/frame_table.ts): the clock policy on its own with a fake
 * owner, then real sandboxed workers on a node with few frames
 * (tests/programs/fr_pager.ts): pages evicted to their pager and back intact, a
 * pager that loses pages caught, pinned pages kept, anonymous pages exhausting the
 * frames (ENOMEM naming them), and the counters `info` shows.
 */

import assert from "node:assert/strict";
import { fakePagerHost } from "./pager_host.ts";
import { Errno } from "../kernel/abi/errors.ts";
import {
  Access,
  EXIT_KILLED_BASE,
  PAGE_SIZE,
  Pte,
  Rights,
  SegMode,
  SegUnit,
  Sig,
  Trap,
} from "../kernel/abi/layout.ts";
import { AddressSpace } from "../kernel/memory/address_space.ts";
import { type FrameOwner, FrameTable } from "../kernel/memory/frame_table.ts";
import { PagerTable } from "../kernel/memory/pager_table.ts";
import { Segment } from "../kernel/memory/segment.ts";
import { KernelError } from "../kernel/panic.ts";
import type { Process } from "../kernel/proc/process.ts";
import { type TestNode, withNode } from "./helpers.ts";

/** A table of `total` frames with a fake owner: accessed bits and pins set by the test. */
function fakeTable(total: number, node = 0) {
  const accessed = new Set<string>();
  const pinned = new Set<string>();
  const evicted: string[] = [];
  let sweeps = 0;
  const k = (s: Segment, p: number) => `${s.id}:${p}`;
  const owner: FrameOwner = {
    evictable: (s, p) => s.present[p] === 1 && !pinned.has(k(s, p)),
    referenced: (s, p) => accessed.delete(k(s, p)),
    evict: (s, p) => {
      s.present[p] = 0;
      table.release(s, p);
      evicted.push(k(s, p));
      return "clean";
    },
    sweepDone: () => void sweeps++,
  };
  const table = new FrameTable(total, node, owner);
  return { table, accessed, pinned, evicted, sweeps: () => sweeps };
}

function segment(id: number, pages: number): Segment {
  return new Segment(id, 1, {
    size: pages * PAGE_SIZE,
    mode: SegMode.NORMAL,
    unit: SegUnit.CACHE_LINE,
    notifyPolicy: 0,
  });
}

/** Makes `page` of `seg` present through the table, as a fault would. */
function touch(table: FrameTable, seg: Segment, page: number): void {
  table.take(seg, page);
  seg.present[page] = 1;
}

Deno.test("FrameTable's clock evicts the page not accessed since the hand passed, not the oldest", () => {
  const f = fakeTable(4), table = f.table;
  const seg = segment(1, 8);
  for (let p = 0; p < 4; p++) touch(table, seg, p);
  assert.equal(table.free, 0);
  // Pages 0, 1 and 3 were accessed recently; 2 was not: 2 goes, though 0 is older.
  f.accessed.add("1:0").add("1:1").add("1:3");
  touch(table, seg, 4);
  assert.deepEqual(f.evicted, ["1:2"]);
  assert.equal(f.sweeps(), 1); // one shootdown round for the bits it cleared
  // The hand goes on from 2: page 3, accessed before the hand reached it, gets its
  // second chance; page 0, passed over once and not accessed since, goes.
  f.accessed.add("1:4");
  touch(table, seg, 5);
  assert.deepEqual(f.evicted, ["1:2", "1:0"]);
  assert.equal(table.evictions, 2);
  assert.equal(table.used, 4);
});

Deno.test("FrameTable never evicts a page its owner refuses, and fails ENOMEM naming the frames when nothing can go", () => {
  const f = fakeTable(3, 7), table = f.table;
  const seg = segment(1, 8);
  for (let p = 0; p < 3; p++) touch(table, seg, p);
  f.pinned.add("1:0").add("1:1");
  f.accessed.add("1:2"); // accessed: a second chance, then evicted on the second turn
  touch(table, seg, 3);
  assert.deepEqual(f.evicted, ["1:2"]);
  f.pinned.add("1:3");
  assert.throws(() => touch(table, seg, 4), (e: unknown) => {
    assert.ok(e instanceof KernelError);
    assert.equal(e.errno, Errno.ENOMEM);
    assert.match(e.message, /node 7 has no free page frame: all 3 hold pages that cannot be/);
    return true;
  });
  assert.deepEqual(f.evicted, ["1:2"]); // the pinned pages stayed
  table.releaseSegment(seg);
  assert.equal(table.free, 3);
});

Deno.test("PagerTable.referenced() clears the accessed bit in every binding, keeps the dirty bit, and sweepDone() shoots down each such process once", () => {
  const procs = new Map<number, Process>();
  for (const pid of [5, 6]) {
    procs.set(pid, {
      pid,
      space: new AddressSpace(pid),
      trap: new Int32Array(1024),
    } as unknown as Process);
  }
  const table = new PagerTable(fakePagerHost(procs));
  const seg = segment(1, 2);
  seg.present[1] = 1;
  const at = { 5: 0x1000_0000, 6: 0x2000_0000 } as Record<number, number>;
  for (const [pid, q] of procs) {
    q.space.bind(seg, at[pid], Rights.READ | Rights.WRITE, 0);
    assert.equal(q.space.fault(at[pid] + PAGE_SIZE, Access.READ).kind, "mapped");
  }
  const vpn6 = (at[6] + PAGE_SIZE) / PAGE_SIZE;
  const pt6 = procs.get(6)!.space.pageTable;
  pt6.update(vpn6, Pte.ACCESSED | Pte.DIRTY, Pte.ACCESSED | Pte.DIRTY); // as the MMU would
  assert.equal(table.referenced(seg, 1), true);
  assert.equal(table.referenced(seg, 1), false); // cleared: not accessed since
  assert.equal(pt6.get(vpn6) & (Pte.ACCESSED | Pte.DIRTY), Pte.DIRTY);
  assert.equal(procs.get(6)!.trap[Trap.TLB_EPOCH], 0); // not yet: once per sweep
  table.sweepDone();
  table.sweepDone();
  assert.equal(procs.get(6)!.trap[Trap.TLB_EPOCH], 1);
  assert.equal(procs.get(5)!.trap[Trap.TLB_EPOCH], 0); // its bit was clear: no flush
});

const FRAMES = 16;

async function runPager(node: TestNode, args: string[]) {
  const st = await node.run("fr_pager", args, 60_000);
  const out = node.console.out + node.console.err;
  assert.equal(st.status, 0, `${st.reason}\n${out}`);
  const of = (who: string) => {
    const r = node.results().filter((x) => x.who === who);
    assert.equal(r.length, 1, `one RESULT of ${who}: ${JSON.stringify(r)}\n${out}`);
    return r[0];
  };
  return { pager: of("pager"), client: of("client") };
}

Deno.test("a segment of 64 pages on 16 frames: every page is evicted to its pager and comes back intact", async () => {
  await withNode(async (node) => {
    const { pager, client } = await runPager(node, ["keep", "64", "0"]);
    assert.equal(pager.end.status, 0, pager.end.reason);
    assert.deepEqual(client.badPages, []);
    // The client's writes went to the pager (dirty pages TAKEn) and came back from it.
    const outs = pager.outs.reduce((a: number, b: number) => a + b, 0);
    // One client in order: every page is first zero-filled, written, paged out dirty
    // by a later fault, and supplied back by the pager when read.
    assert.equal(pager.zeroed, 64);
    assert.equal(outs, 64);
    assert.equal(pager.supplied, 64);
    const frames = node.kernel.segments.frames;
    // The pages read back and dropped again were clean: evicted with no PAGE_OUT.
    assert.ok(frames.evictions > outs, `evictions ${frames.evictions}, paged out ${outs}`);
    assert.ok(client.self.evictions >= 64 - FRAMES);
    assert.equal(client.ps.evictions, client.self.evictions);
    assert.ok(client.self.resident > 0 && client.self.resident <= FRAMES);
    assert.equal(client.ps.resident, client.self.resident);
    assert.equal(client.stats.pageFrames, FRAMES);
    assert.equal(client.stats.pageFramesUsed + client.stats.pageFramesFree, FRAMES);
    assert.equal(client.stats.pageFramesFree, 0);
    assert.ok(client.stats.evictions >= frames.evictions - 64);
    // Everyone has exited: every frame is free again.
    assert.equal(frames.used, 0);
  }, { memoryFrames: FRAMES });
});

Deno.test("a pager that loses paged-out pages is caught: the evicted pages come back zero", async () => {
  await withNode(async (node) => {
    const { pager, client } = await runPager(node, ["lose", "64", "0"]);
    assert.equal(pager.supplied, 0);
    // The frames were cleared: what the pager did not take is gone, not kept.
    const lost = client.badPages.length;
    assert.ok(lost >= 64 - FRAMES, `lost ${lost}`);
    assert.equal(client.zeroPages, lost);
    assert.ok(node.kernel.segments.frames.evictions >= 64 - FRAMES);
  }, { memoryFrames: FRAMES });
});

Deno.test("pinned pages never leave: their frames are never evicted while the rest are swept", async () => {
  await withNode(async (node) => {
    const pinned = 4;
    const { pager, client } = await runPager(node, ["keep", "64", String(pinned)]);
    assert.deepEqual(client.badPages, []);
    for (let p = 0; p < pinned; p++) {
      assert.equal(pager.outs[p], 0, `pinned page ${p} was paged out`);
      assert.equal(pager.faults[p], 1, `pinned page ${p} faulted again`);
    }
    const later = pager.outs.slice(pinned).reduce((a: number, b: number) => a + b, 0);
    assert.ok(later >= 64 - FRAMES, `paged out ${later}`);
  }, { memoryFrames: FRAMES });
});

Deno.test("a pager's answer that can get no frame fails ENOMEM, and its fault fails naming the frames", async () => {
  await withNode(async (node) => {
    // 15 pinned pages and the pager's own page fill the 16 frames: page 15 has none.
    const st = await node.run("fr_pager", ["keep", "64", "15"], 60_000);
    assert.equal(st.status, 0, st.reason + node.console.err);
    const pager = node.results().find((r) => r.who === "pager");
    assert.deepEqual(pager.refused, [{ page: 15, error: "ENOMEM" }]);
    assert.equal(pager.end.status, EXIT_KILLED_BASE + Sig.SIGSEGV);
    assert.match(
      pager.end.reason,
      /page fault: pager pid \d+ could not place the page: node 0 has no free page frame: all 16/,
    );
    assert.equal(node.kernel.segments.frames.evictions, 0);
  }, { memoryFrames: FRAMES });
});

Deno.test("anonymous pages exhausting the frames fail ENOMEM naming the node's frames; the node goes on", async () => {
  await withNode(async (node) => {
    const st = await node.run("fr_pager", ["hog", "64", "catch"]);
    assert.equal(st.status, 0, st.reason + node.console.err);
    const hog = node.results().find((r) => r.who === "hog");
    assert.equal(hog.error.code, "ENOMEM");
    assert.match(hog.error.message, new RegExp(`node 0 has no free page frame: all ${FRAMES}`));
    assert.equal(hog.touched, FRAMES); // no other process holds a frame on this node
    assert.equal(hog.stats.pageFramesFree, 0);
    // Uncaught, the error ends the process with a reason naming the frames.
    const died = await node.run("fr_pager", ["hog", "64", "die"]);
    assert.notEqual(died.status, 0);
    assert.match(
      died.reason,
      new RegExp(`page_fault: ENOMEM .*node 0 has no free page frame: all ${FRAMES} hold`),
    );
    // Their frames came back when they ended; others run as before.
    assert.equal(node.kernel.segments.frames.used, 0);
    assert.equal((await node.run("fr_pager", ["hello"])).status, 0);
    const hello = node.results().find((r) => r.who === "hello");
    assert.equal(hello.stats.pageFrames, FRAMES);
  }, { memoryFrames: FRAMES });
});
