/**
 * The file system engine in a process of a node, on the emulated disk device over
 * a host image (servers/files/disk_device.ts): what it writes, e2fsck accepts and
 * debugfs reads; a node that dies without unmounting leaves a journal that the next
 * mount replays, with every fsynced file intact; a disk with no file system is
 * refused at mount with the reason.
 */

import assert from "node:assert/strict";
import { HostDisk } from "../kernel/host/host_disk.ts";
import { withImage } from "./files_helpers.ts";
import { debugfsCat, fsck, withoutE2fsprogs, withTempDir } from "./e2fsprogs.ts";
import { type TestNode, withNode } from "./helpers.ts";
import { fileBytes } from "./programs/fs_engine.ts";

const FILES = 40;

/** Runs fs_engine `args` on `node`; returns its RESULT, checking it exited 0. */
async function engine(node: TestNode, args: string[]): Promise<any> {
  const before = node.results().length;
  const st = await node.run("fs_engine", args, 60_000);
  assert.equal(st.status, 0, `${args.join(" ")}: ${st.reason}\n${node.console.err}`);
  return node.results()[before];
}

Deno.test({
  name: "the engine on a node's disk device writes an image e2fsck accepts and debugfs reads",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withImage({ mib: 32 }, (disk) =>
      withNode(async (node) => {
        node.kernel.disks.add(disk);
        assert.deepEqual(await engine(node, ["write", String(FILES)]), { written: FILES + 1 });
        assert.deepEqual(await engine(node, ["read", String(FILES)]), {
          bad: -1,
          names: FILES + 1,
        });
      }), (path) => {
      const c = fsck(path);
      assert.equal(c.code, 0, c.out);
      for (const i of [0, 17, FILES - 1]) {
        assert.deepEqual(debugfsCat(path, `/e/f${i}`), fileBytes(i));
      }
      assert.deepEqual(debugfsCat(path, `/e/f${FILES}`), fileBytes(FILES, 1 << 20));
    }),
});

Deno.test({
  name:
    "a process that dies without unmounting: the next mount replays the journal, fsynced files intact",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withImage({ mib: 32 }, (disk) =>
      withNode(async (node) => {
        node.kernel.disks.add(disk);
        assert.deepEqual(await engine(node, ["crash", String(FILES)]), { synced: FILES + 1 });
        assert.deepEqual(await engine(node, ["read", String(FILES)]), {
          bad: -1,
          names: FILES + 1, // the file made after the last fsync is not there
        });
      }), (path) => {
      const c = fsck(path);
      assert.equal(c.code, 0, c.out);
    }),
});

Deno.test("a disk that holds no file system is refused at mount, saying what is wrong", async () => {
  await withTempDir(async (dir) => {
    const disk = await HostDisk.open(`${dir}/blank.img`, 16 * 1024 * 1024);
    await withNode(async (node) => {
      node.kernel.disks.add(disk);
      const r = await engine(node, ["foreign"]);
      assert.match(r.error, /not a usable ext2 file system: magic 0x0 at byte 1080, not 0xef53/);
    });
    await disk.close();
  });
});
