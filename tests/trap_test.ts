/**
 * The trap boundary: garbage in a trap request is answered with EINVAL and never
 * reaches a handler or breaks the kernel (tests/programs/trap_*.ts).
 */

import assert from "node:assert/strict";
import { DATA_BYTES } from "../kernel/abi/layout.ts";
import { withNode } from "./helpers.ts";

Deno.test("trap() with garbage requests → EINVAL, and the kernel keeps serving", async () => {
  await withNode(async (node) => {
    const st = await node.run("trap_garbage");
    assert.equal(st.status, 0, `${st.reason}\n${node.console.out}${node.console.err}`);
    const results = node.results();
    assert.equal(results.length, 1, node.console.out + node.console.err);
    const { cases, after } = results[0];
    const notEinval = Object.entries(cases).filter(([k, v]) =>
      v !== "EINVAL" && k !== "dataLenExact" && k !== "spawnNoSuchModule"
    );
    assert.deepEqual(notEinval, [], "every garbage request gives EINVAL");
    assert.equal(cases.dataLenExact, "ok 0", "a full data area is accepted");
    assert.ok(node.console.out.includes(".".repeat(DATA_BYTES)), "and printed in full");
    assert.equal(cases.spawnNoSuchModule, "ENOENT");
    // The forged lengths printed nothing.
    assert.ok(!node.console.out.includes("hello"), node.console.out);
    assert.ok(!node.console.out.includes("garbage"), node.console.out);
    // Same process afterwards.
    assert.equal(after.getpid, st.pid);
    assert.equal(after.pid, st.pid);
    assert.equal(after.nullTrap, 0);
    assert.equal(after.load, 0x600d);
    assert.equal(after.selfPid, st.pid);
    // No request reached a handler as a kernel exception, and no process was spawned.
    assert.ok(!node.console.err.includes("kernel: bug"), node.console.err);
    assert.equal(node.kernel.stats.spawned, 1);
    // A new process works too.
    const again = await node.run("exit_with", ["5"]);
    assert.equal(again.status, 5);
    assert.equal(node.kernel.halted, false);
  });
});
