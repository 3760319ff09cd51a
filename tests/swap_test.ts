/**
 * Swap and the memory server (issue 13 items 4-5; README "Swap and the memory
 * server"): anonymous memory four times a node's frames comes through the swap
 * pager (servers/pager/) intact, from its disk and from a memory server
 * (servers/memory/) on another node; a memory server whose node crashes mid-run
 * loses nothing (the disk copy); pinned pages never leave; `--swap-scope opt-in`
 * swaps only the segments let out; a READ into a swapped-out page waits for it.
 *
 * The swap disks are files in /tmp, removed at the end.
 */

import assert from "node:assert/strict";
import { HostDisk } from "../kernel/host/host_disk.ts";
import type { Kernel } from "../kernel/kernel.ts";
import type { Process } from "../kernel/proc/process.ts";
import { TestCluster, TestNode, withDeadline, withNode } from "./helpers.ts";
import { until } from "./remote_helpers.ts";

const FRAMES = 256; // 1 MiB
/** Frames and a pager deadline generous for a loaded 2-core machine. */
const SMALL = { memoryFrames: FRAMES, pagerTimeoutMs: 10_000 };
const PAGER = "servers/pager/mod.ts";
const MEMORY = "servers/memory/mod.ts";
const MEMHOG = "userland/programs/memhog.ts";
const CLERK = "servers/names/mod.ts";

/** A swap disk in /tmp for `k`, and its swap pager started; returns what to close. */
async function addSwap(k: Kernel, mib = 16): Promise<{ pager: Process; close(): Promise<void> }> {
  const path = await Deno.makeTempFile({ prefix: "swap-test-", suffix: ".img" });
  const disk = await HostDisk.open(path, mib * 1024 * 1024);
  k.disks.add(disk, { swap: true });
  const pager = k.spawn(PAGER, []);
  const deadline = performance.now() + 15_000;
  while (k.pagers.swapPager !== pager.pid) {
    if (performance.now() > deadline) throw new Error("the swap pager did not attach in 15 s");
    await new Promise((r) => setTimeout(r, 2));
  }
  return {
    pager,
    close: async () => {
      await disk.close();
      await Deno.remove(path).catch(() => {});
    },
  };
}

/** memhog's checksum line on a node with frames enough (the figure every run must match). */
let reference: string | null = null;
async function expected(mib: number, passes: number): Promise<string> {
  if (reference) return reference;
  const node = new TestNode();
  try {
    const st = await node.run(MEMHOG, [String(mib), String(passes)], 60_000);
    assert.equal(st.status, 0, st.reason + node.console.out);
    reference = /checksum (\w+)/.exec(node.console.out)![1];
    return reference;
  } finally {
    node.close();
  }
}

function checksumOf(out: string): string | undefined {
  return /memhog: .*checksum (\w+)/.exec(out)?.[1];
}

Deno.test("a working set four times the node's frames computes the right checksum through the swap pager's disk", async () => {
  const want = await expected(4, 2);
  await withNode(async (node) => {
    const swap = await addSwap(node.kernel);
    try {
      const st = await node.run(MEMHOG, ["4", "2"], 120_000);
      assert.equal(st.status, 0, st.reason + node.console.out + node.console.err);
      assert.equal(checksumOf(node.console.out), want);
      const frames = node.kernel.segments.frames;
      assert.equal(frames.total, FRAMES);
      // 4 MiB written once and swept twice on 1 MiB of frames: every page left at least twice.
      assert.ok(frames.evictions >= 3 * 3 * FRAMES, `evictions ${frames.evictions}`);
      assert.equal(node.kernel.procs.get(swap.pager.pid)?.state, "running");
    } finally {
      await swap.close();
    }
  }, SMALL);
});

Deno.test("the same working set through the memory server on another node: pages go there and come back intact", async () => {
  const want = await expected(4, 2);
  const c = new TestCluster(2, { ...SMALL, memoryServerNode: 1 }, {
    perNode: (id) => id === 1 ? { memoryFrames: 0 } : {},
  });
  let swap: Awaited<ReturnType<typeof addSwap>> | null = null;
  try {
    await c.startClerks();
    c.spawn(1, MEMORY, ["--mib", "16"]);
    swap = await addSwap(c.node(0));
    const served = c.node(1).remote.stats.served;
    const st = await c.run(0, MEMHOG, ["4", "2"], 120_000);
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    assert.equal(checksumOf(c.console.out), want);
    // Every page-out (each eviction: every pass rewrites every page) is a block WRITE
    // to node 1 (the last ones may still be on their way as memhog ends), and the
    // page-ins not met in the pager's buffers are READs from it: most of them made
    // by node 0's kernel itself, from where the pager located the pages.
    const evictions = c.node(0).segments.frames.evictions;
    const moved = () => c.node(1).remote.stats.served - served;
    await until(c, () => moved() > evictions, `node 1 to serve more than ${evictions}`);
    const counts = c.node(0).pagers.counts;
    assert.ok(counts.remoteIns > 0, JSON.stringify(counts));
    assert.equal(counts.remoteFailed, 0);
    assert.ok(!c.console.out.includes("no memory server"), c.console.out);
    assert.ok(!c.console.out.includes("not used from now on"), c.console.out);
  } finally {
    c.close();
    await swap?.close();
  }
});

Deno.test("the memory server's node crashes mid-run: no page is lost, they come back from the disk copy", async () => {
  const want = await expected(4, 2);
  const c = new TestCluster(2, {
    ...SMALL,
    memoryServerNode: 1,
    heartbeatMs: 20,
    failAfterMs: 150,
  }, { perNode: (id) => id === 1 ? { memoryFrames: 0 } : {} });
  let swap: Awaited<ReturnType<typeof addSwap>> | null = null;
  try {
    await c.startClerks();
    c.spawn(1, MEMORY, ["--mib", "16"]);
    swap = await addSwap(c.node(0));
    const hog = c.spawn(0, MEMHOG, ["4", "2"]);
    // Crash node 1 once node 0 has paged a good deal out to it, and its kernel has
    // paged in from there (located pages: it must forget them and ask the pager).
    const frames = c.node(0).segments.frames;
    const counts = c.node(0).pagers.counts;
    const deadline = performance.now() + 60_000;
    while (frames.evictions < 4 * FRAMES || counts.remoteIns === 0) {
      if (performance.now() > deadline) throw new Error(`only ${frames.evictions} evictions`);
      await new Promise((r) => setTimeout(r, 2));
    }
    c.cluster.crash(1);
    const st = await withDeadline(hog.exited, 120_000, "memhog to exit");
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    assert.equal(checksumOf(c.console.out), want);
    assert.ok(frames.evictions >= 3 * 3 * FRAMES, `evictions ${frames.evictions}`);
  } finally {
    c.close();
    await swap?.close();
  }
});

Deno.test("pinned pages never leave while the rest of their segment is swapped", async () => {
  await withNode(async (node) => {
    const swap = await addSwap(node.kernel);
    try {
      const probe = node.spawn("swap_probe", ["pinned", String(3 * FRAMES), "8"]);
      let ended = "";
      probe.exited.then((st) => ended = st.reason);
      await node.until(() => node.console.out.includes("RESULT") || ended !== "", 60_000, "RESULT");
      assert.equal(ended, "", `the probe ended: ${ended}\n${node.console.out}`);
      assert.deepEqual(node.results()[0], { bad: -1, bad2: -1 });
      const seg = [...node.kernel.segments.byId.values()].find((s) =>
        s.creator === probe.pid && s.pages === 3 * FRAMES
      )!;
      for (let p = 0; p < 8; p++) {
        assert.equal(seg.present[p], 1, `pinned page ${p} is not present`);
        assert.equal(seg.held?.[p] ?? 0, 0, `pinned page ${p} went to the swap pager`);
      }
      const out = [...seg.held!].reduce((a, b) => a + b, 0);
      assert.ok(out >= FRAMES, `only ${out} pages were swapped`);
      node.kernel.signalProcess(probe, 9, 0);
      await node.exited(probe);
    } finally {
      await swap.close();
    }
  }, SMALL);
});

Deno.test("--swap-scope opt-in: a segment not let out exhausts the frames (ENOMEM), one let out is swapped", async () => {
  await withNode(async (node) => {
    const swap = await addSwap(node.kernel);
    try {
      assert.equal((await node.run("swap_probe", ["optin", String(2 * FRAMES), "0"])).status, 0);
      const st = await node.run("swap_probe", ["optin", String(2 * FRAMES), "1"]);
      assert.equal(st.status, 0, st.reason + node.console.out);
      const [kept, out] = node.results();
      assert.deepEqual(kept, { set: "ok", filled: "ENOMEM", bad: null });
      assert.deepEqual(out, { set: "ok", filled: "ok", bad: -1 });
    } finally {
      await swap.close();
    }
  }, { ...SMALL, swapAll: false });
});

Deno.test("a READ whose local destination was swapped out waits for the page and lands in it", async () => {
  await withNode(async (node) => {
    node.spawn(CLERK, []);
    const swap = await addSwap(node.kernel);
    try {
      node.spawn("swap_probe", ["source"]);
      await node.output("RESULT");
      const st = await node.run("swap_probe", ["remote", String(2 * FRAMES)], 60_000);
      assert.equal(st.status, 0, st.reason + node.console.out);
      assert.deepEqual(node.results()[1], { bad: -1, again: -1 });
      assert.ok(node.kernel.segments.frames.evictions >= FRAMES);
    } finally {
      await swap.close();
    }
  }, SMALL);
});

Deno.test("a swap pager that dies fails only the faults it owes: the program ends naming it, the node goes on", async () => {
  await withNode(async (node) => {
    const swap = await addSwap(node.kernel);
    try {
      const hog = node.spawn(MEMHOG, ["4", "4"]);
      const frames = node.kernel.segments.frames;
      await node.until(() => frames.evictions >= 3 * FRAMES, 60_000, "evictions");
      node.kernel.signalProcess(swap.pager, 9, 0);
      const st = await node.exited(hog, 60_000);
      assert.notEqual(st.status, 0);
      assert.match(st.reason, new RegExp(`pager pid ${swap.pager.pid} (has )?ended`));
      // The kernel and a new program go on (its pages are not swappable now: no pager).
      assert.equal((await node.run("swap_probe", ["optin", "16", "1"])).status, 0);
      assert.deepEqual(node.results().at(-1), { set: "ok", filled: "ok", bad: -1 });
    } finally {
      await swap.close();
    }
  }, SMALL);
});

Deno.test("writeback throttling: faults wait while the swap pager has 256 page-outs not taken, and fail naming it when it ends", async () => {
  await withNode(async (node) => {
    const stall = node.spawn("swap_probe", ["stall"]);
    await node.until(() => node.kernel.pagers.swapPager === stall.pid, 15_000, "the pager");
    const hog = node.spawn(MEMHOG, ["4", "1"]);
    const counts = node.kernel.pagers.counts, frames = node.kernel.segments.frames;
    await node.until(() => counts.throttled > 0, 30_000, "a fault held back");
    // Held back once 256 dirty pages wait for the pager, and not before.
    assert.ok(frames.evictions >= 256, `throttled after ${frames.evictions} evictions`);
    assert.equal(hog.state, "running");
    const evicted = frames.evictions;
    node.kernel.signalProcess(stall, 9, 0);
    const st = await node.exited(hog, 30_000);
    assert.notEqual(st.status, 0);
    assert.match(st.reason, new RegExp(`swap pager pid ${stall.pid} ended`));
    assert.ok(frames.evictions - evicted < 64, "no page went out while it was held back");
  }, SMALL);
});
