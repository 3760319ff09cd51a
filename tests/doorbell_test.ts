/**
 * The doorbell (issue 11, hole 7): no word one process can write may slow another's
 * traps. The flag that tells a process to ring the sleeping kernel lives in each
 * process's own trap page; the doorbell's one shared word only wakes the kernel. A
 * process holding every doorbell word at 0 used to make each of another process's
 * traps on a block-only node wait for the kernel's safety timeout (~100 ms).
 */

import assert from "node:assert/strict";
import { Trap } from "../kernel/abi/layout.ts";
import { withNode } from "./helpers.ts";

Deno.test("a process holding the doorbell down does not slow another's traps", async () => {
  await withNode(async (node) => {
    const holder = node.spawn("doorbell_hold", ["hold"]);
    await node.output("holding the doorbell");
    const service = node.kernel.trapService;
    // While the kernel sleeps, the flag every other process reads says so, whatever
    // the holder writes (checked from the kernel's thread, where the sleep is seen).
    const bystander = node.spawn("doorbell_hold", ["idle"]);
    await node.output("idling");
    for (let seen = 0; seen < 20;) {
      await node.until(() => service.sleeping, 5_000, "the trap service to sleep");
      assert.equal(Atomics.load(bystander.trap, Trap.KERNEL_SLEEPING), 1);
      seen++;
      await new Promise((r) => setTimeout(r, 0));
    }
    const before = service.timeouts;
    const st = await node.run("doorbell_hold", ["victim", "30"]);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    // Each of the 30 traps finds the kernel asleep (block-only: it never spins), so a
    // trap that did not ring would end a safety timeout. A few timeouts of an idle
    // node may fall in the run; thirty cannot.
    const timeouts = service.timeouts - before;
    assert.ok(timeouts < 4, `${timeouts} sleeps ended by the safety timeout (${r.ms} ms)`);
    for (const p of [holder, bystander]) {
      node.kernel.procs.exit(p, 128 + 9, "killed by the test");
      await node.exited(p);
    }
  });
});
