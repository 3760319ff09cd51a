/**
 * The DX path (servers/files/cache_area.ts, dx_reader.ts): remote READs of the file
 * server's cache areas from another node agree with its HY answers, show every
 * change at once or miss (never the old state), and never use a torn entry while
 * the server rewrites it.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { HostDisk } from "../kernel/host/host_disk.ts";
import { withTempDir } from "./e2fsprogs.ts";
import { makeImage, startFileServer } from "./files_helpers.ts";
import { type TestCluster, withCluster, withDeadline } from "./helpers.ts";

async function serving(c: TestCluster, dir: string) {
  makeImage(`${dir}/dx.img`, 16);
  const disk = await HostDisk.open(`${dir}/dx.img`);
  c.node(0).disks.add(disk);
  return { disk, server: await startFileServer(c) };
}

Deno.test("DX reads agree with HY, and after each change show the new state or miss", async () => {
  await withTempDir(async (dir) => {
    let disk: HostDisk | undefined;
    await withCluster(async (c) => {
      ({ disk } = await serving(c, dir));
      const st = await c.run(1, "fs_dx", ["agree"], 30_000);
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      const r = c.results()[0];
      assert.deepEqual(r.before, {
        getattr: 10_000,
        lookup: true,
        read: true,
        part: true,
        missing: null,
      });
      assert.ok(r.afterWrite === "NEW!" || r.afterWrite === "miss", r.afterWrite);
      assert.deepEqual(r.renamed, { old: null, moved: true });
      assert.equal(r.cut, 100);
      assert.ok(r.cutRead === "miss", `a truncated file's old blocks were read: ${r.cutRead}`);
      assert.deepEqual(r.unlinked, { attr: null, name: null });
      assert.equal(r.reads, true);
    });
    await disk?.close();
  });
});

Deno.test("a DX reader racing the server's rewrites of a block never uses a torn entry", async () => {
  await withTempDir(async (dir) => {
    let disk: HostDisk | undefined;
    await withCluster(async (c) => {
      ({ disk } = await serving(c, dir));
      const churn = c.spawn(0, "fs_dx", ["churn"]);
      const st = await c.run(1, "fs_dx", ["race", "2000"], 60_000);
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      const r = c.results()[0];
      assert.equal(r.mixed, 0, `${r.mixed} reads mixed two versions of the block`);
      assert.equal(r.hits, true);
      assert.equal(r.values, true); // it did see the block change
      c.node(0).signalProcess(churn, Sig.SIGKILL, 0);
      await withDeadline(churn.exited, 5_000, "the churning writer");
    });
    await disk?.close();
  });
});

Deno.test("the server's LOAD: DX reads are served by its node's kernel alone, HY calls by the server", async () => {
  await withTempDir(async (dir) => {
    for (const meter of [true, false]) {
      let disk: HostDisk | undefined;
      await withCluster(
        async (c) => {
          ({ disk } = await serving(c, dir));
          const st = await c.run(1, "fs_dx", ["load"], 30_000);
          assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
          const r = c.results()[0];
          // Each LOAD counts itself: DX made no call, HY one per getattr.
          assert.equal(r.dx.calls, 1);
          assert.equal(r.hy.calls, 51);
          assert.equal(r.first.cpuUs, -1, "a test host does not find threads");
          if (!meter) {
            assert.equal(r.first.kernelBusyUs, -1);
            return;
          }
          assert.ok(r.dx.busyUs > 0, `node 0's kernel served 500 READs in ${r.dx.busyUs} µs`);
          assert.ok(r.hy.busyUs > 0, `node 0's kernel served 50 HY calls in ${r.hy.busyUs} µs`);
        },
        2,
        { meter },
      );
      await disk?.close();
    }
  });
});
