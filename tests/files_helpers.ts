// Shared by the file server's tests: an image made by our mkfs, and the file server
// started on node 0 of a cluster and waited for.

import type { Process } from "../kernel/proc/process.ts";
import { MemoryDevice } from "../servers/files/block_device.ts";
import { mkfs } from "../servers/files/ext2_mkfs.ts";
import type { TestCluster } from "./helpers.ts";

/** Writes a fresh file system of `mib` MiB, made by servers/files/ext2_mkfs.ts, to `path`. */
export function makeImage(path: string, mib: number): void {
  const dev = MemoryDevice.zeroed(mib * 256);
  mkfs(dev);
  Deno.writeFileSync(path, dev.bytes);
}

/** Starts the file server on node 0 (its disk 0) and waits until it says it serves. */
export async function startFileServer(c: TestCluster): Promise<Process> {
  const server = c.spawn(0, "servers/files/mod.ts", ["0"]);
  const deadline = performance.now() + 15_000;
  while (!c.console.out.includes("files: serving")) {
    if (performance.now() > deadline) throw new Error(`no file server:\n${c.console.out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return server;
}

/** Starts node `node`'s file clerk (`hy`: HY only) and waits until it serves. */
export async function startClerk(c: TestCluster, node: number, hy = false): Promise<Process> {
  const clerk = c.spawn(node, "servers/files/clerk.ts", [...(hy ? ["hy"] : []), "0"]);
  const deadline = performance.now() + 15_000;
  while (c.node(node).exports.byName(`rpc.files.clerk.${node}`) === undefined) {
    if (performance.now() > deadline) {
      throw new Error(`no clerk on node ${node}:\n${c.console.out}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return clerk;
}
