/**
 * Ending a process (issue 11, holes 3 and 4). Deno's `worker.terminate()` neither
 * stops a worker that is busy in JavaScript or blocked in Atomics.wait nor frees its
 * thread, so the kernel marks an ended process's trap page ENDED and its runtime
 * stops the worker itself (lockdown.ts endWorker) at its next trap, memory access or
 * wait. These tests kill children in each of those states and watch the memory they
 * shared, and run many short processes to bound the host's growth.
 */

import assert from "node:assert/strict";
import { withNode } from "./helpers.ts";

for (const mode of ["store", "wait", "trap"]) {
  Deno.test(`a child killed while it ${mode}s changes no shared memory after 100 ms`, async () => {
    await withNode(async (node) => {
      const st = await node.run("end_ghost", ["parent", mode]);
      assert.equal(st.status, 0, st.reason);
      const [r] = node.results();
      assert.ok(r.started, "the child got going");
      assert.equal(r.status, 128 + 9, r.reason);
      assert.deepEqual(r.after400, r.after100, "the segment changed after the kill");
      assert.equal(r.after400[1], 0, "the woken child wrote after its kill");
    });
  });
}

Deno.test("500 short processes in a row leave the host's memory within 200 MB", async () => {
  await withNode(async (node) => {
    // One run first, so the modules every process loads are compiled and cached.
    assert.equal((await node.run("exit_with", ["0"])).status, 0);
    const start = Deno.memoryUsage().rss;
    for (let i = 0; i < 500; i++) {
      const st = await node.run("exit_with", [String(i & 0x7f)]);
      assert.equal(st.status, i & 0x7f, st.reason);
    }
    // A worker's thread and heap go when it has stopped itself: give them a moment,
    // as a condition with a deadline (the growth is ~10 MB per process if they stay).
    const MB = 1024 * 1024;
    const deadline = performance.now() + 10_000;
    let grown = (Deno.memoryUsage().rss - start) / MB;
    while (grown > 200 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      grown = (Deno.memoryUsage().rss - start) / MB;
    }
    assert.ok(grown <= 200, `the host grew ${grown.toFixed(0)} MB over 500 processes`);
  });
});

Deno.test("the boundary: a killed child writing through a raw view runs on until its next MMU access", async () => {
  // A SharedArrayBuffer cannot be taken back, and Deno cannot stop a busy worker
  // from outside: a child that stepped outside the runtime (a raw view32 of a
  // segment) keeps writing until it next traps or accesses memory through the MMU.
  await withNode(async (node) => {
    const st = await node.run("end_ghost", ["parent", "view"]);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    assert.equal(r.status, 128 + 9, r.reason);
    assert.notDeepEqual(r.after400, r.after100, "the raw writes went on after the kill");
    assert.deepEqual(r.after700, r.after400, "its first MMU access stopped it");
  });
});
