/**
 * Tripwires and the event queue (002 §2.5, §3.3, §3.5): a Tripwire fires on a
 * remote write to its range and not outside it; read Tripwires; an outgoing
 * Tripwire fires when this node's own write completes; the fired bit is tested and
 * waited on without a trap, with a timeout; 4096 Tripwires armed at once; events
 * arrive in order in the queue; bad arguments get typed errors.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { QUIET, until, untilBlockedOnEvents } from "./remote_helpers.ts";
import { type TestCluster, withCluster } from "./helpers.ts";

async function probe(
  c: TestCluster,
  owner: import("../kernel/proc/process.ts").Process,
  n: number,
) {
  c.node(0).signalProcess(owner, Sig.SIGHUP, 0);
  let r: any;
  await until(c, () => (r = c.results().find((x) => x.probe === n)) !== undefined, `probe ${n}`);
  return r;
}

Deno.test("Tripwires fire on remote writes and reads in their range only, and on this node's completed writes", async () => {
  await withCluster(
    async (c) => {
      const owner = c.spawn(0, "tw_node", ["owner"]);
      await until(c, () => c.results().some((r) => r.ready), "the owner to arm", 20_000);
      const ready = c.results().find((r) => r.ready);
      assert.equal(ready.fourThousand97th, "ENOSPC", "4096 Tripwires per process");
      assert.equal(c.node(0).tripwires.armed, 4096, "4096 armed at once");

      // Outside every range: nothing fires.
      let st = await c.run(1, "tw_node", ["client", "w0", "r0"]);
      assert.equal(st.status, 0, st.reason);
      const quiet = await probe(c, owner, 1);
      assert.deepEqual([quiet.a, quiet.b, quiet.others, quiet.events], [false, false, 0, []]);
      assert.equal(c.results().find((r) => "outgoing" in r).outgoing, false);
      assert.equal(c.results().find((r) => "idle" in r).idle, false, "the wait timed out");

      // Into A's range, then a read of B's: each fires once, in order, as events too.
      c.console.out = c.console.out.split("\n").filter((l) => !l.includes('"client"')).join("\n");
      st = await c.run(1, "tw_node", ["client", "w64", "r1024"]);
      assert.equal(st.status, 0, st.reason);
      const hit = await probe(c, owner, 2);
      assert.deepEqual([hit.a, hit.b, hit.others], [true, true, 0]);
      assert.deepEqual(
        hit.events,
        [[1, 0, 2], [1, 1, 1]],
        "[TRIPWIRE, A, WRITE], [TRIPWIRE, B, READ]",
      );
      assert.equal(c.results().find((r) => "outgoing" in r).outgoing, true, "outgoing write seen");
      assert.equal(c.results().find((r) => "hit" in r).hit, true, "waitTripwire saw it fired");
      c.node(0).signalProcess(owner, Sig.SIGINT, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("Tripwire system calls refuse bad arguments with typed errors; the process carries on", async () => {
  await withCluster(async (c) => {
    const st = await c.run(0, "tw_errors");
    assert.equal(st.status, 0, st.reason);
    const r = c.results().find((x) => x.errors);
    assert.deepEqual(r.errors, {
      idTooBig: "EINVAL",
      noAccess: "EINVAL",
      unknownFlag: "EINVAL",
      empty: "EINVAL",
      unmapped: "EFAULT",
      pastBinding: "EFAULT",
      localOffset: "EINVAL",
      badDescriptor: "EBADF",
      disarmBadId: "EINVAL",
    });
    assert.deepEqual(r.long, [0, 0, 0, 0, "ENOSPC"], "a bounded number of pages watched");
    assert.deepEqual([r.disarmUnarmed, r.armed, r.disarmed], [0, 0, 1]);
    assert.equal(c.node(0).tripwires.armed, 0, "nothing left armed");
  }, 1);
});

Deno.test("a process blocked on its empty event queue is woken by a remote write's event", async () => {
  await withCluster(
    async (c) => {
      const w = c.spawn(0, "tw_node", ["waiter"]);
      await until(c, () => c.results().some((r) => r.ready), "the waiter to arm");
      // It is blocked once it has said so in its event page (WAITING, set just before
      // it sleeps); only then does the write happen.
      await untilBlockedOnEvents(c, w, "the waiter to block");
      const st = await c.run(1, "tw_node", ["client", "w64"]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "first" in r), "the waiter to wake");
      const r = c.results().find((x) => "first" in x);
      assert.deepEqual(r.first, { kind: 1, id: 0, info: 2 }, "[TRIPWIRE, its id, WRITE]");
      assert.equal(r.fired, true);
      assert.equal((await w.exited).status, 0);
    },
    2,
    QUIET,
  );
});
