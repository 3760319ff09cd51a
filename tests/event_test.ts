/**
 * The asynchronous event queue (002 §3.5): Tripwire events arrive in order and are
 * taken without a trap; a wait spins for its configured time before it blocks;
 * signals at a registered range come as SIGNAL events (from this node's processes
 * and from other nodes' notifying writes) until the interest is unregistered;
 * interest in a Tripwire's events is registered and unregistered by arming it.
 * Completion events are shown with the DMA queue (dma_test.ts).
 */

import assert from "node:assert/strict";
import { EventKind, EventPage, Sig } from "../kernel/abi/layout.ts";
import { QUIET, until, untilBlockedOnEvents } from "./remote_helpers.ts";
import { withCluster } from "./helpers.ts";

Deno.test("200 Tripwire events arrive in the order of the writes, and taking them makes no trap", async () => {
  await withCluster(
    async (c) => {
      const n = 200;
      const q = c.spawn(0, "ev_node", ["queue", String(n)]);
      await until(c, () => c.results().some((r) => r.ready), "the queue to arm");
      const before = q.counters.traps; // its `ready` line was its last trap
      const st = await c.run(1, "ev_node", ["writer", String(n)]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "inOrder" in r), "the events");
      const r = c.results().find((x) => "inOrder" in x);
      assert.deepEqual([r.inOrder, r.kinds], [true, [EventKind.TRIPWIRE]]);
      // Its only trap since: printing the result line.
      assert.equal(q.counters.traps - before, 1, "no trap to poll, dequeue or wait");
      c.node(0).signalProcess(q, Sig.SIGKILL, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("a wait on the event queue blocks at once after a short spin, or takes the event while a long spin lasts", async () => {
  await withCluster(
    async (c) => {
      // The default spin (15 µs) is long over before the write: the wait blocks.
      const w = c.spawn(0, "ev_node", ["spinner", "15"]);
      await until(c, () => c.results().some((r) => r.ready), "the waiter");
      await untilBlockedOnEvents(c, w, "the waiter to block");
      const st = await c.run(1, "ev_node", ["notifier"]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "got" in r), "the event");
      assert.deepEqual(c.results().find((r) => "got" in r), {
        got: true,
        counts: { spun: 0, blocked: 1 },
      });
      assert.equal((await w.exited).status, 0);

      // A spin of up to 5 s, started as the writer is released: the event is taken
      // without blocking and the waiter never says it sleeps.
      c.console.out = "";
      const s = c.spawn(0, "ev_node", ["spinner", "5000000", "ev.spin", "--hup"]);
      await until(c, () => c.results().some((r) => r.ready), "the spinner");
      const n = c.spawn(1, "ev_node", ["notifier", "ev.spin", "--hup"]);
      await until(c, () => c.results().some((r) => r.armed), "the writer");
      c.node(0).signalProcess(s, Sig.SIGHUP, 0);
      c.node(1).signalProcess(n, Sig.SIGHUP, 0);
      assert.equal((await n.exited).status, 0);
      await until(c, () => c.results().some((r) => "got" in r), "the event");
      assert.deepEqual(c.results().find((r) => "got" in r), {
        got: true,
        counts: { spun: 1, blocked: 0 },
      });
      assert.equal(Atomics.load(s.events!, EventPage.WAITING), 0);
      assert.equal((await s.exited).status, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("signals at a range registered for events come as SIGNAL events instead of handler calls, until unregistered", async () => {
  await withCluster(async (c) => {
    const st = await c.run(0, "ev_node", ["signals"]);
    assert.equal(st.status, 0, st.reason);
    const r = c.results().find((x) => "events" in x);
    assert.equal(r.before, 1, "a signal outside the range runs the handler");
    assert.deepEqual(r.events, [[r.kind, 7, 70], [r.kind, 7, 100]], "[SIGNAL, tag, address]");
    assert.equal(r.handled, 0, "no handler call while registered");
    assert.equal(r.removed, 1);
    assert.equal(r.after, 1, "after unregistering, the handler runs again");
  }, 1);
});

Deno.test("another node's notifying write into a registered range is a SIGNAL event", async () => {
  await withCluster(
    async (c) => {
      const o = c.spawn(0, "ev_node", ["sigowner"]);
      await until(c, () => c.results().some((r) => r.ready), "the owner");
      const st = await c.run(1, "ev_node", ["notifier"]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "first" in r), "the event");
      const r = c.results().find((x) => "first" in x);
      assert.deepEqual(r.first, [EventKind.SIGNAL, 9, 70]);
      assert.equal(r.handled, 0, "the handler on the page did not run for it");
      assert.equal((await o.exited).status, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("interest in one Tripwire's events is registered when arming and unregistered by re-arming without it", async () => {
  await withCluster(
    async (c) => {
      const p = c.spawn(0, "ev_node", ["interest"]);
      await until(c, () => c.results().some((r) => r.ready), "the Tripwires");
      let st = await c.run(1, "ev_node", ["writer", "2"]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "first" in r), "the first writes");
      assert.deepEqual(
        c.results().find((r) => "first" in r).first,
        { both: true, events: [0] },
        "both fired; only A, registered, queued an event",
      );
      c.node(0).signalProcess(p, Sig.SIGHUP, 0);
      st = await c.run(1, "ev_node", ["writer", "1"]);
      assert.equal(st.status, 0, st.reason);
      await until(c, () => c.results().some((r) => "second" in r), "the second write");
      assert.deepEqual(
        c.results().find((r) => "second" in r).second,
        { a: true, events: [] },
        "A fired, with no event once unregistered",
      );
      assert.equal((await p.exited).status, 0);
    },
    2,
    QUIET,
  );
});
