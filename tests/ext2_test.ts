/**
 * The file server's engine on its own (servers/files/ext2_fs.ts, ext2_mkfs.ts): an
 * ext2 file system with an ext3 journal on a disk held in memory, judged by Debian's
 * e2fsprogs. Images our mkfs makes pass `e2fsck -fn`; images mke2fs makes mount;
 * after a workload and an unmount `e2fsck -fn` is clean and `debugfs` reads back
 * every byte; POSIX errors; a full disk; images refused at mount, each naming why;
 * and crashes at many points of a workload (a disk that keeps only what was flushed,
 * plus any part of what was not) that mount, replay, check clean and keep every
 * fsynced file.
 */

import assert from "node:assert/strict";
import { MemoryDevice } from "../servers/files/block_device.ts";
import { Ext2, FsError } from "../servers/files/ext2_fs.ts";
import { mkfs } from "../servers/files/ext2_mkfs.ts";
import {
  debugfs,
  debugfsCat,
  dumpe2fs,
  fsck,
  fsckFix,
  imageDevice,
  mkfsExt3,
  run,
  saveDevice,
  withoutE2fsprogs,
  withTempDir,
} from "./e2fsprogs.ts";

const MIB = 256; // blocks
const ROOT = 2;
const enc = new TextEncoder();

/** `n` bytes of a pattern that differs per `seed` and per position. */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The FsError code `f` throws. */
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
  return "ok";
}

/** Sizes around the block map's edges: empty, a block, direct to single to double indirect. */
const SIZES = [0, 1, 4095, 4096, 4097, 12 * 4096, 12 * 4096 + 1, (12 + 1024) * 4096 + 3000];

/**
 * A workload on `fs`: directories, files of SIZES, a sparse file, renames (one over
 * an existing file), unlinks, an rmdir, a truncate. Returns what each path holds.
 */
function workload(fs: Ext2): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const put = (dir: number, path: string, name: string, data: Uint8Array) => {
    const ino = fs.create(dir, name);
    assert.equal(fs.write(ino, 0, data), data.length);
    files.set(`${path}/${name}`, data);
    return ino;
  };
  const a = fs.mkdir(ROOT, "a");
  const b = fs.mkdir(a, "b");
  SIZES.forEach((n, i) => put(b, "/a/b", `size-${n}`, pattern(n, i + 1)));
  for (let i = 0; i < 150; i++) put(a, "/a", `small-${i}`, enc.encode(`small file ${i}\n`));
  for (let i = 0; i < 150; i += 3) {
    fs.unlink(a, `small-${i}`);
    files.delete(`/a/small-${i}`);
  }
  // A sparse file: a hole, then data past the single indirect block's range.
  const sparse = fs.create(ROOT, "sparse");
  const tail = pattern(5000, 99);
  fs.write(sparse, 9 * 1024 * 1024, tail);
  const whole = new Uint8Array(9 * 1024 * 1024 + tail.length);
  whole.set(tail, 9 * 1024 * 1024);
  files.set("/sparse", whole);
  // Renames: across directories, and over an existing file.
  fs.rename(a, "small-1", ROOT, "moved");
  files.set("/moved", files.get("/a/small-1")!);
  files.delete("/a/small-1");
  fs.rename(a, "small-2", a, "small-4");
  files.set("/a/small-4", files.get("/a/small-2")!);
  files.delete("/a/small-2");
  const c = fs.mkdir(a, "c");
  put(c, "/a/c", "inner", pattern(10_000, 7));
  fs.rename(a, "c", ROOT, "c2"); // a directory to another parent
  files.set("/c2/inner", files.get("/a/c/inner")!);
  files.delete("/a/c/inner");
  fs.mkdir(ROOT, "gone");
  fs.rmdir(ROOT, "gone");
  // Truncate the double-indirect file into its direct blocks, then grow it with a hole.
  const big = fs.lookup(b, `size-${SIZES.at(-1)}`);
  fs.truncate(big, 5000);
  fs.truncate(big, 20_000);
  const cut = new Uint8Array(20_000);
  cut.set(files.get(`/a/b/size-${SIZES.at(-1)}`)!.subarray(0, 5000));
  files.set(`/a/b/size-${SIZES.at(-1)}`, cut);
  return files;
}

/** Checks every file through the engine. */
function readBack(fs: Ext2, files: Map<string, Uint8Array>): void {
  for (const [path, data] of files) {
    const ino = fs.resolve(path);
    assert.equal(fs.stat(ino).size, data.length, path);
    assert.deepEqual(fs.read(ino, 0, data.length + 10), data, path);
  }
}

Deno.test({
  name: "mkfs makes images e2fsck -fn accepts (one group and several), with the features it says",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      for (const mib of [8, 64, 136]) {
        const dev = MemoryDevice.zeroed(mib * MIB);
        const r = mkfs(dev, { label: "emu" });
        const path = `${dir}/fresh-${mib}.img`;
        saveDevice(dev, path);
        const c = fsck(path);
        assert.equal(c.code, 0, c.out);
        const d = dumpe2fs(path);
        assert.match(
          d,
          /Filesystem features:\s+has_journal ext_attr filetype sparse_super large_file\n/,
        );
        assert.match(d, /Filesystem volume name:\s+emu\n/);
        assert.match(d, new RegExp(`Block count:\\s+${r.blocks}\\n`));
        assert.equal([...d.matchAll(/^Group \d+:/gm)].length, r.groups);
        assert.equal(r.groups, mib === 136 ? 2 : 1);
      }
    }),
});

Deno.test({
  name: "a workload on our image and on mke2fs's: e2fsck -fn clean, debugfs reads every byte back",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      for (const made of ["ours", "mke2fs"]) {
        const path = `${dir}/${made}.img`;
        let dev: MemoryDevice;
        if (made === "ours") {
          dev = MemoryDevice.zeroed(64 * MIB);
          mkfs(dev);
        } else {
          mkfsExt3(path, 64);
          dev = imageDevice(path);
        }
        const fs = Ext2.mount(dev);
        const files = workload(fs);
        readBack(fs, files);
        fs.unmount();
        saveDevice(dev, path);
        const c = fsck(path);
        assert.equal(c.code, 0, `${made}: ${c.out}`);
        for (const [p, data] of files) assert.deepEqual(debugfsCat(path, p), data, `${made}: ${p}`);
        assert.match(debugfs(path, "ls -l /a"), /small-4/);
        // Mounted again, it reads the same.
        readBack(Ext2.mount(imageDevice(path), { readOnly: true }), files);
      }
    }),
});

Deno.test("operations fail with the POSIX error that names what is wrong, and change nothing", () => {
  const dev = MemoryDevice.zeroed(16 * MIB);
  mkfs(dev);
  const fs = Ext2.mount(dev);
  const d = fs.mkdir(ROOT, "d");
  const f = fs.create(d, "f");
  fs.mkdir(d, "sub");
  assert.equal(codeOf(() => fs.lookup(d, "nope")), "ENOENT");
  assert.equal(codeOf(() => fs.resolve("/d/f/x")), "ENOTDIR");
  assert.equal(codeOf(() => fs.create(d, "f")), "EEXIST");
  assert.equal(codeOf(() => fs.mkdir(d, "sub")), "EEXIST");
  assert.equal(codeOf(() => fs.create(f, "x")), "ENOTDIR");
  assert.equal(codeOf(() => fs.unlink(d, "sub")), "EISDIR");
  assert.equal(codeOf(() => fs.rmdir(d, "f")), "ENOTDIR");
  assert.equal(codeOf(() => fs.rmdir(ROOT, "d")), "ENOTEMPTY");
  assert.equal(codeOf(() => fs.read(d, 0, 1)), "EISDIR");
  assert.equal(codeOf(() => fs.create(d, "n".repeat(256))), "ENAMETOOLONG");
  assert.equal(codeOf(() => fs.create(d, "n".repeat(255))), "ok");
  assert.equal(codeOf(() => fs.create(d, "a/b")), "EINVAL");
  assert.equal(codeOf(() => fs.rename(ROOT, "d", d, "inside")), "EINVAL"); // into itself
  assert.equal(codeOf(() => fs.rename(d, "f", d, "sub")), "EISDIR");
  assert.equal(codeOf(() => fs.rename(d, "sub", ROOT, "lost+found")), "ok"); // an empty dir
  assert.equal(codeOf(() => fs.stat(99_999)), "EINVAL");
  assert.equal(codeOf(() => fs.write(f, -1, new Uint8Array(1))), "EINVAL");
  assert.deepEqual(fs.readdir(d).map((e) => e.name).sort(), [".", "..", "f", "n".repeat(255)]);
  fs.unmount();
  const ro = Ext2.mount(dev, { readOnly: true });
  assert.equal(codeOf(() => ro.create(ROOT, "x")), "EROFS");
  assert.equal(codeOf(() => ro.lookup(ROOT, "lost+found")), "ok");
});

Deno.test("file data is cached as written (reads after it need no disk), and not at all with dataCacheBlocks 0", () => {
  for (const blocks of [2048, 0]) {
    const dev = MemoryDevice.zeroed(16 * MIB);
    mkfs(dev);
    const fs = Ext2.mount(dev, { dataCacheBlocks: blocks });
    const ino = fs.create(ROOT, "f");
    const data = pattern(5 * 4096 + 100, 3);
    fs.write(ino, 0, data);
    let reads = 0;
    const read = dev.read.bind(dev);
    dev.read = (b: number, n?: number) => {
      reads++;
      return read(b, n);
    };
    assert.deepEqual(fs.read(ino, 0, data.length), data);
    assert.deepEqual(fs.read(ino, 4000, 200), data.subarray(4000, 4200));
    if (blocks > 0) {
      assert.equal(reads, 0); // every block was kept when written
      assert.equal(fs.dataCache.misses, 0);
      assert.ok(fs.dataCache.hits >= 7);
    } else {
      assert.ok(reads >= 2);
      assert.equal(fs.dataCache.hits, 0);
    }
    fs.truncate(ino, 100); // the cut blocks' cached copies must not come back
    fs.truncate(ino, 4 * 4096);
    const after = fs.read(ino, 0, 4 * 4096);
    assert.deepEqual(after.subarray(0, 100), data.subarray(0, 100));
    assert.ok(after.subarray(100).every((v) => v === 0));
  }
});

Deno.test({
  name: "a full disk gives ENOSPC, keeps every byte written before, and frees space again",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const dev = MemoryDevice.zeroed(8 * MIB); // 2,048 blocks, half of them journal
      mkfs(dev);
      const fs = Ext2.mount(dev);
      const keep = fs.create(ROOT, "keep");
      const kept = pattern(100_000, 5);
      fs.write(keep, 0, kept);
      fs.fsync(keep);
      const fill = fs.create(ROOT, "fill");
      const chunk = pattern(1 << 20, 6);
      let written = 0;
      for (;;) {
        let n: number;
        try {
          n = fs.write(fill, written, chunk);
        } catch (e) {
          assert.ok(e instanceof FsError && e.code === "ENOSPC", String(e));
          break;
        }
        written += n;
        if (n < chunk.length) continue; // a short write: the next one fails
      }
      assert.ok(written > 2 << 20, `${written} bytes fit`);
      assert.equal(fs.stat(fill).size, written);
      assert.deepEqual(fs.read(keep, 0, kept.length), kept);
      assert.equal(codeOf(() => fs.create(ROOT, "one-more")), "ok"); // an inode, no block
      const free = fs.statfs().freeInodes;
      assert.equal(codeOf(() => fs.mkdir(ROOT, "no-room")), "ENOSPC"); // it needs a block
      assert.equal(fs.statfs().freeInodes, free); // refused before anything was taken
      // Freed space comes back (after the checkpoint that makes it safe to reuse).
      fs.unlink(ROOT, "fill");
      const again = fs.create(ROOT, "again");
      assert.equal(fs.write(again, 0, chunk), chunk.length);
      fs.unmount();
      const path = `${dir}/full.img`;
      saveDevice(dev, path);
      const c = fsck(path);
      assert.equal(c.code, 0, c.out);
      assert.deepEqual(debugfsCat(path, "/keep"), kept);
      assert.deepEqual(debugfsCat(path, "/again"), chunk);
    }),
});

Deno.test({
  name: "mount refuses a foreign or corrupted image, naming what is wrong",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const refusal = (dev: MemoryDevice) => {
        try {
          Ext2.mount(dev);
        } catch (e) {
          assert.ok(e instanceof FsError, String(e));
          assert.equal(e.code, "EINVAL");
          return e.message;
        }
        return "mounted";
      };
      assert.match(refusal(MemoryDevice.zeroed(16 * MIB)), /magic 0x0 at byte 1080, not 0xef53/);
      const ext4 = `${dir}/ext4.img`;
      run("mke2fs", ["-q", "-F", "-t", "ext4", "-b", "4096", ext4, "32M"]);
      assert.match(
        refusal(imageDevice(ext4)),
        /unsupported features \(compat resize_inode, dir_index; incompat extent, 64bit, flex_bg; ro_compat huge_file, dir_nlink, extra_isize, metadata_csum\)/,
      );
      const plain = `${dir}/ext3.img`; // mke2fs's default ext3: dir_index and resize_inode
      run("mke2fs", ["-q", "-F", "-t", "ext3", "-b", "4096", plain, "32M"]);
      assert.match(
        refusal(imageDevice(plain)),
        /unsupported features \(compat resize_inode, dir_index\)/,
      );
      const dev = MemoryDevice.zeroed(16 * MIB);
      mkfs(dev);
      const grown = new MemoryDevice(dev.bytes.slice(0, 8 * MIB * 4096));
      assert.match(refusal(grown), /it says 4096 blocks; the disk has 2048/);
      const table = new DataView(dev.bytes.buffer, 4096); // group 0's descriptor
      table.setUint32(8, 999_999, true); // its inode table, far outside the group
      assert.match(refusal(dev), /group 0's inode table at 999999 is outside the group/);
    }),
});

/**
 * A disk that crashes: every block written since the last flush survives or not (a
 * seeded choice), everything flushed survives. `crashAt` counts writes; the write that
 * reaches it throws Crash and nothing after it happens.
 */
class CrashingDisk extends MemoryDevice {
  #sinceFlush: [number, Uint8Array][] = [];
  #durable: Uint8Array;
  #count = 0;
  crashAt = Infinity;
  /** A disk holding `image` (durable). */
  constructor(image: Uint8Array) {
    super(image.slice());
    this.#durable = image.slice();
  }
  override write(block: number, data: Uint8Array): void {
    if (++this.#count >= this.crashAt) throw new Crash();
    super.write(block, data);
    // Each block of a write survives a crash or not on its own: a disk may tear it.
    for (let i = 0; i < data.length / 4096; i++) {
      this.#sinceFlush.push([block + i, data.slice(i * 4096, (i + 1) * 4096)]);
    }
  }
  override flush(): void {
    super.flush();
    for (const [b, d] of this.#sinceFlush) this.#durable.set(d, b * 4096);
    this.#sinceFlush = [];
  }
  /** What the disk holds after the crash: the durable blocks and a random part of the rest. */
  afterCrash(seed: number): MemoryDevice {
    const out = this.#durable.slice();
    let x = seed;
    for (const [b, d] of this.#sinceFlush) {
      x = (x * 1103515245 + 12345) >>> 0;
      if (x & 0x10000) out.set(d, b * 4096);
    }
    return new MemoryDevice(out);
  }
  get count(): number {
    return this.#count;
  }
}

class Crash extends Error {}

/**
 * The crash workload: files written and fsynced (never touched again: each must
 * survive), interleaved with changes never fsynced (creates, appends, renames,
 * unlinks of other files). Returns the fsynced files; stops at a Crash.
 */
function crashWorkload(fs: Ext2, synced: Map<string, Uint8Array>): void {
  const d = fs.mkdir(ROOT, "w");
  fs.fsync(d);
  for (let i = 0; i < 12; i++) {
    const data = pattern(3000 + 7000 * i, 100 + i);
    const ino = fs.create(d, `synced-${i}`);
    fs.write(ino, 0, data);
    fs.fsync(ino);
    synced.set(`/w/synced-${i}`, data);
    const scratch = fs.create(d, `scratch-${i}`);
    fs.write(scratch, 0, pattern(9000, 200 + i));
    fs.write(scratch, 9000, pattern(5000, 300 + i)); // an append
    if (i % 3 === 1) fs.rename(d, `scratch-${i - 1}`, ROOT, `renamed-${i}`);
    if (i % 3 === 2) fs.unlink(d, `scratch-${i}`);
  }
  fs.unmount();
}

Deno.test({
  name:
    "crashes at 40 points of a write workload: mount replays, e2fsck -fn is clean, fsynced files intact",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      // How many writes the whole workload makes.
      const made = MemoryDevice.zeroed(16 * MIB);
      mkfs(made);
      const base = made.bytes;
      const probe = new CrashingDisk(base);
      crashWorkload(Ext2.mount(probe), new Map());
      const total = probe.count;
      assert.ok(total > 80, `${total} writes`);
      for (let k = 0; k < 40; k++) {
        const disk = new CrashingDisk(base);
        const at = 1 + Math.floor(((k + 0.5) / 40) * total);
        disk.crashAt = at;
        const synced = new Map<string, Uint8Array>();
        assert.throws(() => crashWorkload(Ext2.mount(disk), synced), Crash);
        const after = disk.afterCrash(k + 1);
        const fs = Ext2.mount(after); // replays the journal
        for (const [p, data] of synced) {
          assert.deepEqual(fs.read(fs.resolve(p), 0, data.length + 1), data, `crash ${k}: ${p}`);
        }
        fs.unmount();
        const path = `${dir}/crash-${k}.img`;
        saveDevice(after, path);
        const c = fsck(path);
        assert.equal(c.code, 0, `crash ${k} at write ${at} of ${total}: ${c.out}`);
        Deno.removeSync(path);
      }
    }),
});

Deno.test({
  name: "a journal our engine left after a crash is replayed by e2fsck as by mount",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const dev = MemoryDevice.zeroed(16 * MIB);
      mkfs(dev);
      const fs = Ext2.mount(dev);
      const d = fs.mkdir(ROOT, "j");
      const data = pattern(30_000, 42);
      const f = fs.create(d, "file");
      fs.write(f, 0, data);
      fs.fsync(f); // committed, never checkpointed: the crash leaves it in the journal
      const path = `${dir}/journal.img`;
      saveDevice(dev, path);
      const fixed = fsckFix(path);
      assert.match(fixed.out, /recovering journal/);
      assert.equal(fixed.code, 0, fixed.out); // replayed, and nothing else to fix
      assert.deepEqual(debugfsCat(path, "/j/file"), data);
      const ours = Ext2.mount(new MemoryDevice(dev.bytes.slice()));
      assert.deepEqual(ours.read(ours.resolve("/j/file"), 0, data.length), data);
    }),
});

Deno.test({
  name: "deno task mkfs IMAGE SIZE makes a host file e2fsck -fn accepts; a bad SIZE is refused",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir((dir) => {
      const mkfsTask = (...args: string[]) => {
        const r = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-prompt",
            `--allow-read=${dir}`,
            `--allow-write=${dir}`,
            MKFS,
            ...args,
          ],
          stdout: "piped",
          stderr: "piped",
        }).outputSync();
        const text = (b: Uint8Array) => new TextDecoder().decode(b);
        return { code: r.code, out: text(r.stdout), err: text(r.stderr) };
      };
      const path = `${dir}/task.img`;
      const ok = mkfsTask(path, "24M", "--label", "t");
      assert.equal(ok.code, 0, ok.err);
      assert.match(ok.out, /ext3, 6144 blocks of 4 KiB in 1 group\(s\)/);
      assert.equal(Deno.statSync(path).size, 24 << 20);
      const c = fsck(path);
      assert.equal(c.code, 0, c.out);
      Ext2.mount(imageDevice(path)).unmount();
      const small = mkfsTask(`${dir}/small.img`, "4M");
      assert.equal(small.code, 1);
      assert.match(small.err, /mkfs: an image is at least 8 MiB, not 4M/);
      const bad = mkfsTask(`${dir}/bad.img`, "12Q");
      assert.match(bad.err, /a size is digits with K, M or G, not "12Q"/);
      assert.throws(() => Deno.statSync(`${dir}/bad.img`), Deno.errors.NotFound);
    }),
});

const MKFS = new URL("../servers/files/mkfs_main.ts", import.meta.url).pathname;
