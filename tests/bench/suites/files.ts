// Suite `files` (issue 14 item 6): the file service seen from another node, beside
// the host's own file API measured in the same run.
//
//   hy/OP, dx/OP          one HY call to the file server on node 0 from node 1, on a
//                         warm server cache, and the same read by DX from its cache
//                         areas (tests/bench/programs/files_ops.ts)
//   clerk-dx/OP, clerk-hy/OP  the same asked of node 1's file clerks: a client's latency
//   fs-write-64m, fs-read-64m, fs-small-files
//                         the same workloads through the file API from node 1
//   host-write-64m, host-read-64m, host-small-files
//                         Deno's file API on the host's /tmp: 1 MiB writes and an
//                         fsync, 1 MiB reads, 2,000 create + stat + remove

import { MemoryConsole } from "../../../kernel/host/console.ts";
import { HostDisk } from "../../../kernel/host/host_disk.ts";
import { WorkerHost } from "../../../kernel/host/worker_host.ts";
import { Cluster } from "../../../kernel/cluster.ts";
import { MemoryDevice } from "../../../servers/files/block_device.ts";
import { mkfs } from "../../../servers/files/ext2_mkfs.ts";
import { benchLines, type NamedResult } from "../kernel_runner.ts";
import type { CaseResult, Suite } from "../suite.ts";
import { toCases } from "./remote.ts";

const INIT = new URL("../../../userland/programs/init.ts", import.meta.url).href;
const OPS = new URL("../programs/files_ops.ts", import.meta.url).href;
const CLERK = new URL("../../../servers/files/clerk.ts", import.meta.url).href;
const MIB = 1 << 20;

export const files: Suite = {
  name: "files",
  description: "the file service from another node (HY), 64 MiB and small files, the host's",
  async run(opts) {
    const dir = await Deno.makeTempDir({ prefix: "bench_files_" });
    try {
      const emulated = await runEmulated(`${dir}/fs.img`, opts.quick);
      return [...emulated, ...host(dir, opts.quick)];
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

/** The file server on node 0's disk and files_ops on node 1; their cases. */
async function runEmulated(image: string, quick: boolean): Promise<CaseResult[]> {
  const dev = MemoryDevice.zeroed((quick ? 64 : 256) * 256);
  mkfs(dev);
  await Deno.writeFile(image, dev.bytes);
  const disk = await HostDisk.open(image);
  const console = new MemoryConsole();
  // Metered: the kernels' busy time and the processes' thread CPU (server_cpu_us).
  const host = new WorkerHost({ threadCpu: true });
  const cluster = new Cluster(host, console, { nodes: 2, config: { meter: true } });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    cluster.nodes[0].disks.add(disk, { files: true });
    for (const k of cluster.nodes) k.spawn(INIT, ["--serve"]);
    // Node 1's clerks: the node's own (DX), and an HY-only one for the comparison.
    cluster.nodes[1].spawn(CLERK, ["0"]);
    cluster.nodes[1].spawn(CLERK, ["hy", "0", "as=files.clerk.hy"]);
    const p = cluster.nodes[1].spawn(OPS, [quick ? "quick" : "full"]);
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("files_ops: no result in 300 s")), 300_000);
    });
    const status = await Promise.race([p.exited, limit]);
    if (status.status !== 0) {
      throw new Error(`files_ops: ${status.reason}\n${console.out}${console.err}`);
    }
    const lines = benchLines(console.out) as (NamedResult & { server_cpu_us?: number })[];
    const cpu = new Map(lines.map((r) => [r.case, r.server_cpu_us]));
    return toCases(lines).map((c) => {
      if (c.name.startsWith("fs-") && c.name.endsWith("m")) return { ...c, mb_per_s: perMib(c) };
      const server_cpu_us = cpu.get(c.name);
      return server_cpu_us === undefined ? c : { ...c, server_cpu_us };
    });
  } finally {
    clearTimeout(timer);
    cluster.halt();
    await disk.close();
  }
}

/** MB/s of a case whose samples are µs per MiB. */
function perMib(c: CaseResult): number {
  const sorted = [...c.samples_us].sort((a, b) => a - b);
  return MIB / sorted[sorted.length >> 1];
}

/** The host's own file API on the same workloads. */
function host(dir: string, quick: boolean): CaseResult[] {
  const total = quick ? 8 : 64, path = `${dir}/host-big`;
  const chunk = new Uint8Array(MIB).map((_, i) => (i * 7) & 0xff);
  const writes: number[] = [], reads: number[] = [];
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    for (let at = 0; at < MIB;) at += f.writeSync(chunk.subarray(at));
    if (i === total - 1) f.syncSync();
    writes.push((performance.now() - t0) * 1000);
  }
  f.close();
  const r = Deno.openSync(path, { read: true });
  const buf = new Uint8Array(MIB);
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    for (let at = 0; at < MIB;) at += r.readSync(buf.subarray(at)) ?? MIB;
    reads.push((performance.now() - t0) * 1000);
  }
  r.close();
  const small: number[] = [], files = quick ? 200 : 2000;
  for (let i = 0; i < files; i++) {
    const t0 = performance.now();
    Deno.writeTextFileSync(`${dir}/s${i}`, "x");
    Deno.statSync(`${dir}/s${i}`);
    Deno.removeSync(`${dir}/s${i}`);
    small.push((performance.now() - t0) * 1000);
  }
  const c = (name: string, samples: number[]): CaseResult => ({
    name,
    samples_us: samples,
    n: samples.length,
    note: "1 per sample",
  });
  const big = (name: string, samples: number[]) => ({
    ...c(name, samples),
    mb_per_s: perMib(c(name, samples)),
  });
  return [
    big(`host-write-${total}m`, writes),
    big(`host-read-${total}m`, reads),
    c("host-small-files", small),
  ];
}
