/**
 * Limits (issue 11, hole 9): memory the kernel hands a process counts until the
 * process exits (a SharedArrayBuffer cannot be taken back), and processes, segments
 * and descriptors have per-process and per-node limits with clear errors.
 */

import assert from "node:assert/strict";
import { DEFAULT_LIMITS, type Limits } from "../kernel/config.ts";
import { withNode } from "./helpers.ts";

const MiB = 1024 * 1024;

function limits(l: Partial<Limits>): { limits: Limits } {
  return { limits: { ...DEFAULT_LIMITS, ...l } };
}

Deno.test("released segments whose buffers a process holds count until it exits", async () => {
  await withNode(async (node) => {
    const st = await node.run("limits_probe", ["retain", "20", String(MiB)]);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    // 8 MiB of node memory: the ninth 1 MiB segment finds eight still counted.
    assert.equal(r.done, 8, JSON.stringify(r));
    assert.equal(r.code, "ENOMEM");
    assert.match(r.why, /exceed the node's/);
    // The process has exited: its buffers are gone, and so is their count.
    assert.equal(node.kernel.stats.memoryUsed, 0);
    assert.equal(node.kernel.segments.counts().counted, 0);
    const again = await node.run("limits_probe", ["retain", "4", String(MiB)]);
    assert.equal(again.status, 0, again.reason);
    assert.equal(node.results()[1].done, 4);
  }, { memoryBytes: 8 * MiB });
});

Deno.test("a process's own memory and segment count are limited (ENOMEM)", async () => {
  await withNode(async (node) => {
    await node.run("limits_probe", ["retain", "20", String(MiB)]);
    await node.run("limits_probe", ["retain", "20", "4096"]);
    const [bytes, count] = node.results();
    assert.deepEqual([bytes.done, bytes.code], [3, "ENOMEM"]);
    assert.match(bytes.why, /exceed pid \d+'s 3145728/);
    assert.deepEqual([count.done, count.code], [5, "ENOMEM"]);
    assert.match(count.why, /has made 5 segments/);
  }, limits({ processMemoryBytes: 3 * MiB, processSegments: 5 }));
});

Deno.test("descriptors are limited per process (EMFILE), and info lists them all", async () => {
  await withNode(async (node) => {
    const st = await node.run("limits_probe", ["descriptors", "50"]);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    assert.deepEqual([r.done, r.code, r.listed, r.reopened], [20, "EMFILE", 20, 1]);
    assert.equal(node.kernel.procs.descriptorsOpen, 0, "an exited process's descriptors close");
  }, limits({ descriptors: 20 }));
});

Deno.test("descriptors are limited per node (ENFILE)", async () => {
  await withNode(async (node) => {
    const st = await node.run("limits_probe", ["descriptors", "50"]);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    assert.deepEqual([r.done, r.code, r.reopened], [12, "ENFILE", 1]);
  }, limits({ nodeDescriptors: 12 }));
});

Deno.test("processes are limited per parent and per node (EAGAIN)", async () => {
  await withNode(async (node) => {
    await node.run("limits_probe", ["spawn", "10"]);
    const [r] = node.results();
    assert.deepEqual([r.done, r.code, r.respawned], [3, "EAGAIN", 1]);
    assert.match(r.why, /3 children not yet reaped/);
  }, limits({ children: 3 }));
  await withNode(async (node) => {
    await node.run("limits_probe", ["spawn", "10"]);
    const [r] = node.results();
    // The probe itself is one of the node's four.
    assert.deepEqual([r.done, r.code, r.respawned], [3, "EAGAIN", 1]);
    assert.match(r.why, /the node has 4 processes/);
  }, limits({ processes: 4 }));
});

Deno.test("info reads 20,000 descriptors whole", async () => {
  await withNode(async (node) => {
    const st = await node.run("limits_probe", ["descriptors", "20000"], 60_000);
    assert.equal(st.status, 0, st.reason);
    const [r] = node.results();
    assert.deepEqual([r.done, r.code, r.listed], [20000, "", 20000]);
  }, limits({ descriptors: 30_000 }));
});
