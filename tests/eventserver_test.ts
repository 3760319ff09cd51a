/**
 * Endpoints and the event-driven server (002 §4.1, §5.3): one server thread serves
 * many connections from its event queue; every request on every endpoint is
 * answered once and correctly, locally and across nodes.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { QUIET, until } from "./remote_helpers.ts";
import { withCluster, withDeadline } from "./helpers.ts";

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
