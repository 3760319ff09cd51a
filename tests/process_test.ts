import assert from "node:assert/strict";
import { withNode } from "./helpers.ts";

Deno.test("spawn() runs a program to its exit status", async () => {
  await withNode(async (node) => {
    const st = await node.run("exit_with", ["7"]);
    assert.equal(st.status, 7);
    assert.match(st.reason, /status 7/);
    assert.match(node.console.out, /exiting with 7/);
  });
});

Deno.test("a program that throws is reaped with status 134 and the error as reason", async () => {
  await withNode(async (node) => {
    const st = await node.run("exit_with", ["throw"]);
    assert.equal(st.status, 134);
    assert.match(st.reason, /deliberate failure/);
    const again = await node.run("exit_with", ["3"]);
    assert.equal(again.status, 3, "the kernel keeps serving after a crash");
  });
});

Deno.test("an unhandled rejection crashes only its own process", async () => {
  await withNode(async (node) => {
    const st = await node.run("exit_with", ["reject"]);
    assert.equal(st.status, 134);
    assert.match(st.reason, /deliberate rejection/);
  });
});
