/**
 * The distributed queue (002 §4.2): between two nodes, under load (far more
 * messages than slots, so the sender keeps filling it) and over a slow link, it
 * never loses, duplicates or reorders a message, and never reads across the
 * network: every remote access of the transfer is a WRITE. Its streaming variant
 * carries bytes the same way.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { QUIET, until } from "./remote_helpers.ts";
import { type TestCluster, withCluster, withDeadline } from "./helpers.ts";

/**
 * Runs a transfer between dq_node's receiving ROLE on node 0 and its sending role
 * on node 1 (started together, released by SIGHUP), optionally over a slow link;
 * checks both exit 0 and that neither issued a READ while it ran.
 */
async function transfer(
  c: TestCluster,
  roles: [string, string],
  args: string[],
  latencyUs = 0,
): Promise<void> {
  const recv = c.spawn(0, "dq_node", [roles[0], ...args]);
  await until(c, () => c.results().some((r) => r.exported), "the receiving end");
  if (latencyUs) {
    c.cluster.network.setLink(0, 1, { latencyUs });
    c.cluster.network.setLink(1, 0, { latencyUs });
  }
  const send = c.spawn(1, "dq_node", [roles[1], ...args]);
  await until(c, () => c.results().some((r) => r.ready), "both ends", 20_000);
  await until(c, () => c.results().some((r) => r.connected), "the sender");
  const reads = [recv, send].map((p) => p.counters.remoteReads);
  c.node(1).signalProcess(send, Sig.SIGHUP, 0);
  for (const p of [send, recv]) {
    const st = await withDeadline(p.exited, 60_000, `pid ${p.pid}`);
    assert.equal(st.status, 0, st.reason);
  }
  assert.deepEqual(
    [recv, send].map((p) => p.counters.remoteReads),
    reads,
    "neither end issued a READ during the transfer",
  );
}

for (const [label, latencyUs] of [["", 0], [" over a slow link (300 µs each way)", 300]] as const) {
  Deno.test(`the distributed queue delivers every message once, in order, with no remote read${label}`, async () => {
    await withCluster(
      async (c) => {
        const N = latencyUs ? 300 : 2000;
        await transfer(c, ["recv", "send"], ["dq", "8", "64", String(N)], latencyUs);
        const r = c.results().find((x) => "got" in x);
        assert.deepEqual(r, { role: "recv", got: N, inOrder: N, dupes: 0, padded: true });
      },
      2,
      QUIET,
    );
  });
}

Deno.test("a byte stream through a small ring arrives whole and in order, whatever the pieces", async () => {
  await withCluster(
    async (c) => {
      const TOTAL = 200_000;
      await transfer(c, ["srecv", "ssend"], ["ds", "4096", String(TOTAL)]);
      assert.deepEqual(c.results().find((x) => "bytes" in x), {
        role: "srecv",
        bytes: TOTAL,
        ok: true,
      });
      assert.equal(c.results().find((x) => "written" in x).written, TOTAL);
    },
    2,
    QUIET,
  );
});

Deno.test("short slots ride in the DMA requests themselves; shorter messages arrive padded with zeros; a sender expecting another geometry finds no queue", async () => {
  await withCluster(
    async (c) => {
      const N = 500;
      const recv = c.spawn(0, "dq_node", ["recv", "dqs", "8", "16", String(N)]);
      await until(c, () => c.results().some((r) => r.exported), "the receiving end");
      // A sender expecting 16 slots of 16 bytes (they would fit the page) finds no queue.
      const st = await c.run(1, "dq_node", ["bad", "dqs", "16", "16"]);
      assert.equal(st.status, 0, st.reason);
      assert.equal(c.results().find((x) => "bad" in x).bad, "ENOENT");
      const send = c.spawn(1, "dq_node", ["send", "dqs", "8", "16", String(N)]);
      await until(c, () => c.results().some((r) => r.connected), "the sender");
      c.node(1).signalProcess(send, Sig.SIGHUP, 0);
      for (const p of [send, recv]) {
        assert.equal((await withDeadline(p.exited, 30_000, `pid ${p.pid}`)).status, 0);
      }
      const r = c.results().find((x) => "got" in x);
      assert.deepEqual(r, { role: "recv", got: N, inOrder: N, dupes: 0, padded: true });
    },
    2,
    QUIET,
  );
});
