/**
 * The file server (servers/files/mod.ts) on node 0's disk, called over its RPC
 * service from node 1 (the HY path; tests/programs/fs_client.ts): every operation
 * and its errors; at SIGTERM it unmounts, and the image passes `e2fsck -fn` with
 * what the client wrote readable by debugfs. A disk with no file system: the server
 * says why and ends with status 0.
 */

import assert from "node:assert/strict";
import { Sig } from "../kernel/abi/layout.ts";
import { HostDisk } from "../kernel/host/host_disk.ts";
import { debugfsCat, fsck, withoutE2fsprogs, withTempDir } from "./e2fsprogs.ts";
import { withFileServer } from "./files_helpers.ts";
import { withCluster, withDeadline } from "./helpers.ts";
import { patternByte } from "./programs/fs_client.ts";

const SERVER = "servers/files/mod.ts";

Deno.test({
  name:
    "the file server serves every operation over HY from another node; unmounted, e2fsck is clean",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withFileServer({ mib: 32 }, async (c, server) => {
      assert.match(c.console.out, /files: serving disk 0 of node 0/);
      const st = await c.run(1, "fs_client", ["script"], 60_000);
      assert.equal(st.status, 0, st.reason + c.console.out + c.console.err);
      assert.deepEqual(c.results()[0], {
        wrote: [5, 10_000],
        same: true,
        size: 15_000,
        bigWrote: 1 << 20,
        bigSame: true,
        reopened: { created: true },
        errors: {
          missing: "ENOENT",
          exclusive: "EEXIST",
          mkdirTwice: "EEXIST",
          notEmpty: "ENOTEMPTY",
          unlinkDir: "EISDIR",
          longName: "ENAMETOOLONG",
          notDir: "ENOTDIR",
          malformed: "EINVAL", // the RPC succeeds; its status byte says so
          badInode: "EINVAL",
          readDir: "EISDIR",
        },
        names: [".", "..", "b.txt"],
        truncated: 12_000,
        version: true,
        blockSize: 4096,
      });
      c.node(0).signalProcess(server, Sig.SIGTERM, 0);
      const end = await withDeadline(server.exited, 15_000, "the file server to end");
      assert.equal(end.status, 0, end.reason);
      assert.match(c.console.out, /files: unmounted/);
    }, (path) => {
      const check = fsck(path);
      assert.equal(check.code, 0, check.out);
      const b = debugfsCat(path, "/docs/b.txt");
      assert.equal(b.length, 12_000);
      assert.deepEqual([...b.subarray(0, 5)], [...new TextEncoder().encode("hello")]);
      assert.ok(b.subarray(5000).every((v, i) => v === patternByte(i)));
      const big = debugfsCat(path, "/big");
      assert.ok(big.length === 1 << 20 && big.every((v, i) => v === patternByte(i)));
    }),
});

Deno.test("a file server on a disk with no file system says why and ends as done (status 0)", async () => {
  await withTempDir(async (dir) => {
    const disk = await HostDisk.open(`${dir}/blank.img`, 16 * 1024 * 1024);
    await withCluster(async (c) => {
      c.node(0).disks.add(disk);
      const st = await c.run(0, SERVER, ["0"]);
      assert.equal(st.status, 0); // a raw disk: nothing to serve, not a failure to retry
      assert.match(c.console.out, /files: cannot mount disk 0 of node 0: .*magic 0x0 at byte 1080/);
    }, 1);
    await disk.close();
  });
});
