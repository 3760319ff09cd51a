/**
 * External pagers (kernel/memory/pager_table.ts, userland/lib/sys/pager.ts): a pager
 * process answers other processes' faults from its own memory, zero-fills, fails,
 * times out, dies, is sent garbage, routes write-protect faults, serves a remote
 * READ's faults, and takes a dirty page the kernel evicts. Real sandboxed workers
 * (tests/programs/pg_pager.ts, pg_remote.ts).
 */

import assert from "node:assert/strict";
import { Access, EXIT_KILLED_BASE, PAGE_SIZE, Pte, Sig, Trap } from "../kernel/abi/layout.ts";
import { type TestNode, withCluster, withNode } from "./helpers.ts";
import { Sys } from "../kernel/abi/syscalls.ts";
import type { Process } from "../kernel/proc/process.ts";
import { until } from "./remote_helpers.ts";

/** The RESULT of `who`, checking there is exactly one. */
function resultOf(node: { results(): any[] }, who: string, out = ""): any {
  const r = node.results().filter((x) => x.who === who);
  assert.equal(r.length, 1, `expected one RESULT of ${who}, got ${JSON.stringify(r)}\n${out}`);
  return r[0];
}

async function runPager(node: TestNode, args: string[]): Promise<any> {
  const st = await node.run("pg_pager", args, 30_000);
  const out = node.console.out + node.console.err;
  assert.equal(st.status, 0, `${st.reason}\n${out}`);
  return resultOf(node, "pager", out);
}

const pattern = (i: number, j: number) => (i * 7 + j * 13 + 1) & 255;

Deno.test("a pager supplies pages from its own memory: the data arrives intact", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["supply", "6", "1"]);
    const client = resultOf(node, "client");
    assert.equal(client.bad, 0);
    assert.equal(pager.distinct, 6);
    assert.equal(pager.repeated, 0);
    assert.deepEqual(pager.ends.map((e: { status: number }) => e.status), [0]);
    assert.equal(node.kernel.pagers.counts.answered, 6);
  });
});

Deno.test("many faults from several processes are in flight to one pager; each completes once", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["supply", "8", "4"]);
    const clients = node.results().filter((x) => x.who === "client");
    assert.equal(clients.length, 4);
    for (const c of clients) assert.equal(c.bad, 0);
    assert.equal(pager.inFlight, 4); // four processes waited at once
    assert.equal(pager.requests, 8); // one request per page, however many wanted it
    assert.equal(pager.repeated, 0);
    for (const e of pager.ends) assert.equal(e.status, 0);
    assert.equal(node.kernel.pagers.counts.requests, 8);
  });
});

Deno.test("zeroPage() answers a fault with a zero-filled page", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["zero"]);
    assert.equal(pager.request.page, 0);
    assert.equal(pager.request.access, Access.READ);
    assert.deepEqual(resultOf(node, "client"), { who: "client", word: 0, second: 0 });
  });
});

Deno.test("failPage() gives the faulting process a protection fault its onFault handler sees", async () => {
  await withNode(async (node) => {
    await runPager(node, ["fail-handler"]);
    const client = resultOf(node, "client");
    assert.deepEqual(client.seen, { vaddr: 0x44, access: Access.READ });
    assert.match(client.r, /MemoryFault/);
  }, { pagerTimeoutMs: 300 });
});

Deno.test("failPage() ends a faulting process without a handler, with a reason naming the pager", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["fail-die"]);
    assert.equal(pager.end.status, EXIT_KILLED_BASE + Sig.SIGSEGV);
    assert.match(pager.end.reason, /pager pid \d+ failed the fault \(page 0 of segment \d+\)/);
    assert.match(pager.end.reason, /read of 0x/);
    assert.equal(node.results().filter((x) => x.who === "client").length, 0);
  });
});

Deno.test("a pager that never answers: the fault fails after pagerTimeoutMs and all go on", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["silent"]);
    const client = resultOf(node, "client");
    assert.deepEqual(client.seen, { vaddr: 0x44, access: Access.READ });
    assert.ok(client.ms >= 250, `failed after ${client.ms} ms, before the deadline`);
    assert.equal(pager.end.status, 0);
    assert.equal(pager.late, "ENOENT"); // a late answer is an error to the pager only
    assert.ok(node.kernel.pagers.counts.timedOut >= 1);
    // The node goes on: another pager and client run normally.
    await runPagerAgain(node);
  }, { pagerTimeoutMs: 300 });
});

async function runPagerAgain(node: TestNode): Promise<void> {
  const st = await node.run("pg_pager", ["zero"], 30_000);
  assert.equal(st.status, 0, st.reason);
}

Deno.test("a pager that dies fails its outstanding faults at once", async () => {
  await withNode(async (node) => {
    const p = node.spawn("pg_pager", ["die"]);
    const st = await node.exited(p);
    assert.equal(st.status, 7);
    await node.until(() => node.results().some((x) => x.who === "client"), 10_000, "client");
    const client = resultOf(node, "client");
    assert.deepEqual(client.seen, { vaddr: 0x44, access: Access.READ });
    assert.ok(client.ms < 10_000, `failed after ${client.ms} ms`); // not the 60 s deadline
    assert.equal(node.kernel.pagers.counts.timedOut, 0); // failed by the death, not the clock
    assert.equal(client.retake, "ok"); // a holder takes the segment over from the dead pager
  }, { pagerTimeoutMs: 60_000 });
});

Deno.test("garbage answers are typed errors to the pager and harm no one else", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["garbage"]);
    assert.deepEqual(pager.errors, {
      unrequested: "ENOENT",
      notPaged: "EPERM",
      noSuchSegment: "EPERM",
      pageOutOfRange: "EINVAL",
      badOp: "EINVAL",
      takeNothing: "ENOENT",
      protectZero: "EINVAL",
      protectPast: "EINVAL",
      protectOn: "EINVAL",
      twice: "EBUSY",
      message: "EINVAL",
      notHeld: "EBADF",
      badVaddr: "EFAULT",
      shortSource: "EFAULT",
    });
    assert.equal(resultOf(node, "client").bad, 0);
    assert.equal(pager.end.status, 0);
  });
});

Deno.test("a store to a page the pager write-protected reaches it and completes after it unprotects", async () => {
  await withNode(async (node) => {
    const pager = await runPager(node, ["wp"]);
    assert.equal(pager.first.page, 0);
    assert.equal(pager.first.writeProtect, false);
    assert.equal(pager.second.page, 1);
    assert.deepEqual(
      { page: pager.fault.page, access: pager.fault.access, wp: pager.fault.writeProtect },
      { page: 0, access: Access.WRITE, wp: true },
    );
    assert.equal(pager.before, 1); // the store waited for the pager
    assert.equal(pager.after, 2); // and landed once it unprotected
    assert.equal(resultOf(node, "client").value, 2);
    assert.equal(pager.end.status, 0);
  });
});

Deno.test("evict() hands a dirty page to its pager, which supplies it back on the next fault", async () => {
  await withNode(async (node) => {
    const p = node.spawn("pg_pager", ["evict"]);
    await node.until(
      () => node.results().some((x) => x.written) && node.results().some((x) => x.ready),
      15_000,
      "the client's store",
    );
    const { segment } = node.results().find((x) => x.ready);
    const seg = node.kernel.segments.get(segment)!;
    const { pid, at } = node.results().find((x) => x.written);
    const client = node.kernel.procs.get(pid)!;
    assert.ok(client.space.pageTable.get(at >>> 12) & Pte.DIRTY); // the MMU saw the store
    const epoch = client.trap[Trap.TLB_EPOCH];
    // "busy" until the client is asleep in its signal wait (TLB_PARKED) or has
    // acknowledged the shootdown of the accessed bit the first try cleared.
    let evicted = "busy";
    await node.until(() => (evicted = node.kernel.pagers.evict(seg, 0)) !== "busy", 10_000);
    assert.equal(evicted, "dirty");
    assert.equal(seg.present[0], 0);
    const pte = client.space.pageTable.get(at >>> 12);
    assert.equal(pte & (Pte.PRESENT | Pte.DIRTY), 0); // not present in the client's binding
    assert.equal(client.trap[Trap.TLB_EPOCH], epoch + 1); // and its TLB shot down
    assert.equal(node.kernel.pagers.evict(seg, 0), "absent");
    node.kernel.signalProcess(client, Sig.SIGHUP, 0);
    const st = await node.exited(p);
    assert.equal(st.status, 0, st.reason + node.console.err);
    const pager = node.results().find((x) => x.who === "pager" && x.out);
    assert.equal(pager.out.pagedOut, true);
    assert.equal(pager.word, 0xabc123); // what the client wrote, handed over by the eviction
    assert.equal(pager.twice, "ENOENT");
    assert.equal(pager.again.page, 0);
    const values = node.results().filter((x) => x.who === "client" && "value" in x);
    assert.deepEqual(values.map((x) => x.value), [0xabc123]);
  });
});

Deno.test("a remote READ (and WRITE) of pages not present waits for the pager; READ returns its data", async () => {
  await withCluster(async (c) => {
    c.spawn(0, "pg_pager", ["export", "paged.seg"]);
    const st = await c.run(1, "pg_remote", ["paged.seg", "0"], 30_000);
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    const reader = c.results().find((x) => x.who === "reader");
    const want = [];
    for (let i = 0; i < 16; i++) {
      const off = PAGE_SIZE - 8 + i;
      want.push(pattern(off >> 12, off & (PAGE_SIZE - 1)));
    }
    assert.deepEqual(reader.bytes, want);
    await until(c, () => c.results().some((x) => x.answered), "the pager's answers");
    // A remote WRITE to page 2, not present, waited for the pager too: it landed on
    // the supplied page (READ back: the pattern, then the word written).
    const around = [];
    for (let i = 0; i < 4; i++) around.push(pattern(2, i));
    assert.deepEqual(reader.written, [...around, 0x67, 0x45, 0x23, 0x01]);
    const answered = c.results().find((x) => x.answered);
    assert.deepEqual(answered.answered.sort(), [0, 1, 2]);
    assert.equal(c.node(0).pagers.counts.requests, 3);
  });
});

Deno.test("a process that pages a segment itself answers its own faults in its handler, with no event", async () => {
  await withNode(async (node) => {
    const st = await node.run("pg_own", ["own", "5"], 30_000);
    assert.equal(st.status, 0, st.reason + node.console.out + node.console.err);
    const r = resultOf(node, "own");
    assert.equal(r.bad, -1);
    assert.deepEqual(r.faults, [0, 1, 2, 3, 4]); // each page once, in order
    assert.deepEqual(r.wp, [[0, Access.WRITE]]);
    assert.deepEqual(r.stored, [77, 4]);
    assert.equal(r.events, 0);
    assert.equal(node.kernel.pagers.counts.answered, 6); // five supplied, one unprotected
  });
});

Deno.test("a fault on memory a process pages itself ends it when it has no handler, or faults inside it", async () => {
  await withNode(async (node) => {
    const none = await node.run("pg_own", ["nohandler"], 30_000);
    assert.notEqual(none.status, 0);
    assert.match(none.reason, /which this process pages itself: it has no onPageFault handler/);
    const nested = await node.run("pg_own", ["nested", "2"], 30_000);
    assert.notEqual(nested.status, 0);
    assert.match(nested.reason, /pages itself, inside its own onPageFault handler/);
    // The node goes on.
    assert.equal((await node.run("pg_own", ["own", "1"], 30_000)).status, 0);
  });
});

Deno.test("dropPages discards pages (dirty ones too, with no PAGE_OUT): each faults to its pager again; it refuses what it cannot mean", async () => {
  await withNode(async (node) => {
    const st = await node.run("pg_own", ["drop", "4"], 30_000);
    assert.equal(st.status, 0, st.reason + node.console.out + node.console.err);
    assert.deepEqual(resultOf(node, "drop"), {
      who: "drop",
      first: [0, 1, 2, 3],
      stored: 55,
      after: [1000, 1001, 1002, 3], // supplied again; page 1's store is gone; page 3 kept
      faults: [0, 1, 2, 3, 0, 1, 2],
      refused: { none: "EINVAL", pastEnd: "EINVAL", notPaged: "EPERM", pinned: "EBUSY" },
      again: 3,
      events: 0,
    });
    assert.equal(node.kernel.pagers.counts.dropped, 6); // 3, 3 again once read, then none
    assert.equal(node.kernel.segments.frames!.evictions, 0); // a drop is not an eviction
  });
});

Deno.test("locatePage refuses what it cannot mean with typed errors; forgetting a page is harmless", async () => {
  await withNode(async (node) => {
    assert.equal((await node.run("pg_own", ["locate", "2"], 30_000)).status, 0);
    assert.deepEqual(resultOf(node, "locate"), {
      who: "locate",
      noDesc: "EBADF",
      notPaged: "EPERM",
      pastEnd: "EINVAL",
      forget: "ok",
    });
  });
});

Deno.test("a trap the kernel holds for a pager says so (KERNEL_HOLDS: its process sleeps, not spins); its end clears it", async () => {
  await withNode(async (node) => {
    const run = runPager(node, ["silent"]);
    let client: Process | undefined;
    await node.until(
      () =>
        (client = [...node.kernel.procs.values()].find((p) =>
          p.blocked !== null && p.trap[Trap.SYSNO] === Sys.page_fault
        )) !== undefined,
      10_000,
      "a client held in its fault",
    );
    assert.equal(Atomics.load(client!.trap, Trap.KERNEL_HOLDS), 1);
    await run; // the fault failed at the deadline and the client went on
    assert.equal(Atomics.load(client!.trap, Trap.KERNEL_HOLDS), 0);
  }, { pagerTimeoutMs: 300 });
});
