/**
 * The API as documented (issue 12, items 9–11): one error type for misuse, whether
 * the runtime or the kernel caught it; one name per counter (page faults and
 * protection faults) in every table that shows them; and the README's examples and
 * API tables checked against userland/lib/mod.ts (below, section 3).
 */

import assert from "node:assert/strict";
import { Errno } from "../kernel/abi/errors.ts";
import { type TestNode, withNode } from "./helpers.ts";

function assertExit0(node: TestNode, st: { status: number; reason: string }): void {
  assert.equal(
    st.status,
    0,
    `${st.reason}\n--- console ---\n${node.console.out}${node.console.err}`,
  );
}

// ---------------------------------------------------------------------------
// 1. One error type for API misuse

Deno.test("a call given a bad argument throws SysError with an errno, from the runtime or the kernel", async () => {
  await withNode(async (node) => {
    const st = await node.run("api_misuse");
    assertExit0(node, st);
    const got = Object.fromEntries(
      node.results().filter((r) => r.name).map((r) => [r.name, r.other ?? r.code]),
    );
    assert.deepEqual(got, {
      write41: "EMSGSIZE",
      spawnLong: "E2BIG",
      startOnLong: "E2BIG",
      viewZero: "EINVAL",
      view32Unaligned: "EINVAL",
      queueSlots: "EINVAL",
      rawRecords: "EINVAL",
      rawTooLong: "EMSGSIZE",
      bindBadRights: "EINVAL",
      protectBadRights: "EINVAL",
    });
    for (const r of node.results().filter((x) => x.name)) {
      assert.equal(r.errno, Errno[r.code as keyof typeof Errno], `${r.name}: errno matches code`);
    }
  });
});

// ---------------------------------------------------------------------------
// 2. One meaning per word: pagefaults and protfaults

Deno.test("info() and ps name page faults pagefaults and protection faults protfaults, everywhere", async () => {
  await withNode(async (node) => {
    const st = await node.run("api_misuse");
    assertExit0(node, st);
    const r = node.results().find((x) => x.counters);
    assert.equal(r.value, 3, "the repaired store landed");
    assert.equal(r.pagefaults, 2, "two first touches");
    assert.equal(r.protfaults, 1, "one protection fault, handled");
    for (
      const [what, keys] of [
        ["info(self)", r.selfKeys],
        ["info(ps)", Object.keys(r.psRow)],
        ["info(stats)", Object.keys(r.stats)],
      ] as const
    ) {
      assert.ok(keys.includes("pagefaults"), `${what} has pagefaults: ${keys}`);
      assert.ok(keys.includes("protfaults"), `${what} has protfaults: ${keys}`);
      assert.ok(!keys.includes("faults"), `${what} has no ambiguous "faults"`);
    }
    assert.ok(r.psRow.pagefaults >= 2);
    assert.ok(r.stats.pagefaults >= r.psRow.pagefaults, "the node counts every process's");
    assert.equal(node.kernel.stats.protfaults, 1);
  });
});
