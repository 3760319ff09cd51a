/**
 * The file clerks (servers/files/clerk.ts) between the file API and the file
 * server: a process on node 1 works through its node's clerk as it would through the
 * server; a change made from node 0 is seen from node 1 as soon as its call has
 * returned (a write, a rename, an unlink: the new state, never the old); the clerk
 * answers reads by DX, keeping copies of blocks it uses only while the file's version
 * is unchanged, and with `hy` by HY only.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { startClerk, withFileServer } from "./files_helpers.ts";
import { type TestCluster, withDeadline } from "./helpers.ts";
import { until } from "./remote_helpers.ts";

/** Runs fs_api `args` on `node` to a clean exit; returns its RESULT, if it printed one. */
async function api(c: TestCluster, node: number, args: string[]) {
  const before = c.results().length;
  const st = await c.run(node, "fs_api", args, 30_000);
  assert.equal(st.status, 0, `${args.join(" ")}: ${st.reason}\n${c.console.out}${c.console.err}`);
  return c.results()[before];
}

for (const hy of [false, true]) {
  Deno.test(`through the clerk${hy ? " (HY only)" : ""}: a change from node 0 is seen from node 1 once its call has returned`, async () => {
    await withFileServer({ mib: 16 }, async (c) => {
      const clerk = await startClerk(c, 1, hy);
      await api(c, 0, ["step", "mkdir", "/c"]);
      await api(c, 0, ["step", "write", "/c/file", "one"]);
      assert.deepEqual(await api(c, 1, ["look", "/c/file", "clerk"]), {
        look: "/c/file",
        got: "one",
      });
      await api(c, 0, ["step", "write", "/c/file", "two!"]);
      assert.deepEqual(await api(c, 1, ["look", "/c/file", "clerk"]), {
        look: "/c/file",
        got: "two!",
      });
      await api(c, 0, ["step", "rename", "/c/file", "/c/moved"]);
      assert.deepEqual(await api(c, 1, ["look", "/c/file", "clerk"]), {
        look: "/c/file",
        got: "ENOENT",
      });
      assert.deepEqual(await api(c, 1, ["look", "/c/moved", "clerk"]), {
        look: "/c/moved",
        got: "two!",
      });
      await api(c, 0, ["step", "unlink", "/c/moved"]);
      assert.deepEqual(await api(c, 1, ["look", "/c/moved", "clerk"]), {
        look: "/c/moved",
        got: "ENOENT",
      });
      // The whole API through the clerk: the same results as straight to the server.
      const r = await api(c, 1, ["errors", "clerk"]);
      assert.equal(r.after, "01AB456789");
      assert.equal(r.errors.notEmpty, "ENOTEMPTY");
      assert.equal(r.errors.longName, "ENAMETOOLONG");
      c.node(1).signalProcess(clerk, Sig.SIGTERM, 0);
      await withDeadline(clerk.exited, 10_000, "the clerk to end");
      const m = /files clerk: (\d+) answered by DX, (\d+) by HY, (\d+) blocks from its own/
        .exec(c.console.out);
      assert.ok(m, c.console.out);
      if (hy) assert.deepEqual([m[1], m[3]], ["0", "0"]);
      else {
        assert.ok(Number(m[1]) > 0, `no read was answered by DX: ${m[0]}`);
        // Each look's second read finds the block the first kept, at the same version.
        assert.ok(Number(m[3]) > 0, `no block came from the clerk's own cache: ${m[0]}`);
      }
      assert.ok(Number(m[2]) > 0);
    });
  });
}

Deno.test("a clerk's own copies do not outlive the file server they were read from", async () => {
  await withFileServer({ mib: 16 }, async (c, first) => {
    await startClerk(c, 1);
    await api(c, 0, ["step", "write", "/r", "one"]); // version 2 (made, then written)
    assert.deepEqual(await api(c, 1, ["look", "/r", "clerk"]), { look: "/r", got: "one" });
    // A new server counts versions from 1 again: one write brings /r back to 2,
    // with other bytes of the same length.
    c.node(0).signalProcess(first, Sig.SIGTERM, 0); // unmounts: /r is on the disk
    await withDeadline(first.exited, 5_000, "the first file server");
    c.spawn(0, "servers/files/mod.ts", ["0"]);
    await until(c, () => c.console.out.split("files: serving").length > 2, "the new server");
    await api(c, 0, ["step", "pwrite", "/r", "two"]);
    assert.deepEqual(await api(c, 1, ["look", "/r", "clerk"]), { look: "/r", got: "two" });
  });
});
