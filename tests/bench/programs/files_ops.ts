// Bench program for suite `files` (issue 14, 000 Figures 2 and 3), on node 1 of two
// in-process nodes; node 0 runs the file server on its disk (the suite boots it so).
//   hy/lookup, hy/getattr, hy/read-1k, hy/read-8k, hy/readdir
//       one HY call to the file server (userland/lib/fs/protocol.ts over RPC) on a
//       warm server cache: a name in a directory of 20, an inode's attributes, 1 KiB
//       and 8 KiB of a file, the directory's entries
//   clerk-dx/OP, clerk-hy/OP
//       the same asked of a file clerk on node 1 (servers/files/clerk.ts) over a
//       local RPC, as the file API asks: one that reads the server's cache areas by
//       DX (HY on a miss), and one that is HY only (the clerk's `hy`)
//   dx/lookup, dx/getattr, dx/read-1k, dx/read-8k, dx/readdir
//       the same read from the server's cache areas with remote READs by this
//       process itself (servers/files/dx_reader.ts): the floor of the clerk's DX
//   fs-write-64m, fs-read-64m   64 MiB in 1 MiB calls through the file API (a sample
//       per call; the write's last sample includes its fsync)
//   fs-small-files              create, stat and delete 2,000 small files (a sample
//       per file: its three calls)
// Every hy/, dx/ and clerk- case also has server_cpu_us: the server node's kernel busy
// time plus the file server's thread CPU over the whole measurement (the server's
// LOAD before and after, less what one LOAD costs), per operation measured.
// args: [quick|full]. Prints one BENCH line per case.

import { fs, O, println, RpcClient } from "../../../userland/lib/mod.ts";
import {
  decodeLoad,
  FILES_SERVICE,
  FileStub,
  replyPayload,
  Request,
  ROOT_INO,
} from "../../../servers/files/protocol.ts";
import { DxReader } from "../../../servers/files/dx_reader.ts";
import { measureBatches } from "../peers/worker_common.ts";

export default async function main(args: string[]): Promise<number> {
  const quick = args[0] === "quick";
  fs.mkdir("/bench");
  for (let i = 0; i < 20; i++) fs.writeFile(`/bench/entry-${i}`, `entry ${i}`);
  fs.writeFile("/bench/data", new Uint8Array(64 * 1024).map((_, i) => i & 0xff));
  const dir = fs.stat("/bench").ino, data = fs.stat("/bench/data").ino;
  const c = RpcClient.connect(FILES_SERVICE, { hint: 0 });
  const call = (stub: number, r: Uint8Array) => replyPayload(c.call(stub, r), "bench");
  const lookup = new Request().u32(dir).tail("entry-7").bytes();
  const getattr = new Request().u32(data).bytes();
  const read1k = new Request().u32(data).f64(4096).u32(1024).bytes();
  const read8k = new Request().u32(data).f64(8192).u32(8192).bytes();
  const readdir = new Request().u32(dir).u32(0).bytes();
  call(FileStub.GETATTR, new Request().u32(ROOT_INO).bytes());
  const load = () => decodeLoad(call(FileStub.LOAD, new Request().bytes()));
  const l0 = load(), l1 = load();
  const loadCost = l1.kernelBusyUs - l0.kernelBusyUs + l1.cpuUs - l0.cpuUs;
  const metered = l0.kernelBusyUs >= 0 && l0.cpuUs >= 0;
  /** Measures `op` as measureBatches does, with the server's CPU per operation. */
  const measure = async (name: string, op: () => unknown) => {
    let ops = 0;
    const before = load();
    const r = await measureBatches(
      (k) => {
        for (let i = 0; i < k; i++) op();
        ops += k;
      },
      quick,
      performance.now() + (quick ? 10_000 : 30_000),
    );
    const after = load();
    const used = after.kernelBusyUs - before.kernelBusyUs + after.cpuUs - before.cpuUs;
    const server_cpu_us = metered ? Math.max(0, used - loadCost) / ops : undefined;
    // A DX case the server answered (a clerk gone over to HY) would measure HY.
    const calls = after.calls - before.calls - 1; // the second LOAD counts itself
    if (name.includes("dx/") && calls > 0) {
      throw new Error(`${name}: the server took ${calls} calls`);
    }
    println(`BENCH ${JSON.stringify({ case: name, ...r, server_cpu_us })}`);
  };
  const cases: [string, number, Uint8Array][] = [
    ["hy/lookup", FileStub.LOOKUP, lookup],
    ["hy/getattr", FileStub.GETATTR, getattr],
    ["hy/read-1k", FileStub.READ, read1k],
    ["hy/read-8k", FileStub.READ, read8k],
    ["hy/readdir", FileStub.READDIR, readdir],
  ];
  for (const [name, stub, request] of cases) await measure(name, () => call(stub, request));

  // The same through this node's clerks: the DX one (the node's) and an HY-only one.
  for (const [prefix, service] of [["clerk-dx", `files.clerk.1`], ["clerk-hy", "files.clerk.hy"]]) {
    const k = RpcClient.connect(service, { hint: 1 });
    for (const [name, stub, request] of cases) {
      replyPayload(k.call(stub, request), "warm"); // and the server's areas are warm
      await measure(
        `${prefix}/${name.slice(3)}`,
        () => replyPayload(k.call(stub, request), "bench"),
      );
    }
    k.close();
  }

  // DX: the same from the server's cache areas, which the HY calls above filled.
  const dx = new DxReader(0);
  const attr = dx.getattr(data);
  if (
    !attr || !dx.lookup(dir, "entry-7") || !dx.read(attr, 4096, 1024) ||
    !dx.read(attr, 8192, 8192) || !dx.readdir(dir, 0)
  ) {
    throw new Error(`the cache areas miss what HY read: ${JSON.stringify(dx.counts)}`);
  }
  const dxCases: [string, () => unknown][] = [
    ["dx/lookup", () => dx.lookup(dir, "entry-7")],
    ["dx/getattr", () => dx.getattr(data)],
    ["dx/read-1k", () => dx.read(attr, 4096, 1024)],
    ["dx/read-8k", () => dx.read(attr, 8192, 8192)],
    ["dx/readdir", () => dx.readdir(dir, 0)],
  ];
  for (const [name, op] of dxCases) {
    const before = dx.counts.misses;
    await measure(name, op);
    if (dx.counts.misses !== before) {
      throw new Error(`${name}: ${dx.counts.misses - before} misses`);
    }
  }

  const MIB = 1 << 20, total = quick ? 8 : 64;
  const chunk = new Uint8Array(MIB).map((_, i) => (i * 7) & 0xff);
  const writes: number[] = [], reads: number[] = [];
  const fd = fs.open("/bench/big", O.WRITE | O.CREATE | O.TRUNCATE);
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    fs.write(fd, chunk);
    if (i === total - 1) fs.fsync(fd);
    writes.push((performance.now() - t0) * 1000);
  }
  fs.close(fd);
  const rd = fs.open("/bench/big", O.READ);
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const got = fs.read(rd, MIB);
    reads.push((performance.now() - t0) * 1000);
    if (got.length !== MIB || got[12345] !== chunk[12345]) throw new Error(`read ${i} is wrong`);
  }
  fs.close(rd);
  const small: number[] = [], files = quick ? 200 : 2000;
  for (let i = 0; i < files; i++) {
    const t0 = performance.now();
    fs.writeFile(`/bench/s${i}`, "x");
    fs.stat(`/bench/s${i}`);
    fs.unlink(`/bench/s${i}`);
    small.push((performance.now() - t0) * 1000);
  }
  const report = (name: string, samples: number[]) =>
    println(
      `BENCH ${JSON.stringify({ case: name, samples_us: samples, n: samples.length, batch: 1 })}`,
    );
  report(`fs-write-${total}m`, writes);
  report(`fs-read-${total}m`, reads);
  report("fs-small-files", small);
  c.close();
  return 0;
}
