/**
 * Endpoints and the event-driven server (002 §4.1, §5.3): one server thread serves
 * many connections from its event queue; every request on every endpoint is
 * answered once and correctly, locally and across nodes.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { QUIET, until } from "./remote_helpers.ts";
import { type TestCluster, withCluster, withDeadline } from "./helpers.ts";

Deno.test("an event-driven echo server answers every request on 70 endpoints from each of two nodes", async () => {
  await withCluster(
    async (c) => {
      const server = c.spawn(0, "servers/echo/mod.ts", []);
      await until(c, () => c.console.out.includes("serving"), "the server");
      // 70: connection 64's name once collided with connection 1's server end.
      const args = ["--endpoints", "70", "--requests", "5", "--size", "48"];
      const clients = [0, 1].map((n) => c.run(n, "userland/programs/load.ts", args, 30_000));
      for (const st of await Promise.all(clients)) {
        assert.equal(st.status, 0, st.reason + c.console.out);
      }
      assert.equal(c.console.out.match(/350 requests on 70 endpoints/g)?.length, 2);
      // The clients closed their ends: the server lets all 140 go (only its listening
      // Tripwire stays armed).
      await until(c, () => c.node(0).tripwires.armedBy(server.pid) === 1, "the server to let go");
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      assert.equal((await withDeadline(server.exited, 10_000, "the server")).status, 0);
      assert.match(c.console.out, /served 700 requests on 0 connections/);
    },
    2,
    QUIET,
  );
});

Deno.test("the server lets each connection go when its client closes it: many clients, one after another", async () => {
  await withCluster(
    async (c) => {
      const server = c.spawn(0, "servers/echo/mod.ts", []);
      await until(c, () => c.console.out.includes("serving"), "the server");
      const armed = () => c.node(0).tripwires.armedBy(server.pid);
      const idle = armed(); // its listening Tripwire
      for (let round = 0; round < 3; round++) {
        const st = await c.run(1, "userland/programs/load.ts", [
          "--endpoints",
          "30",
          "--requests",
          "2",
        ]);
        assert.equal(st.status, 0, st.reason);
        const answered = c.console.out.match(/60 requests on 30 endpoints/g)?.length;
        assert.equal(answered, round + 1, `round ${round}: every request answered`);
        await until(c, () => armed() === idle, `round ${round}: the server to let 30 go`);
      }
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      await withDeadline(server.exited, 10_000, "the server");
    },
    2,
    QUIET,
  );
});

Deno.test("the RPC on endpoints: byte-exact at every size, one-way and two-way exchanges, timeouts, 150 KB in pieces", async () => {
  await withCluster(
    async (c) => {
      const servers = [["ept", "4096"], ["ept.big", "200000"]].map(([name, size]) =>
        c.spawn(0, "ep_node", ["server", name, size])
      );
      await until(c, () => c.results().filter((r) => r.ready).length === 2, "the servers");
      const st = await c.run(1, "ep_node", ["client"], 30_000);
      assert.equal(st.status, 0, st.reason + c.console.out);
      const r = c.results().find((x) => "echoed" in x);
      assert.deepEqual(r.echoed, [1, 10, 31, 32, 33, 36, 40, 41, 100, 1000, 4000, 8116]);
      assert.equal(r.oneWay, 50, "each unanswered message still freed the buffer");
      assert.equal(r.afterOneWay, true);
      assert.equal(r.two, true, "two answers to one request, in order");
      assert.equal(r.timeout, "ETIMEDOUT");
      assert.equal(r.afterTimeout, true, "the connection works after a timeout");
      assert.equal(r.bigEcho, true, "150,000 bytes echoed byte-exact");
      assert.equal(r.tooBig, "EMSGSIZE", "a message over the peer's buffer is a SysError");
      for (const s of servers) c.node(0).signalProcess(s, Sig.SIGTERM, 0);
      for (const s of servers) assert.equal((await s.exited).status, 0);
    },
    2,
    QUIET,
  );
});

/**
 * Starts ep_node's server "ept" (64-byte buffers) on node 0; returns it, its count
 * of armed Tripwires, and that count while it has no connection (its listening one).
 */
async function startServer(c: TestCluster) {
  const server = c.spawn(0, "ep_node", ["server", "ept", "64"]);
  await until(c, () => c.results().some((r) => r.ready), "the server");
  const armed = () => c.node(0).tripwires.armedBy(server.pid);
  return { server, armed, idle: armed() };
}

/** Runs ep_node's pair MODE: x spawned, y run to its end; both must exit 0. */
async function pair(c: TestCluster, mode: string): Promise<void> {
  const x = c.spawn(0, "ep_node", ["pair", "x", "y", mode]);
  const st = await c.run(0, "ep_node", ["pair", "y", "x", mode], 30_000);
  assert.equal(st.status, 0, st.reason + c.console.out);
  const sx = await withDeadline(x.exited, 30_000, "x");
  assert.equal(sx.status, 0, sx.reason + c.console.out);
}

Deno.test("an end whose peer closed fails calls and sends with EPIPE, without waiting out the timeout", async () => {
  await withCluster(
    async (c) => {
      const x = c.spawn(0, "ep_node", ["pair", "x", "y", "close"]);
      const st = await c.run(0, "ep_node", ["pair", "y", "x", "close"], 30_000);
      assert.equal(st.status, 0, st.reason + c.console.out);
      assert.equal((await x.exited).status, 0);
      assert.match(c.console.out, /x got 3/);
      const r = c.results().find((x) => "call" in x);
      assert.deepEqual(r, { call: "EPIPE", send: "EPIPE", closed: true });
    },
    1,
    QUIET,
  );
});

Deno.test("the server lets go of the connections of a client that died without closing them", async () => {
  await withCluster(
    async (c) => {
      const { server, armed, idle } = await startServer(c);
      const st = await c.run(1, "ep_node", ["die", "5"]);
      assert.equal(st.status, 0, st.reason);
      // The connections stay until an idle sweep's probes come back ESTALE.
      await until(c, () => armed() === idle, "the server to let the 5 go", 20_000);
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      assert.equal((await server.exited).status, 0);
    },
    2,
    QUIET,
  );
});

Deno.test("two ends sending at once each pay the acknowledgement they owe before they wait: no deadlock", async () => {
  await withCluster(
    async (c) => {
      await pair(c, "both");
      const rounds = c.results().filter((r) => "rounds" in r).map((r) => [r.me, r.rounds]).sort();
      assert.deepEqual(rounds, [["x", 10], ["y", 10]]);
    },
    1,
    QUIET,
  );
});

Deno.test("a sender waiting for a buffer that never frees is woken by the peer's close (EPIPE), not by its 60 s timeout", async () => {
  await withCluster(
    async (c) => {
      await pair(c, "blocked");
      assert.equal(c.results().find((r) => "second" in r).second, "EPIPE");
    },
    1,
    QUIET,
  );
});

Deno.test("a message sent just before the sender closes is still taken; then the close is seen", async () => {
  await withCluster(
    async (c) => {
      await pair(c, "last");
      assert.deepEqual(c.results().find((r) => "last" in r), {
        me: "x",
        last: 99,
        after: null,
        closed: true,
      });
    },
    1,
    QUIET,
  );
});

Deno.test("a client that closes while its request is being served costs the server only that connection", async () => {
  await withCluster(
    async (c) => {
      const { server, armed, idle } = await startServer(c);
      const st = await c.run(1, "ep_node", ["hangup"]);
      assert.equal(st.status, 0, st.reason);
      // The slow answer finds the client closed (EPIPE): the server lets it go…
      await until(c, () => armed() === idle, "the server to let the connection go");
      assert.equal(server.state, "running");
      // …and goes on serving.
      const st2 = await c.run(1, "ep_node", ["die", "1"]);
      assert.equal(st2.status, 0, st2.reason + c.console.out);
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      assert.equal((await server.exited).status, 0);
    },
    2,
    QUIET,
  );
});
