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

Deno.test("the template server answers its client through memory and signals", async () => {
  await withNode(async (node) => {
    const st = await node.run("userland/programs/counter.ts", ["20"]);
    assert.equal(st.status, 0, node.console.out + node.console.err);
    assert.match(node.console.out, /added 1\.\.20 = 210; it exited with status 0/);
  });
});

Deno.test("pingpong shares a segment with a child and signals it at its own address", async () => {
  await withNode(async (node) => {
    const st = await node.run("userland/programs/pingpong.ts", ["25"]);
    assert.equal(st.status, 0, node.console.out + node.console.err);
    assert.match(node.console.out, /child \d+: answered 25 pings at 0x20000000/);
    assert.match(node.console.out, /parent \d+: 25 pongs from pid \d+ at 0x10000040/);
  });
});
