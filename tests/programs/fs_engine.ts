/**
 * The file system engine (servers/files/ext2_fs.ts) in a process, on the node's disk
 * device 0 through servers/files/disk_device.ts, for tests/files_disk_test.ts:
 *
 *   fs_engine write N    mounts, writes N files of a pattern under /e (and one of
 *                        1 MiB), fsyncs, unmounts; reports the disk's flushes
 *   fs_engine read N     mounts read-only, checks those files; reports the first bad
 *   fs_engine crash N    writes and fsyncs like write, then a file it never fsyncs,
 *                        and exits without unmounting (as if the node died)
 *   fs_engine foreign    mounts a disk that holds no file system; reports the error
 */

import { Ext2, FsError } from "../../servers/files/ext2_fs.ts";
import { DiskDevice } from "../../servers/files/disk_device.ts";
import { report } from "./report.ts";

/** File i's bytes. */
export function fileBytes(i: number, n = 1000 + 37 * i): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (k * 31 + i * 7) & 0xff;
  return b;
}

export default function main(args: string[]): number {
  const [mode, count] = args;
  const n = Number(count ?? 0);
  const dev = DiskDevice.attach(0);
  if (mode === "foreign") {
    try {
      Ext2.mount(dev);
      report({ mounted: true });
    } catch (e) {
      report({ error: e instanceof FsError ? e.message : String(e) });
    }
    return 0;
  }
  if (mode === "read") {
    const fs = Ext2.mount(dev, { readOnly: true });
    let bad = -1;
    for (let i = 0; i <= n && bad < 0; i++) {
      const want = i === n ? fileBytes(n, 1 << 20) : fileBytes(i);
      const ino = fs.resolve(`/e/f${i}`);
      const got = fs.read(ino, 0, want.length + 1);
      if (got.length !== want.length || got.some((v, k) => v !== want[k])) bad = i;
    }
    report({ bad, names: fs.readdir(fs.resolve("/e")).length - 2 });
    return 0;
  }
  const fs = Ext2.mount(dev);
  const dir = fs.mkdir(2, "e");
  for (let i = 0; i < n; i++) fs.write(fs.create(dir, `f${i}`), 0, fileBytes(i));
  const big = fs.create(dir, `f${n}`);
  fs.write(big, 0, fileBytes(n, 1 << 20));
  fs.fsync(big);
  if (mode === "crash") {
    fs.write(fs.create(dir, "unsynced"), 0, fileBytes(999));
    report({ synced: n + 1 });
    return 0; // no unmount: the journal holds the last transaction
  }
  fs.unmount();
  report({ written: n + 1 });
  return 0;
}
