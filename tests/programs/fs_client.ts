/**
 * A client of the file server (servers/files/mod.ts) that calls its RPC service
 * directly, the HY path (tests/files_server_test.ts): from another node, a script
 * of every operation and of the errors each can give; reports what came back.
 *
 *   fs_client script     the whole script; one RESULT
 */

import { RpcClient } from "../../userland/lib/mod.ts";
import {
  decodeAttr,
  decodeDirPage,
  FILES_SERVICE,
  FileStub,
  replyPayload,
  Request,
  ROOT_INO,
} from "../../servers/files/protocol.ts";
import { outcome, report } from "./report.ts";

/** Byte i of the pattern the tests check with debugfs. */
export function patternByte(i: number): number {
  return (i * 13 + 5) & 0xff;
}

export default function main(): number {
  const c = RpcClient.connect(FILES_SERVICE, { hint: 0 });
  const call = (op: string, stub: number, r: Request) => replyPayload(c.call(stub, r.bytes()), op);
  const code = outcome;
  const attr = (b: Uint8Array, at = 0) => decodeAttr(b, at);
  const mkdir = (dir: number, name: string) =>
    attr(call("mkdir", FileStub.MKDIR, new Request().u32(dir).u32(0o755).tail(name)));
  const create = (dir: number, name: string, exclusive = 1) =>
    attr(
      call("create", FileStub.CREATE, new Request().u32(dir).u32(0o644).u8(exclusive).tail(name)),
      1,
    );
  const write = (ino: number, off: number, data: Uint8Array) =>
    new DataView(
      call("write", FileStub.WRITE, new Request().u32(ino).f64(off).tail(data)).slice().buffer,
    )
      .getUint32(0, true);
  const read = (ino: number, off: number, n: number) =>
    call("read", FileStub.READ, new Request().u32(ino).f64(off).u32(n)).slice();
  const lookup = (dir: number, name: string) =>
    attr(call("lookup", FileStub.LOOKUP, new Request().u32(dir).tail(name)));
  const readdir = (dir: number) => {
    const page = decodeDirPage(call("readdir", FileStub.READDIR, new Request().u32(dir).u32(0)));
    return page.entries.map((e) => e.name).sort();
  };

  const docs = mkdir(ROOT_INO, "docs");
  const a = create(docs.ino, "a.txt");
  const hello = new TextEncoder().encode("hello");
  const pattern = new Uint8Array(10_000).map((_, i) => patternByte(i));
  const wrote = [write(a.ino, 0, hello), write(a.ino, 5000, pattern)];
  const back = read(a.ino, 0, 20_000);
  const same = back.length === 15_000 && back.subarray(0, 5).every((v, i) => v === hello[i]) &&
    back.subarray(5, 5000).every((v) => v === 0) &&
    back.subarray(5000).every((v, i) => v === pattern[i]);
  const big = create(ROOT_INO, "big");
  const mib = new Uint8Array(1 << 20).map((_, i) => patternByte(i));
  const bigWrote = write(big.ino, 0, mib);
  const bigBack = read(big.ino, 0, 1 << 20);
  const reopened = create(docs.ino, "a.txt", 0); // not exclusive: the file there
  const errors = {
    missing: code(() => lookup(docs.ino, "nope")),
    exclusive: code(() => create(docs.ino, "a.txt")),
    mkdirTwice: code(() => mkdir(ROOT_INO, "docs")),
    notEmpty: code(() => call("rmdir", FileStub.RMDIR, new Request().u32(ROOT_INO).tail("docs"))),
    unlinkDir: code(() =>
      call("unlink", FileStub.UNLINK, new Request().u32(ROOT_INO).tail("docs"))
    ),
    longName: code(() => create(docs.ino, "x".repeat(256))),
    notDir: code(() => lookup(a.ino, "x")),
    malformed: code(() => replyPayload(c.call(FileStub.READ, new Uint8Array(3)), "read")),
    badInode: code(() => call("getattr", FileStub.GETATTR, new Request().u32(999_999))),
    readDir: code(() => read(docs.ino, 0, 10)),
  };
  call(
    "rename",
    FileStub.RENAME,
    new Request().u32(docs.ino).u32(docs.ino).u16(5).tail(new TextEncoder().encode("a.txtb.txt")),
  );
  const renamed = lookup(docs.ino, "b.txt");
  const truncated = attr(
    call("truncate", FileStub.TRUNCATE, new Request().u32(renamed.ino).f64(12_000)),
  );
  call("fsync", FileStub.FSYNC, new Request().u32(renamed.ino));
  const fsStat = new DataView(call("statfs", FileStub.STATFS, new Request()).slice().buffer);
  report({
    wrote,
    same,
    size: renamed.size, // before the truncate
    bigWrote,
    bigSame: bigBack.length === mib.length && bigBack.every((v, i) => v === mib[i]),
    reopened: { created: reopened.ino === a.ino },
    errors,
    names: readdir(docs.ino),
    truncated: truncated.size,
    version: renamed.version > 1,
    blockSize: fsStat.getFloat64(0, true),
  });
  c.close();
  return 0;
}
