/**
 * The file API (userland/lib/fs/) against the file server on node 0's disk: an image
 * made by mke2fs, files and directories written from processes on two nodes, the
 * server stopped (it unmounts), then `e2fsck -fn` clean and every file byte-exact
 * through debugfs; every call's errors; a file server killed under a client (EIO,
 * then service again from its successor, nothing fsynced lost).
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { debugfsCat, fsck, withoutE2fsprogs } from "./e2fsprogs.ts";
import { startClerk, withFileServer } from "./files_helpers.ts";
import { withDeadline } from "./helpers.ts";
import { QUIET, until } from "./remote_helpers.ts";
import { fileBytes } from "./programs/fs_api.ts";

Deno.test({
  name:
    "processes on two nodes write files and directories; unmounted, e2fsck -fn is clean and debugfs reads each byte",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withFileServer({ mib: 32, mke2fs: true }, async (c, server) => {
      const runs = await Promise.all(
        [0, 1].map((n) => c.run(n, "fs_api", ["write", String(n)], 60_000)),
      );
      for (const st of runs) {
        assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      }
      const results = c.results().sort((a, b) => a.node - b.node);
      for (const r of results) {
        assert.deepEqual(
          r.names,
          [
            "deep:dir",
            ...Array.from({ length: 9 }, (_, i) => `f${i}:file`),
          ].sort(),
        );
        assert.equal(r.log, "one\ntwo\n");
      }
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      const end = await withDeadline(server.exited, 15_000, "the file server to end");
      assert.equal(end.status, 0, end.reason);
    }, (path) => {
      const check = fsck(path);
      assert.equal(check.code, 0, check.out);
      for (const n of [0, 1]) {
        for (let i = 0; i < 9; i++) {
          assert.deepEqual(debugfsCat(path, `/n${n}/f${i}`), fileBytes(n, i));
        }
        assert.deepEqual(debugfsCat(path, `/n${n}/deep/nine`), fileBytes(n, 9));
        assert.equal(
          new TextDecoder().decode(debugfsCat(path, `/n${n}/deep/er/log`)),
          "one\ntwo\n",
        );
      }
    }),
});

Deno.test({
  name: "the file API's calls: offsets, seek, pread and pwrite, stat; and every error, typed",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withFileServer({ mib: 16, mke2fs: true }, async (c) => {
      const st = await c.run(1, "fs_api", ["errors"], 60_000);
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      assert.deepEqual(c.results()[0], {
        reads: ["0123", "4567", "789"],
        after: "01AB456789",
        ends: [8, 9],
        stat: { type: "file", size: 10, links: 1, mode: 0o644 },
        truncated: 3,
        dir: "dir",
        usage: 4096,
        errors: {
          missing: "ENOENT",
          missingDir: "ENOENT",
          exclusive: "EEXIST",
          notDir: "ENOTDIR",
          dirForWrite: "EISDIR",
          notEmpty: "ENOTEMPTY",
          unlinkDir: "EISDIR",
          rmdirFile: "ENOTDIR",
          mkdirTwice: "EEXIST",
          longName: "ENAMETOOLONG",
          closed: "EBADF",
          writeReadOnly: "EBADF",
          readWriteOnly: "EBADF",
          badFlags: "EINVAL",
          negativeSeek: "EINVAL",
          readdirFile: "ENOTDIR",
          moveIntoItself: "EINVAL",
          renameMissing: "ENOENT",
        },
        fine: ["file"],
      });
    }),
});

for (const victim of ["file server", "file clerk"]) {
  Deno.test({
    name:
      `a ${victim} killed mid-operation: callers get EIO, not a hang; restarted, it serves them again; nothing fsynced lost`,
    ignore: withoutE2fsprogs(),
    fn: () => {
      let synced = -1;
      return withFileServer({ mib: 16, mke2fs: true }, async (c, first) => {
        let server = first; // and its successor
        const viaClerk = victim === "file clerk";
        const CLERK = "servers/files/clerk.ts";
        const clerk = viaClerk ? await startClerk(c, 1) : null;
        const client = c.spawn(1, "fs_api", viaClerk ? ["loop", "clerk"] : ["loop"]);
        await until(c, () => /SYNCED 20\n/.test(c.console.out), "20 records synced", 20_000);
        const killed = clerk ?? server;
        c.node(viaClerk ? 1 : 0).signalProcess(killed, Sig.SIGKILL, 0);
        await withDeadline(killed.exited, 5_000, `the killed ${victim}`);
        // The client's call fails (EIO) within the RPC's timeout; then it retries
        // until the new one (started at once, as init would) takes its record, or,
        // with no clerk there yet, the server does.
        if (viaClerk) c.spawn(1, CLERK, ["0"]);
        else server = c.spawn(0, "servers/files/mod.ts", ["0"]);
        const st = await withDeadline(client.exited, 60_000, "the client");
        assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
        const r = c.results().find((x) => x.recovered);
        assert.equal(r.failure.code, "EIO");
        assert.ok(r.failure.ms < 15_000, `the failure came after ${r.failure.ms} ms`);
        synced = Math.max(
          ...[...c.console.out.matchAll(/SYNCED (\d+)/g)].map((m) => Number(m[1])),
        );
        c.node(0).signalProcess(server, Sig.SIGTERM, 0);
        await withDeadline(server.exited, 15_000, "the file server to end");
      }, (path) => {
        const check = fsck(path);
        assert.equal(check.code, 0, check.out);
        const log = new TextDecoder().decode(debugfsCat(path, "/log"));
        for (let i = 0; i <= synced; i++) {
          assert.ok(log.includes(`record ${i}\n`), `record ${i} lost`);
        }
        assert.ok(log.endsWith("after\n"), log.slice(-100));
      });
    },
  });
}

Deno.test({
  name:
    "large reads and writes move by remote memory (bulk), from node 1 straight or beside a clerk; bad bulk calls are refused",
  ignore: withoutE2fsprogs(),
  fn: () =>
    // No heartbeats: the only READs node 0 issues are the bulk writes' (below).
    withFileServer({ mib: 16, mke2fs: true, config: QUIET }, async (c, server) => {
      const clerk = await startClerk(c, 1);
      for (const args of [["write", "/straight"], ["write", "/beside", "clerk"]]) {
        // A program on the server's node exports a segment under the name the next
        // process on node 1 will give its bulk buffer (pids go up by one): the
        // server still finds the client's own, on the client's node.
        const next = Math.max(...[...c.node(1).procs.values()].map((p) => p.pid)) + 1;
        const name = `files.bulk.1.${next}`;
        const squatter = c.spawn(0, "rm_owner", [name]);
        await until(c, () => c.results().some((r) => r.name === name), "the squatter's export");
        const reads = c.node(0).remote.stats.reads;
        const st = await c.run(1, "fs_bulk", args, 60_000);
        assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
        // The write's 2.5 MiB went by bulk: the server READ them out of the client's
        // buffer, 64 KiB at a time (HY alone issues no READ).
        const pulled = c.node(0).remote.stats.reads - reads;
        assert.ok(pulled >= 40, `the server issued ${pulled} READs`);
        c.node(0).signalProcess(squatter, Sig.SIGKILL, 0);
        await withDeadline(squatter.exited, 5_000, "the squatter");
      }
      const [straight, beside] = c.results().filter((r) => r.written !== undefined);
      for (const r of [straight, beside]) {
        assert.deepEqual(r, { written: 2_621_447, size: 2_621_447, whole: true, part: true });
      }
      const st = await c.run(1, "fs_bulk", ["forged"], 60_000);
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      assert.deepEqual(c.results().find((r) => r.noBuffer !== undefined), {
        noBuffer: "EIO",
        noBufferWrite: "EIO",
        tooLong: "EINVAL",
        viaClerk: "EINVAL",
        stillServes: "x",
      });
      for (const [p, node] of [[clerk, 1], [server, 0]] as const) {
        c.node(node).signalProcess(p, Sig.SIGTERM, 0);
        await withDeadline(p.exited, 15_000, "the file server and clerk to end");
      }
    }, (path) => {
      const check = fsck(path);
      assert.equal(check.code, 0, check.out);
      const want = new Uint8Array(2_621_447).map((_, i) => (i * 131 + (i >>> 12)) & 0xff);
      assert.deepEqual(debugfsCat(path, "/straight"), want);
      assert.deepEqual(debugfsCat(path, "/beside"), want);
    }),
});
