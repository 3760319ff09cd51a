/**
 * The emulator's process killed with SIGKILL at 30 random points of a write workload
 * on its file system (tests/programs/fs_crash.ts under `boot --disk IMAGE --run`):
 * after each, a mount replays the journal, every file whose fsync returned is
 * intact, and once unmounted `e2fsck -fn` is clean. The same image takes all 30
 * crashes in turn.
 */

import assert from "node:assert/strict";
import { Ext2 } from "../servers/files/ext2_fs.ts";
import { makeImage } from "./files_helpers.ts";
import { fsck, imageDevice, saveDevice, withoutE2fsprogs, withTempDir } from "./e2fsprogs.ts";
import { crashBytes } from "./programs/fs_crash.ts";
import { DENO_RUN } from "./task_runner.ts";

const ROOT = new URL("../", import.meta.url);
const CRASHES = 30;

/** Boots one node on `image` running the workload with `prefix`; kills it after `killMs`. */
async function crashRun(image: string, prefix: string, killMs: number): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...DENO_RUN,
      "--allow-read=.,/tmp",
      "--allow-write=/tmp",
      "kernel/host/boot.ts",
      "--nodes",
      "1",
      "--disk",
      image,
      "--run",
      "tests/programs/fs_crash.ts",
      prefix,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const synced: string[] = [];
  const dec = new TextDecoder();
  let text = "", killed = false, timer: ReturnType<typeof setTimeout> | undefined;
  const reader = child.stdout.getReader();
  const stderr = child.stderr.text();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    for (const m of text.matchAll(/^SYNCED (\S+)$/gm)) {
      if (!synced.includes(m[1])) synced.push(m[1]);
    }
    // The clock starts at the first fsync: the kill falls inside the workload.
    if (synced.length > 0 && timer === undefined) {
      timer = setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, killMs);
    }
  }
  const st = await child.status;
  clearTimeout(timer);
  await stderr;
  assert.ok(killed && st.signal === "SIGKILL", `the workload ended by itself: ${text}`);
  // A SYNCED line that reached us was printed after its fsync returned.
  return synced;
}

Deno.test({
  name:
    "the emulator killed with SIGKILL at 30 points of a write workload: replayed, fsynced files intact, e2fsck clean",
  ignore: withoutE2fsprogs(),
  fn: () =>
    withTempDir(async (dir) => {
      const image = `${dir}/crash.img`;
      makeImage(image, 64);
      let seed = 12345;
      const all: string[] = [];
      for (let k = 0; k < CRASHES; k++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const killMs = 5 + ((seed >>> 8) % 800); // the high bits: an LCG's low ones cycle
        const prefix = `run${k}`;
        const synced = await crashRun(image, prefix, killMs);
        all.push(...synced);
        // Mount (replaying the journal the crash left), check, unmount clean.
        const after = imageDevice(image);
        const fs = Ext2.mount(after);
        for (const name of all) {
          const [p, i] = [
            name.slice(0, name.lastIndexOf("-")),
            Number(name.slice(name.lastIndexOf("-") + 1)),
          ];
          const want = crashBytes(p, i);
          const got = fs.read(fs.resolve(`/${p}/${name}`), 0, want.length + 1);
          assert.deepEqual(got, want, `crash ${k} (after ${killMs} ms): ${name}`);
        }
        fs.unmount();
        saveDevice(after, image);
        const c = fsck(image);
        assert.equal(c.code, 0, `crash ${k} (after ${killMs} ms): ${c.out}`);
      }
      assert.ok(all.length >= CRASHES, `only ${all.length} files were fsynced in all`);
    }),
});
