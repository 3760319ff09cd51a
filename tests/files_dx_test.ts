/**
 * The DX path (servers/files/cache_area.ts, dx_reader.ts): remote READs of the file
 * server's cache areas (attributes, names, data blocks, directory pages) from another
 * node agree with its HY answers, show every change at once or miss (never the old
 * state), and never use a torn entry while the server rewrites it.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { AREAS, CacheAreas, DIR_AREA, dirSlot, readDir } from "../servers/files/cache_area.ts";
import { decodeDirPage } from "../servers/files/protocol.ts";
import { withFileServer } from "./files_helpers.ts";
import { withDeadline } from "./helpers.ts";

Deno.test("DX reads agree with HY, and after each change show the new state or miss", async () => {
  await withFileServer({ mib: 16 }, async (c) => {
    const st = await c.run(1, "fs_dx", ["agree"], 30_000);
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    const r = c.results()[0];
    assert.deepEqual(r.before, {
      listed: ["file"],
      getattr: 10_000,
      lookup: true,
      read: true,
      part: true,
      missing: null,
    });
    assert.ok(r.afterWrite === "NEW!" || r.afterWrite === "miss", r.afterWrite);
    assert.deepEqual(r.renamed, { old: null, moved: true });
    // A rename empties the directory's pages: a miss, then the new listing once read.
    assert.equal(r.listedAfterRename, "miss");
    assert.deepEqual(r.listedAgain, ["moved"]);
    assert.equal(r.cut, 100);
    assert.ok(r.cutRead === "miss", `a truncated file's old blocks were read: ${r.cutRead}`);
    assert.deepEqual(r.unlinked, { attr: null, name: null });
    assert.equal(r.reads, true);
  });
});

Deno.test("a DX reader racing the server's rewrites of a block never uses a torn entry", async () => {
  await withFileServer({ mib: 16 }, async (c) => {
    const churn = c.spawn(0, "fs_dx", ["churn"]);
    const st = await c.run(1, "fs_dx", ["race", "2000"], 60_000);
    assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
    const r = c.results()[0];
    assert.equal(r.mixed, 0, `${r.mixed} reads mixed two versions of the block`);
    assert.equal(r.hits, true);
    assert.equal(r.values, true); // it did see the block change
    // and some copy overlapped a rewrite: the version words caught it (without them
    // none is caught, and mixed reads get through).
    assert.ok(r.torn > 0, "no read overlapped a rewrite");
    c.node(0).signalProcess(churn, Sig.SIGKILL, 0);
    await withDeadline(churn.exited, 5_000, "the churning writer");
  });
});

Deno.test("the server's LOAD: DX reads are served by its node's kernel alone, HY calls by the server", async () => {
  for (const meter of [true, false]) {
    await withFileServer({ mib: 16, config: { meter } }, async (c) => {
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
    });
  }
});

Deno.test("directory pages: as many entries as fit a slot, the rest a page of their own; a change empties them all", () => {
  const areas = new CacheAreas(
    ...AREAS.map((a) => new Int32Array((a.slots * a.bytes) / 4)) as [
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
    ],
  );
  const bytes = new Uint8Array(areas.dirs.body(0).buffer);
  const copy = (i: number) => bytes.slice(i * DIR_AREA.bytes, (i + 1) * DIR_AREA.bytes);
  const page = (dir: number, first: number) => {
    const p = readDir(copy(dirSlot(dir, first)), dir, first);
    return p && decodeDirPage(p);
  };
  const all = Array.from({ length: 300 }, (_, i) => ({
    ino: 100 + i,
    type: 1,
    name: `entry-${String(i).padStart(3, "0")}-${"x".repeat(30)}`,
  }));
  areas.putDir(5, 0, all);
  const one = page(5, 0)!;
  assert.ok(
    one.more && one.entries.length > 50 && one.entries.length < 300,
    `${one.entries.length}`,
  );
  assert.deepEqual(one.entries, all.slice(0, one.entries.length));
  const at = one.entries.length;
  assert.equal(page(5, at), null, "the next page is not there until it is read");
  areas.putDir(5, at, all);
  assert.deepEqual(page(5, at)!.entries, all.slice(at, at + page(5, at)!.entries.length));
  // Another directory whose page falls in the same slot takes it; emptying directory
  // 5's pages leaves it alone.
  let other = 6;
  while (dirSlot(other, 0) !== dirSlot(5, at)) other++;
  areas.putDir(other, 0, all.slice(0, 3));
  assert.equal(page(5, at), null);
  areas.dropDir(5);
  assert.equal(page(5, 0), null);
  assert.deepEqual(page(other, 0), { entries: all.slice(0, 3), more: false });
  areas.dropDir(other);
  assert.equal(page(other, 0), null);
});
