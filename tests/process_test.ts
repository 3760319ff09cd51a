import assert from "node:assert/strict";
import {
  NotifyPolicy,
  PAGE_SIZE,
  RIGHTS_ALL,
  SegMode,
  SegUnit,
  Sig,
} from "../kernel/abi/layout.ts";
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

Deno.test("an exiting process gives back its pins and its remote descriptors", async () => {
  await withNode(async (node) => {
    const k = node.kernel;
    // A segment the test holds (pid 0), so it outlives the process that pins it.
    const seg = k.segments.create(0, {
      size: 4 * PAGE_SIZE,
      mode: SegMode.NORMAL,
      unit: SegUnit.CACHE_LINE,
      notifyPolicy: NotifyPolicy.NEVER,
    });
    const p = node.spawn("exit_holds", [String(seg.id), String(k.nodeId)]);
    k.segments.grant(seg, p.pid, RIGHTS_ALL); // before its first trap: this turn
    await node.until(() => node.results().length > 0, 15_000, "the report");
    const r = node.results()[0];
    assert.deepEqual([r.pinned, r.held, r.descriptors.length], [2, 2, 2]);
    assert.deepEqual([...seg.pins], [1, 1, 0, 0], "pinned while it runs");
    assert.equal(p.descriptors.size, 2);

    k.signalProcess(p, Sig.SIGHUP, 0);
    const st = await node.exited(p);
    assert.equal(st.status, 0, st.reason);
    assert.deepEqual([...seg.pins], [0, 0, 0, 0], "its pins were released");
    assert.equal(p.descriptors.size, 0, "its descriptors were freed");
    assert.ok(k.segments.has(seg.id), "the segment itself lives on: the test holds it");
  });
});

Deno.test("one print longer than the data area lands whole, never split by another process's output", async () => {
  await withNode(async (node) => {
    const short = node.spawn("print_long", ["short", "3000"]);
    const long = node.spawn("print_long", ["long", "20"]);
    assert.equal((await node.exited(long)).status, 0);
    assert.equal((await node.exited(short)).status, 0);
    const lines = node.console.out.split("\n");
    const longs = lines.filter((l) => l.includes("LONG") || /^x+/.test(l));
    assert.equal(longs.length, 20, "twenty long lines, none cut");
    for (const l of longs) assert.equal(l, "LONG" + "x".repeat(9_996));
    assert.equal(lines.filter((l) => /^short \d+$/.test(l)).length, 3000);
    assert.equal((await node.run("print_long", ["more"])).status, 0);
    assert.deepEqual(node.results(), [{ more2: "EINVAL" }]);
  });
});
