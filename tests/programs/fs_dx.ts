/**
 * DX reads of the file server's cache areas (servers/files/dx_reader.ts) beside HY
 * calls, for tests/files_dx_test.ts:
 *
 *   fs_dx agree      files written and read over HY; DX gives the same attributes,
 *                    names and bytes; after a write, a rename, an unlink and a
 *                    truncate DX gives the new state or a miss, never the old
 *   fs_dx race N     N DX reads of /race's first block (and more, until one has
 *                    overlapped a rewrite) while another process rewrites it whole
 *                    with one byte value after another: every read that is not a
 *                    miss is one value throughout
 *   fs_dx churn      rewrites /race's first block with 1, 2, 3, … until killed
 *   fs_dx load       the server's LOAD around 500 DX reads and around 50 HY calls:
 *                    the calls it served and its node's kernel busy time in each
 */

import { fs, O, RpcClient } from "../../userland/lib/mod.ts";
import { DxReader } from "../../servers/files/dx_reader.ts";
import {
  decodeDirPage,
  decodeLoad,
  FILES_SERVICE,
  FileStub,
  replyPayload,
  Request,
} from "../../servers/files/protocol.ts";
import { report } from "./report.ts";

const enc = new TextEncoder();

export default function main(args: string[]): number {
  const [mode, count] = args;
  if (mode === "churn") {
    fs.writeFile("/race", new Uint8Array(4096));
    const fd = fs.open("/race", O.WRITE);
    for (let v = 1;; v = (v % 250) + 1) fs.pwrite(fd, new Uint8Array(4096).fill(v), 0);
  }
  const dx = new DxReader(0);
  if (mode === "load") {
    fs.writeFile("/load", "some bytes");
    const ino = fs.stat("/load").ino;
    const c = RpcClient.connect(FILES_SERVICE, { hint: 0 });
    const call = (stub: number, r: Uint8Array) => replyPayload(c.call(stub, r), "load");
    const load = () => decodeLoad(call(FileStub.LOAD, new Request().bytes()));
    const getattr = new Request().u32(ino).bytes();
    call(FileStub.GETATTR, getattr); // into the attribute area
    const l0 = load();
    for (let i = 0; i < 500; i++) if (!dx.getattr(ino)) throw new Error("a DX miss");
    const l1 = load();
    for (let i = 0; i < 50; i++) call(FileStub.GETATTR, getattr);
    const l2 = load();
    report({
      dx: { calls: l1.calls - l0.calls, busyUs: l1.kernelBusyUs - l0.kernelBusyUs },
      hy: { calls: l2.calls - l1.calls, busyUs: l2.kernelBusyUs - l1.kernelBusyUs },
      first: l0,
    });
    c.close();
    return 0;
  }
  if (mode === "race") {
    const deadline = performance.now() + 20_000;
    while (!exists("/race")) if (performance.now() > deadline) throw new Error("no /race");
    const ino = fs.stat("/race").ino;
    let mixed = 0, hits = 0;
    const values = new Set<number>();
    // N reads at least, and on until one has overlapped a rewrite (torn), which the
    // version words must have caught: up to 30 s.
    const until = performance.now() + 30_000;
    for (let i = 0; i < Number(count) || (dx.counts.torn === 0 && performance.now() < until); i++) {
      const a = dx.getattr(ino); // the writer's every write rewrites it, and the block
      if (!a) continue;
      const got = dx.read(a, 0, 4096);
      if (!got) continue;
      hits++;
      if (got.some((v) => v !== got[0])) mixed++;
      values.add(got[0]);
    }
    report({ mixed, hits: hits > 0, values: values.size > 1, torn: dx.counts.torn });
    return 0;
  }
  // agree
  fs.mkdir("/dx");
  const data = new Uint8Array(10_000).map((_, i) => (i * 3) & 0xff);
  fs.writeFile("/dx/file", data);
  const dir = fs.stat("/dx"), file = fs.stat("/dx/file");
  fs.readFile("/dx/file"); // HY read: its blocks go into the data area
  fs.readdir("/dx"); // HY: its page goes into the directory area
  const names = (page: Uint8Array | null) =>
    page && decodeDirPage(page).entries.map((e) => e.name).filter((n) => !n.startsWith("."));
  const listed = names(dx.readdir(dir.ino, 0));
  const before = {
    listed,
    getattr: dx.getattr(file.ino)?.size,
    lookup: dx.lookup(dir.ino, "file")?.ino === file.ino,
    read: same(dx.read(attrOf(file.ino, dx), 0, 10_000), data),
    part: same(dx.read(attrOf(file.ino, dx), 4000, 300), data.subarray(4000, 4300)),
    missing: dx.lookup(dir.ino, "nope"),
  };
  // Changes over HY; then DX gives the new state or a miss.
  const fd = fs.open("/dx/file", O.WRITE);
  fs.pwrite(fd, enc.encode("NEW!"), 0);
  fs.close(fd);
  const afterWrite = dx.read(attrOf(file.ino, dx), 0, 4);
  fs.rename("/dx/file", "/dx/moved");
  const listedAfterRename = names(dx.readdir(dir.ino, 0));
  fs.readdir("/dx");
  const listedAgain = names(dx.readdir(dir.ino, 0));
  const renamed = { old: dx.lookup(dir.ino, "file"), moved: dx.lookup(dir.ino, "moved")?.ino };
  fs.truncate("/dx/moved", 100);
  const cut = dx.getattr(file.ino)?.size;
  const cutRead = dx.read({ ...attrOf(file.ino, dx), size: 10_000 }, 0, 10_000);
  fs.unlink("/dx/moved");
  report({
    before,
    afterWrite: afterWrite === null ? "miss" : new TextDecoder().decode(afterWrite),
    renamed: { old: renamed.old, moved: renamed.moved === file.ino },
    listedAfterRename: listedAfterRename ?? "miss",
    listedAgain,
    cut,
    cutRead: cutRead === null ? "miss" : cutRead.length,
    unlinked: { attr: dx.getattr(file.ino), name: dx.lookup(dir.ino, "moved") },
    reads: dx.counts.reads > 0,
  });
  return 0;
}

function attrOf(ino: number, dx: DxReader) {
  const a = dx.getattr(ino);
  if (!a) throw new Error(`inode ${ino} not in the attribute area`);
  return a;
}

function same(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && a.every((v, i) => v === b[i]);
}

function exists(path: string): boolean {
  try {
    fs.stat(path);
    return true;
  } catch {
    return false;
  }
}
