/**
 * Failure detection (000 §3.7) in an in-process cluster with short heartbeats: a
 * crashed node is detected, requests to it fail with EHOSTDOWN (at issue time, and
 * as an error completion for one outstanding when it died), its names leave the
 * clerks' caches, and a node that comes back issues generations nobody has seen, so
 * old descriptors for it are stale.
 *
 * The client (tests/programs/fd_client.ts) waits at "gates" the test opens, so every
 * crash and restart happens at a known point of its script; nothing sleeps.
 */

import assert from "node:assert/strict";
import { TestCluster, withCluster, withDeadline } from "./helpers.ts";
import type { Process } from "../kernel/proc/process.ts";

const FAST = { heartbeatMs: 20, failAfterMs: 150 };
const CLERK = new URL("../servers/names/mod.ts", import.meta.url).href;
const DEADLINE_MS = 15_000;

/** Polls `cond` every few ms until it holds; throws naming `what` after `ms`. */
async function until(
  c: TestCluster,
  cond: () => boolean,
  what: string,
  ms = DEADLINE_MS,
): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}\n--- console ---\n${c.console.out}${c.console.err}` +
          `\n--- processes ---\n${processTable(c)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Each node's processes, for a failure message. */
function processTable(c: TestCluster): string {
  const lines: string[] = [];
  for (const k of c.cluster.nodes) {
    for (const p of k.procs.values()) {
      const blocked = p.blocked ? ` blocked in trap ${p.blocked.sysno}` : "";
      const where = `node ${k.nodeId}${k.halted ? " (halted)" : ""}`;
      lines.push(
        `${where} pid ${p.pid} ${p.state}${blocked} ${p.module.split("/").slice(-2).join("/")}`,
      );
    }
  }
  return lines.join("\n");
}

/** RESULT lines of fd_client runs tagged `tag`. */
function tagged(c: TestCluster, tag: string): any[] {
  return c.results().filter((r) => r.tag === tag);
}

/** Waits for the RESULT of step `i` of the client tagged `tag`. */
async function step(c: TestCluster, tag: string, i: number): Promise<any> {
  await until(c, () => tagged(c, tag).some((r) => r.step === i), `${tag} step ${i}`);
  return tagged(c, tag).find((r) => r.step === i);
}

/** Starts fd_client on node `n`; returns it and a function that opens its gate to `v`. */
async function client(
  c: TestCluster,
  n: number,
  tag: string,
  steps: unknown[],
): Promise<{ proc: Process; open: (v: number) => void }> {
  const proc = c.spawn(n, "fd_client", [tag, JSON.stringify(steps)]);
  await until(c, () => tagged(c, tag).some((r) => "gate" in r && !("step" in r)), `${tag} gate`);
  const id = tagged(c, tag).find((r) => "gate" in r && !("step" in r)).gate;
  const gate = c.node(n).segments.get(id)!;
  return {
    proc,
    open: (v) => {
      Atomics.store(gate.words, 0, v);
      Atomics.notify(gate.words, 0);
    },
  };
}

/** Starts rm_owner exporting `name` on node `n` and waits until the export exists. */
async function owner(c: TestCluster, n: number, name: string): Promise<void> {
  c.spawn(n, "rm_owner", [name]);
  const k = c.node(n);
  await until(c, () => k.exports.byName(name) !== undefined, `export of ${name} on node ${n}`);
}

/** Waits until node `watcher`'s failure detector judges `node` down (or up). */
async function detected(c: TestCluster, watcher: number, node: number, up: boolean) {
  await until(
    c,
    () => c.node(watcher).detector.peers.get(node)?.up === up,
    `node ${watcher} to see node ${node} ${up ? "up" : "down"}`,
  );
}

async function exited(p: Process): Promise<number> {
  return (await withDeadline(p.exited, DEADLINE_MS, `pid ${p.pid} to exit`)).status;
}

Deno.test("a crashed node is detected; operations to it fail with EHOSTDOWN, in flight or new", async () => {
  await withCluster(
    async (c) => {
      await owner(c, 0, "counter");
      const steps = [
        { op: "import", name: "counter", hint: 0 }, // 0
        { op: "write", off: 0, data: [1, 2, 3, 4] }, // 1: the link works
        { op: "gate", n: 1 }, // 2: the test slows the link
        { op: "inflight", off: 8, data: [9, 9, 9, 9] }, // 3: issued, not answered
        { op: "gate", n: 2 }, // 4: the test crashes node 0 and waits for detection
        { op: "await-error" }, // 5
        { op: "nodes" }, // 6
        { op: "write", off: 0, data: [5] }, // 7
        { op: "read", off: 0, count: 4 }, // 8
        { op: "cas", off: 0, old: 0, new: 1 }, // 9
        { op: "descriptors" }, // 10
      ];
      const { proc, open } = await client(c, 1, "a", steps);
      assert.deepEqual(await step(c, "a", 0), { tag: "a", step: 0, desc: 1, size: 8192 });
      assert.deepEqual(await step(c, "a", 1), { tag: "a", step: 1, ok: true });
      assert.equal(c.node(1).detector.peers.get(0)?.up, true);
      assert.equal(c.node(1).nodeDown(0), false);

      // A link so slow that the WRITE is still on its way when node 0 dies.
      c.cluster.network.setLink(0, 1, { latencyUs: 20_000_000 });
      open(1);
      const inflight = await step(c, "a", 3);
      assert.equal(inflight.error, undefined, "the WRITE is issued while node 0 is up");
      assert.equal(inflight.errors, 0);
      assert.ok(c.node(1).remote.outstanding >= 1);

      c.cluster.crash(0);
      await detected(c, 1, 0, false);
      assert.equal(c.node(1).nodeDown(0), true);
      assert.equal(c.node(0).halted, true);
      open(2);

      // The request outstanding at the crash completes with an error, EHOSTDOWN.
      const err = await step(c, "a", 5);
      assert.deepEqual(err, { tag: "a", step: 5, errors: 1, errno: "EHOSTDOWN", desc: 1 });
      // info("nodes") from a program shows node 0 down and node 1 (itself) up.
      const nodes = (await step(c, "a", 6)).nodes;
      const n0 = nodes.find((n: any) => n.node === 0);
      const self = nodes.find((n: any) => n.self);
      assert.equal(n0.up, false);
      assert.equal(n0.self, false);
      assert.equal(self.node, 1);
      assert.equal(self.up, true);
      // New operations on the descriptor fail at issue, with EHOSTDOWN.
      const ops = [];
      for (const i of [7, 8, 9]) ops.push(await step(c, "a", i));
      assert.deepEqual(ops, [7, 8, 9].map((i) => ({ tag: "a", step: i, error: "EHOSTDOWN" })));
      const descs = (await step(c, "a", 10)).descriptors;
      assert.equal(descs.length, 1);
      assert.equal(descs[0].node, 0);
      assert.equal(descs[0].state, "host down");
      assert.equal(await exited(proc), 0);
    },
    2,
    { heartbeatMs: 20, failAfterMs: 300 },
  );
});

Deno.test("a crashed node's names are purged from the clerks' caches", async () => {
  await withCluster(
    async (c) => {
      await owner(c, 0, "counter");
      const steps = [
        { op: "import", name: "counter", hint: 0 }, // 0: a remote lookup, now cached
        { op: "import", name: "counter" }, // 1: no hint: served from node 1's cache
        { op: "gate", n: 1 }, // 2: the test crashes node 0 and waits for detection
        { op: "import", name: "counter" }, // 3: no hint, not in the cache any more
        { op: "import", name: "counter", hint: 0 }, // 4: the hint is down
        { op: "import", name: "counter", hint: 0, force: true }, // 5
      ];
      const { proc, open } = await client(c, 1, "p", steps);
      const first = await step(c, "p", 0);
      assert.equal(first.size, 8192);
      const cached = await step(c, "p", 1);
      assert.equal(cached.size, 8192, "the clerk answered from its cache");
      assert.notEqual(cached.desc, first.desc);

      c.cluster.crash(0);
      await detected(c, 1, 0, false);
      open(1);
      assert.deepEqual(await step(c, "p", 3), { tag: "p", step: 3, error: "ENOENT" });
      assert.deepEqual(await step(c, "p", 4), { tag: "p", step: 4, error: "EHOSTDOWN" });
      assert.deepEqual(await step(c, "p", 5), { tag: "p", step: 5, error: "EHOSTDOWN" });
      assert.equal(await exited(proc), 0);
    },
    2,
    FAST,
  );
});

Deno.test("a node that comes back issues new generations: old descriptors are stale", async () => {
  await withCluster(
    async (c) => {
      await owner(c, 0, "counter");
      const steps = [
        { op: "import", name: "counter", hint: 0 }, // 0: the old incarnation's export
        { op: "write", off: 0, data: [7, 0, 0, 0] }, // 1
        { op: "gate", n: 1 }, // 2: crash, restart, re-export
        { op: "write", off: 0, data: [8] }, // 3: old descriptor
        { op: "read", desc: 1, off: 0, count: 4 }, // 4: old descriptor
        { op: "import", name: "counter", hint: 0 }, // 5: a fresh import
        { op: "write", off: 0, data: [6, 5, 4, 3] }, // 6
        { op: "read", off: 0, count: 4 }, // 7
        { op: "descriptors" }, // 8
        { op: "gate", n: 2 }, // 9: the test inspects the kernel's descriptors
      ];
      const oldIncarnation = c.node(0).exports.incarnation;
      const oldExport = c.node(0).exports.byName("counter")!;
      assert.equal(oldExport.genHi, oldIncarnation);
      const { proc, open } = await client(c, 1, "r", steps);
      assert.equal((await step(c, "r", 0)).desc, 1);
      assert.deepEqual(await step(c, "r", 1), { tag: "r", step: 1, ok: true });
      await until(
        c,
        () => c.node(1).detector.peers.get(0)?.incarnation === oldIncarnation,
        "node 1 to hear node 0's incarnation",
      );

      c.cluster.crash(0);
      await detected(c, 1, 0, false);
      const k0 = c.cluster.restart(0);
      assert.equal(c.node(0), k0);
      const newIncarnation = k0.exports.incarnation;
      assert.notEqual(newIncarnation, oldIncarnation);
      k0.spawn(CLERK, ["200"]);
      await until(c, () => k0.names !== null, "the new node 0's clerk");
      await owner(c, 0, "counter");
      const newExport = k0.exports.byName("counter")!;
      assert.equal(newExport.genHi, newIncarnation);
      await until(
        c,
        () =>
          c.node(1).detector.peers.get(0)?.up === true &&
          c.node(1).detector.peers.get(0)?.incarnation === newIncarnation,
        "node 1 to see node 0 back with its new incarnation",
      );
      assert.equal(c.node(1).nodeDown(0), false);
      open(1);

      // The old descriptor names a generation the new node 0 never issued.
      assert.deepEqual(await step(c, "r", 3), { tag: "r", step: 3, error: "ESTALE" });
      assert.deepEqual(await step(c, "r", 4), { tag: "r", step: 4, error: "ESTALE" });
      const fresh = await step(c, "r", 5);
      assert.equal(fresh.size, 8192);
      assert.equal(fresh.desc, 2);
      assert.deepEqual(await step(c, "r", 6), { tag: "r", step: 6, ok: true });
      assert.deepEqual(await step(c, "r", 7), { tag: "r", step: 7, data: [6, 5, 4, 3] });
      assert.deepEqual([...newExport.segment.bytes.subarray(0, 4)], [6, 5, 4, 3]);
      await step(c, "r", 8);

      // The kernel's descriptors: the old one carries the old incarnation, the new one
      // the new incarnation in its generation's high word.
      const p = c.node(1).procs.get(proc.pid)!;
      const [oldDesc, newDesc] = p.descriptors.all();
      assert.equal(oldDesc.genHi, oldIncarnation);
      assert.equal(oldDesc.genLo, oldExport.genLo);
      assert.equal(newDesc.genHi, newIncarnation);
      assert.equal(newDesc.genLo, newExport.genLo);
      assert.notEqual(newDesc.genHi, oldDesc.genHi);
      open(2);
      assert.equal(await exited(proc), 0);
    },
    2,
    FAST,
  );
});
