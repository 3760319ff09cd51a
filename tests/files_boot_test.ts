/**
 * `deno task boot --disk IMAGE` with a file system: the file server mounts it at /
 * for the shell, whose file commands work on it; the boot's end unmounts it (the
 * image passes `e2fsck -fn`, and debugfs and the next boot read what was written).
 * Every node runs a file clerk, HY only with `--files-path hy`.
 * A disk with no file system stays a raw disk: the file server says so and is not
 * started again. The images live under disks/, where the tasks may write; the test
 * makes them with `deno task mkfs` and removes them.
 */

import assert from "node:assert/strict";
import { debugfsCat, fsck, withoutE2fsprogs } from "./e2fsprogs.ts";
import { runTask } from "./task_runner.ts";

const ROOT = new URL("../", import.meta.url);

/** Runs `deno task NAME ARGS` with `input` on stdin. */
const task = (name: string, args: string[], input = "", ms = 30_000) =>
  runTask(name, args, input, ms);

/** Removes a file of disks/ (the test itself may write only under /tmp). */
function remove(path: string): void {
  new Deno.Command("rm", { args: ["-f", path], cwd: ROOT }).outputSync();
}

// disks/ is where the tasks may write; a clean checkout does not have it.
new Deno.Command("mkdir", { args: ["-p", "disks"], cwd: ROOT }).outputSync();

Deno.test({
  name:
    "boot --disk IMAGE: the shell's ls, cat, write, mkdir, rm, mv and df on the file system; it persists",
  ignore: withoutE2fsprogs(),
  fn: async () => {
    const image = `disks/files-test-${crypto.randomUUID().slice(0, 8)}.img`;
    try {
      const made = await task("mkfs", [image, "32M"]);
      assert.equal(made.code, 0, made.stderr);
      const script = [
        "mkdir /docs /tmp",
        "write /docs/a.txt hello from the shell",
        "write /tmp/scratch x",
        "ls /docs",
        "cat /docs/a.txt",
        "mv /docs/a.txt /docs/b.txt",
        "rm -r /tmp",
        "ls /",
        "df",
        "cat /nope",
        "rm /docs",
        "exit",
      ].join("\n") + "\n";
      const r = await task("boot", ["--disk", image], script);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /files: serving disk 0 of node 0: 8192 blocks/);
      assert.match(r.stdout, /\s+21 {2}file {2}a\.txt\n/);
      assert.match(r.stdout, /^(\$ )?hello from the shell$/m);
      assert.match(r.stdout, /- {2}dir {3}docs\/\n\s+- {2}dir {3}lost\+found\/\n/);
      assert.doesNotMatch(r.stdout, /tmp\//);
      assert.match(r.stdout, /MiB\s+32\.0\s+[\d.]+\s+[\d.]+\ninodes\s+2048\s+\d+\s+\d+\n/);
      assert.match(r.stdout, /cat: no "nope" in directory 2 \(ENOENT\)/);
      assert.match(r.stdout, /rm: directory "docs" is not empty \(ENOTEMPTY\)/);
      assert.match(r.stdout, /files: unmounted/);
      const path = new URL(image, ROOT).pathname;
      const c = fsck(path);
      assert.equal(c.code, 0, c.out);
      assert.equal(
        new TextDecoder().decode(debugfsCat(path, "/docs/b.txt")),
        "hello from the shell\n",
      );
      // Every node runs a file clerk; `--files-path hy` makes it HY only.
      // The shell's calls went through node 0's clerk, which answered reads by DX.
      const dx = [...r.stdout.matchAll(/files clerk: (\d+) answered by DX/g)].map((m) =>
        Number(m[1])
      );
      assert.equal(dx.length, 2, r.stdout);
      assert.ok(dx.some((n) => n > 0), `no clerk answered by DX: ${dx}`);
      const args = ["--disk", image, "--files-path", "hy"];
      const again = await task("boot", args, "cat /docs/b.txt\nps\nexit\n");
      assert.match(again.stdout, /^(\$ )?hello from the shell$/m);
      assert.match(again.stdout, /\s1\s+running\s.*servers\/files\/clerk\.ts hy\n/);
      assert.equal([...again.stdout.matchAll(/files clerk: 0 answered by DX/g)].length, 2);
    } finally {
      remove(image);
    }
  },
});

Deno.test("boot --disk of a raw disk: the file server says it holds no file system and is not started again", async () => {
  const image = `disks/raw-test-${crypto.randomUUID().slice(0, 8)}.img`;
  try {
    // ls waits for the file server (5 s), which never serves: EIO, naming why.
    const r = await task("boot", ["--nodes", "1", "--disk", `${image}:16M`], "ls /\nexit\n");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /files: cannot mount disk 0 of node 0: .*magic 0x0 at byte 1080/);
    assert.match(r.stdout, /ls: .*no exported segment "rpc\.files".*\(EIO\)/);
    assert.doesNotMatch(r.stdout, /has lost the file server/);
    assert.equal([...r.stdout.matchAll(/files: cannot mount/g)].length, 1);
  } finally {
    remove(image);
  }
});
