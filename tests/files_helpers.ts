// Shared by the file server's tests: an image made by our mkfs, the file server
// started on node 0 of a cluster and waited for, and the frame of a test that runs
// one on a fresh image.

import { HostDisk } from "../kernel/host/host_disk.ts";
import type { KernelConfig } from "../kernel/kernel.ts";
import type { Process } from "../kernel/proc/process.ts";
import { MemoryDevice } from "../servers/files/block_device.ts";
import { mkfs } from "../servers/files/ext2_mkfs.ts";
import { mkfsExt3, withTempDir } from "./e2fsprogs.ts";
import { type TestCluster, withCluster } from "./helpers.ts";
import { until } from "./remote_helpers.ts";

/** Writes a fresh file system of `mib` MiB, made by servers/files/ext2_mkfs.ts, to `path`. */
export function makeImage(path: string, mib: number): void {
  const dev = MemoryDevice.zeroed(mib * 256);
  mkfs(dev);
  Deno.writeFileSync(path, dev.bytes);
}

/** Starts the file server on node 0 (its disk 0) and waits until it says it serves. */
export async function startFileServer(c: TestCluster): Promise<Process> {
  const server = c.spawn(0, "servers/files/mod.ts", ["0"]);
  await until(c, () => c.console.out.includes("files: serving"), "the file server", 15_000);
  return server;
}

/** Starts node `node`'s file clerk (`hy`: HY only) and waits until it serves. */
export async function startClerk(c: TestCluster, node: number, hy = false): Promise<Process> {
  const clerk = c.spawn(node, "servers/files/clerk.ts", [...(hy ? ["hy"] : []), "0"]);
  const name = `rpc.files.clerk.${node}`;
  await until(c, () => c.node(node).exports.byName(name) !== undefined, `the clerk`, 15_000);
  return clerk;
}

/** How a test's image is made: its size, and by whom (our mkfs, or `mke2fs -t ext3`). */
export interface ImageSpec {
  mib: number;
  mke2fs?: boolean;
}

/**
 * Runs `use` with a fresh image (`spec`) in a temporary directory, opened as a host
 * disk, which is closed after even if `use` throws; then `after` may check the image
 * (e2fsck, debugfs) at its path before the directory goes.
 */
export function withImage(
  spec: ImageSpec,
  use: (disk: HostDisk) => Promise<void>,
  after?: (path: string) => void,
): Promise<void> {
  return withTempDir(async (dir) => {
    const path = `${dir}/fs.img`;
    (spec.mke2fs ? mkfsExt3 : makeImage)(path, spec.mib);
    const disk = await HostDisk.open(path);
    try {
      await use(disk);
    } finally {
      await disk.close();
    }
    after?.(path);
  });
}

/**
 * A file server test's frame: a fresh image (`spec`) on node 0 of a fresh cluster
 * of two nodes (`spec.config` theirs) whose file server is up; `use` runs with
 * both, then `after` may check the image.
 */
export function withFileServer(
  spec: ImageSpec & { config?: Partial<KernelConfig> },
  use: (c: TestCluster, server: Process) => Promise<void>,
  after?: (path: string) => void,
): Promise<void> {
  return withImage(spec, (disk) =>
    withCluster(
      async (c) => {
        c.node(0).disks.add(disk);
        await use(c, await startFileServer(c));
      },
      2,
      spec.config,
    ), after);
}
