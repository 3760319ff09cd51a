/**
 * The write workload of the emulator-crash test (tests/files_crash_test.ts), run
 * with `boot --run` until the test kills the emulator's process with SIGKILL:
 *
 *   fs_crash PREFIX     files PREFIX-i of crashBytes(PREFIX, i), each fsynced and
 *                       then announced "SYNCED PREFIX-i", never touched again; between
 *                       them, changes nobody fsyncs: creates, appends, renames, unlinks
 */

import { fs, O, println } from "../../userland/lib/mod.ts";

/** The bytes of file PREFIX-i. */
export function crashBytes(prefix: string, i: number): Uint8Array {
  const n = 500 + ((i * 7919) % 20_000);
  const seed = [...prefix].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, i);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (k * 131 + seed) & 0xff;
  return b;
}

export default function main(args: string[]): number {
  const prefix = args[0];
  fs.mkdir(`/${prefix}`);
  for (let i = 0;; i++) {
    const fd = fs.open(`/${prefix}/${prefix}-${i}`, O.WRITE | O.CREATE | O.EXCLUSIVE);
    fs.write(fd, crashBytes(prefix, i));
    fs.fsync(fd);
    fs.close(fd);
    println(`SYNCED ${prefix}-${i}`);
    // Changes nobody fsyncs.
    const scratch = `/${prefix}/scratch-${i}`;
    fs.writeFile(scratch, crashBytes("scratch", i));
    const log = fs.open(`/${prefix}/log`, O.WRITE | O.CREATE | O.APPEND);
    fs.write(log, `entry ${i}\n`);
    fs.close(log);
    if (i % 3 === 1) fs.rename(scratch, `/${prefix}/renamed-${i}`);
    if (i % 3 === 2) fs.unlink(scratch);
  }
}
