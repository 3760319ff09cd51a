/**
 * Memory: segments, page tables, the MMU and the memory system calls, exercised
 * through the userland API in real worker processes (tests/programs/mem_*.ts).
 */

import assert from "node:assert/strict";
import { Access, PAGE_SIZE, Pte } from "../kernel/abi/layout.ts";
import { walkPageTable } from "../kernel/memory/page_table.ts";
import { type TestNode, withNode } from "./helpers.ts";

const KiB = 1024;
const BASE = 0x2000_0000;

/** The single RESULT a program printed, checking there is exactly one. */
function only(node: TestNode): any {
  const r = node.results();
  assert.equal(r.length, 1, `expected one RESULT, got:\n${node.console.out}${node.console.err}`);
  return r[0];
}

/** Asserts a clean exit, showing the console on failure. */
function assertExit0(node: TestNode, st: { status: number; reason: string }): void {
  assert.equal(
    st.status,
    0,
    `${st.reason}\n--- console ---\n${node.console.out}${node.console.err}`,
  );
}

// ---------------------------------------------------------------------------
// 1. One segment, two processes, two virtual addresses

Deno.test("bind() maps one segment at two virtual addresses in two processes", async () => {
  await withNode(async (node) => {
    const A = 0x2000_0000, B = 0x4567_8000;
    const st = await node.run("mem_share", [String(A), String(B)]);
    assertExit0(node, st);
    const r = node.results();
    const child = r.find((x) => x.who === "child");
    const parent = r.find((x) => x.who === "parent");
    assert.ok(child && parent, node.console.out + node.console.err);
    assert.equal(parent.at, A);
    assert.equal(child.at, B);
    assert.notEqual(child.at, parent.at);
    // Parent's store before the spawn, seen by the child at its own address.
    assert.equal(child.initial, 0x11223344);
    // Child's store on page 1 seen by the parent; parent's answer seen by the child.
    assert.equal(parent.sawChild, true);
    assert.equal(parent.childWord, 0xcafebabe);
    assert.equal(child.sawParent, true);
    // A Signal on the parent's address arrives at the child's address for the location.
    assert.equal(parent.handlerReady, true);
    assert.equal(parent.delivered, 1);
    assert.equal(child.signalled, B + 0x44);
    assert.equal(child.signalledWord, 77);
    assert.equal(parent.childStatus, 0);
    // Two pages, each zero-filled once although both processes touched both.
    assert.equal(node.kernel.stats.zeroFills, 2);
  });
});

Deno.test("page tables of two processes point at the same page for different addresses", async () => {
  await withNode(async (node) => {
    const A = 0x2000_0000, B = 0x4567_8000;
    const parent = node.spawn("mem_share", [String(A), String(B), "hold"]);
    // The child reports, then stays bound until we set word 0x48 of the segment.
    await node.until(() => node.results().some((x) => x.who === "child"), 10_000, "the child");
    const child = [...node.kernel.procs.values()].find((p) => p.ppid === parent.pid);
    assert.ok(child, "the child is running");
    assert.equal(parent.space.bindings.length, 1);
    assert.equal(child.space.bindings.length, 1);
    const pb = parent.space.bindings[0], cb = child.space.bindings[0];
    assert.equal(pb.segment, cb.segment, "one segment");
    assert.equal(pb.vaddr, A);
    assert.equal(cb.vaddr, B);
    for (const [p, va] of [[parent, A], [child, B]] as const) {
      const words = new Int32Array(p.space.pageTable.buffer);
      for (let page = 0; page < 2; page++) {
        const at = walkPageTable(words, (va >>> 12) + page);
        assert.ok(at >= 0, `pid ${p.pid}: a level-2 table covers ${va.toString(16)}`);
        const pte = Atomics.load(words, at);
        assert.equal(pte >>> 12, page, `pid ${p.pid}: the entry names the segment's page`);
        assert.equal(words[at + 1], p.space.slots.get(pb.segment.id), "and the slot");
        const want = Pte.PRESENT | Pte.WRITABLE | Pte.ACCESSED;
        assert.equal(pte & want, want, `pid ${p.pid} page ${page}: P, W and A`);
      }
      // Neighbouring pages outside the binding are not mapped.
      const below = walkPageTable(words, (va >>> 12) - 1);
      assert.ok(below < 0 || (Atomics.load(words, below) & Pte.PRESENT) === 0);
    }
    Atomics.store(new Int32Array(pb.segment.buffer), 0x48 / 4, 1);
    assertExit0(node, await node.exited(parent));
  });
});

// ---------------------------------------------------------------------------
// 2. Zero-fill on first touch

Deno.test("a fresh segment reads as zero and each page's first touch is one counted fault", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_zero_fill");
    assertExit0(node, st);
    const r = only(node);
    assert.deepEqual(r.firstLoads, [0, 0, 0, 0]);
    assert.equal(r.nonZero, 0, "no byte of a fresh segment is non-zero");
    for (let p = 0; p < 4; p++) {
      assert.deepEqual(r.steps[p], {
        pagefaults: r.before.pagefaults + p + 1,
        zeroFills: r.before.zeroFills + p + 1,
      }, `first touch of page ${p}`);
    }
    assert.deepEqual(r.afterSecond, r.afterFirst, "second touches (load, store, after a flush)");
    assert.equal(r.sum, 1 + 2 + 3 + 4);
    assert.equal(r.tlbMissesOnReload, 4, "a flushed TLB misses, but the page table answers");
    // 4 pages of the released segment + 4 of the fresh one.
    assert.equal(node.kernel.stats.zeroFills, 8);
  });
});

// ---------------------------------------------------------------------------
// 3. Protection faults

const DEATH_CASES = [
  { mode: "ro-bind-store", addr: BASE + PAGE_SIZE + 0x10, access: "write" },
  { mode: "protect-store", addr: BASE + 0x24, access: "write" },
  { mode: "unmapped-load", addr: 0x5000_0abc, access: "read" },
];

for (const c of DEATH_CASES) {
  Deno.test(`page_fault ${c.mode} without a handler ends the process with 139 naming the address`, async () => {
    await withNode(async (node) => {
      const st = await node.run("mem_fault", [c.mode]);
      const hex = "0x" + c.addr.toString(16).padStart(8, "0");
      assert.equal(st.status, 139, st.reason);
      assert.ok(st.reason.includes(hex), `reason ${JSON.stringify(st.reason)} names ${hex}`);
      assert.match(st.reason, new RegExp(`\\b${c.access}\\b`));
      assert.ok(!node.results().some((x) => x.survived), "the faulting access did not complete");
      if (c.mode !== "unmapped-load") {
        assert.equal(node.results()[0].load, c.mode === "ro-bind-store" ? 0 : 5);
      }
      if (c.mode === "unmapped-load") {
        // In the README's words: a touch of an unmapped address is a protection fault.
        assert.match(st.reason, /^protection fault: unmapped address: read of 0x50000abc$/);
      }
      assert.equal(node.kernel.stats.protfaults, 1);
      const again = await node.run("exit_with", ["4"]);
      assert.equal(again.status, 4, "the node keeps running processes");
    });
  });
}

Deno.test("onFault() handler gets the address and access; it may repair or refuse", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_fault", ["handlers"]);
    assertExit0(node, st);
    const r = only(node);
    // Repair: protect back to READ|WRITE, the retried store lands.
    assert.deepEqual(r.fixed.calls, [[BASE + 0x104, Access.WRITE]]);
    assert.equal(r.fixed.value, 42);
    assert.equal(r.fixed.before, 41);
    // Refuse: the handler's exception comes out of the access.
    assert.deepEqual(r.thrown.calls, [[BASE + 0x108, Access.WRITE], [0x5000_0abc, Access.READ]]);
    assert.equal(r.thrown.storeError, "RangeError: refused write");
    assert.equal(r.thrown.loadError, "RangeError: refused read");
    assert.equal(r.thrown.unchanged, 0);
    // A handler that returns without repairing: one call, then MemoryFault.
    assert.deepEqual(r.unrepaired.calls, [[BASE + 0x10c, Access.WRITE]]);
    assert.match(r.unrepaired.error, /^MemoryFault: .*write.*0x2000010c/);
    assert.equal(r.unrepaired.faultVaddr, BASE + 0x10c);
    assert.equal(r.alive, 41);
  });
});

// ---------------------------------------------------------------------------
// 4. TLB invalidation

Deno.test("unbind() shoots down the TLB: a load through a stale translation faults", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_tlb", ["unbind-load"]);
    assert.deepEqual(node.results()[0], { first: 9, second: 9 });
    assert.equal(st.status, 139, st.reason);
    assert.match(st.reason, /read .*0x20000040/);
    assert.equal(node.results().length, 1, "the stale load did not return");
  });
});

Deno.test("protect() down to READ shoots down the TLB: a store through a stale entry faults", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_tlb", ["protect-store"]);
    assert.deepEqual(node.results()[0], { load: 2 });
    assert.equal(st.status, 139, st.reason);
    assert.match(st.reason, /write .*0x20000080/);
    assert.equal(node.results().length, 1, "the stale store did not return");
  });
});

Deno.test("TLB shootdown after protect/unbind, with a handler recording every fault", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_tlb", ["handled"]);
    assertExit0(node, st);
    const r = only(node);
    const page1 = BASE + 0x1000;
    assert.equal(r.warm, 0x1234);
    assert.equal(r.hit, 0x1234);
    assert.equal(r.hitMissed, 0, "a repeated load is a TLB hit");
    assert.equal(r.loadAfterProtect, `ok ${0x1234}`);
    assert.equal(r.storeAfterProtect, "fault");
    assert.equal(r.storeOtherPage, "ok undefined");
    assert.equal(r.loadAfterNone, "fault");
    assert.equal(r.loadRestored, `ok ${0x1234}`);
    assert.equal(r.loadAfterUnbind, "fault");
    assert.equal(r.storeAfterUnbind, "fault");
    assert.equal(r.rebound, `ok ${0x1234}`, "rebinding elsewhere shows the same memory");
    assert.equal(r.oldStillFaults, "fault");
    assert.equal(r.newSegmentAtOldAddress, "ok 0", "a new binding at the old address");
    assert.deepEqual(r.faults, [
      [page1, r.write],
      [page1, r.read],
      [page1, r.read],
      [BASE + 0x10, r.write],
      [page1, r.read],
    ]);
  });
});

// ---------------------------------------------------------------------------
// 5. Loads and stores

Deno.test("load/store 8–64 bits are little-endian, straddle pages, and view() aliases", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_access");
    assertExit0(node, st);
    const r = only(node);
    assert.deepEqual(r.le32, { bytes: [0x44, 0x33, 0x22, 0x11], lo16: 0x3344, hi16: 0x1122 });
    assert.deepEqual(r.le64, {
      bytes: [8, 7, 6, 5, 4, 3, 2, 1],
      lo32: 0x05060708,
      hi32: 0x01020304,
    });
    assert.deepEqual(r.small, { u16: 0xbeef, u8: 0x7f, bytes: [0xef, 0xbe, 0x7f] });
    assert.deepEqual(r.wrap, { u8: 0xff, u16: 0x2345, u32: 0xffffffff, u64: "fffffffffffffffe" });
    assert.deepEqual(r.unaligned, {
      u32: 0xa1b2c3d4,
      u64: "1122334455667788",
      u16: 0x0102,
      bytes32: [0xd4, 0xc3, 0xb2, 0xa1],
    });
    assert.deepEqual(r.straddle.u16, [0xaabb, 0xbb, 0xaa]);
    assert.deepEqual(r.straddle.u32_1, [0xdeadbeef, 0xef, 0xbe, 0xad, 0xde]);
    assert.deepEqual(r.straddle.u32_2, [0xdeadbeef, 0xef, 0xbe, 0xad, 0xde]);
    assert.deepEqual(r.straddle.u32_3, [0xdeadbeef, 0xef, 0xbe, 0xad, 0xde]);
    for (const back of [1, 4, 7]) {
      assert.deepEqual(
        r.straddle[`u64_${back}`],
        ["8877665544332211", 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
        `64-bit store ${back} bytes before a page boundary`,
      );
    }
    assert.equal(r.mismatches, 0, "bulk write/read across three page boundaries");
    for (const [got, want] of r.bulkProbes) assert.equal(got, want);
    assert.deepEqual(r.alias, { load: 0x99, viewByte: 0x55 });
    assert.deepEqual(r.aliasAcross, { load: 0x42, length: 16 });
    assert.match(r.twoSegments, /^SysError: view: EINVAL .*more than one binding/);
    assert.match(r.sameSegmentTwice, /^SysError: view: EINVAL .*more than one binding/);
    assert.equal(r.withinOne, 1);
    assert.match(r.zeroLength, /^SysError: view: EINVAL/);
    assert.deepEqual(r.upper, {
      high: 0x9000_0000,
      last: 0xfffe_f000,
      highLoad: 0x0badf00d,
      lastLoad: "ffeeddccbbaa9988",
      aliasOfS2: 2,
      highByte: 2,
    });
  });
});

// ---------------------------------------------------------------------------
// 6. Errors of the memory system calls

Deno.test("memory system calls return EINVAL/ENOMEM/EBADF/EPERM/EBUSY/ESRCH/EFAULT as specified", async () => {
  const memoryBytes = 256 * KiB;
  await withNode(async (node) => {
    const st = await node.run("mem_errors", ["main", String(memoryBytes)]);
    assertExit0(node, st);
    const r = node.results().find((x) => x.who === "parent");
    const c = node.results().find((x) => x.who === "child");
    assert.ok(r && c, node.console.out + node.console.err);
    const expect: Record<string, unknown> = {
      createSize0: "EINVAL",
      createNegative: "EINVAL",
      createTooBig: "EINVAL",
      createBadMode: "EINVAL",
      createBadUnit: "EINVAL",
      createBadPolicy: "EINVAL",
      room: memoryBytes - 4 * PAGE_SIZE,
      createBeyondNode: "ENOMEM",
      createExactFit: "ok",
      createWhenFull: "ENOMEM",
      createAfterRelease: "ok",
      bindNeverIssued: "EBADF",
      bindMisaligned: "EINVAL",
      bindSignalRegion: "EINVAL",
      bindPastTop: "EINVAL",
      bindNoRead: "EINVAL",
      bindNoRights: "EINVAL",
      bindBadRights: "EINVAL",
      bindOk: BASE,
      bindSameAddress: "EBUSY",
      bindOverlapAbove: "EBUSY",
      bindOverlapBelow: "EBUSY",
      bindAdjacent: BASE + 2 * PAGE_SIZE,
      unbindMiddle: "EINVAL",
      unbindInsideFirstPage: "EINVAL",
      unbindNothing: "EINVAL",
      unbindOk: "ok",
      unbindTwice: "EINVAL",
      protectBeyond: "EINVAL",
      protectStraddlingEnd: "EINVAL",
      protectMisaligned: "EINVAL",
      protectUnmapped: "EINVAL",
      protectWriteOnly: "EINVAL",
      protectCas: "EINVAL",
      protectZeroLength: "EINVAL",
      protectOk: "ok",
      grantNoProcess: "ESRCH",
      grantPidZero: "EINVAL",
      grantNeverIssued: "EBADF",
      releaseNeverIssued: "EBADF",
      releaseFirst: "ok",
      pageFaultBadAccess: "EINVAL",
      pageFaultMapped: 1,
      pageFaultUnmapped: "EFAULT",
      childReady: true,
      releaseSharedFirst: "ok",
      releaseSharedTwice: "EPERM",
      grantAfterRelease: "EPERM",
      childStatus: 128 + 9,
    };
    const got: Record<string, unknown> = {};
    for (const k of Object.keys(expect)) got[k] = r[k];
    assert.deepEqual(got, expect);
    assert.deepEqual(c, {
      who: "child",
      bindNotHeld: "EPERM",
      releaseNotHeld: "EPERM",
      grantNotHeld: "EPERM",
      bindMoreThanHeld: "EPERM",
      grantMoreThanHeld: "EPERM",
      bindReadOnly: "ok",
      protectUp: "EPERM",
      protectDown: "ok",
    });
    assert.ok(!node.console.err.includes("kernel: bug"), node.console.err);
  }, { memoryBytes });
});

// The first release by the only holder frees the segment, so its id is then unknown
// (like close() twice): EBADF. A second release while others hold it is EPERM.
Deno.test("release() twice by the only holder → EBADF (the segment is gone)", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_errors", ["main", String(256 * KiB)]);
    assertExit0(node, st);
    const r = node.results().find((x) => x.who === "parent");
    assert.equal(r.releaseFirst, "ok");
    assert.equal(r.releaseTwice, "EBADF");
  }, { memoryBytes: 256 * KiB });
});

Deno.test("bind(id, 0) → ENOMEM when no gap in the address space is large enough", async () => {
  await withNode(async (node) => {
    const st = await node.run("mem_errors", ["no-room"]);
    assertExit0(node, st);
    assert.deepEqual(only(node), {
      bound: 14,
      autoNoRoom: "ENOMEM",
      autoSmall: 0xf000_0000,
      fixedLow: 0x1000,
    });
  });
});

Deno.test("CreateSegment() → ENOMEM counts whole pages against memoryBytes", async () => {
  const memoryBytes = PAGE_SIZE + PAGE_SIZE / 2;
  await withNode(async (node) => {
    const st = await node.run("mem_errors", ["rounding"]);
    assertExit0(node, st);
    const r = only(node);
    assert.equal(r.first, "ok");
    assert.equal(r.oneByteMore, "ENOMEM", "a second page does not fit in 1.5 pages");
    assert.ok(node.kernel.stats.memoryUsed <= memoryBytes);
  }, { memoryBytes });
});

// ---------------------------------------------------------------------------
// 8. Resources at exit

for (const mode of ["plain", "fault"]) {
  Deno.test(`exit (${mode}) frees the process's segments and their memory`, async () => {
    await withNode(async (node) => {
      const before = node.kernel.stats.memoryUsed;
      const segsBefore = node.kernel.segments.size;
      const st = await node.run("mem_exit", [mode === "plain" ? "" : mode]);
      assert.equal(st.status, mode === "plain" ? 0 : 139, st.reason);
      const r = only(node);
      assert.equal(r.ids.length, 3);
      assert.equal(r.memoryUsed, before + 9 * PAGE_SIZE, "all three were accounted while alive");
      assert.equal(r.bindings, 3);
      for (const id of r.ids) assert.ok(!node.kernel.segments.has(id), `segment ${id} freed`);
      assert.equal(node.kernel.segments.size, segsBefore);
      assert.equal(node.kernel.stats.memoryUsed, before);
    });
  });
}

Deno.test("exit frees segments only when no other process still holds them", async () => {
  await withNode(async (node) => {
    const before = node.kernel.stats.memoryUsed;
    const parent = node.spawn("mem_exit", ["parent"]);
    assertExit0(node, await node.exited(parent));
    const r = only(node);
    const child = node.kernel.procs.get(r.child);
    assert.ok(child && child.state === "running", "the child outlives its parent");
    assert.ok(!node.kernel.segments.has(r.mine), "the parent's own segment is freed");
    const shared = node.kernel.segments.get(r.shared);
    assert.ok(shared, "the shared segment survives the parent");
    assert.deepEqual([...shared.holders.keys()], [r.child]);
    assert.equal(node.kernel.stats.memoryUsed, before + 4 * PAGE_SIZE);
    // Let the child finish: it polls the first word of the segment.
    Atomics.store(new Int32Array(shared.buffer), 0, 6);
    const cst = await node.exited(child);
    assertExit0(node, cst);
    assert.ok(!node.kernel.segments.has(r.shared));
    assert.equal(node.kernel.stats.memoryUsed, before);
  });
});
