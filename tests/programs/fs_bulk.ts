/**
 * The file API's bulk path (userland/lib/fs/bulk.ts, servers/files/bulk.ts), for
 * tests/files_api_test.ts:
 *
 *   fs_bulk write PATH      2.5 MiB (2,621,447 bytes) in one write, then read back
 *                           whole and in a pread across a piece's end; reports
 *                           whether they match
 *   fs_bulk forged          BULK calls the server must refuse: from a process with no
 *                           buffer, over MAX_TRANSFER, to a clerk; reports each one's
 *                           error code and that the server still serves
 *
 * A last argument "clerk" sends the other calls through the node's file clerk.
 */

import { fs, nodeId, O, RpcClient } from "../../userland/lib/mod.ts";
import {
  clerkService,
  FILES_SERVICE,
  FileStub,
  replyPayload,
  Request,
} from "../../servers/files/protocol.ts";
import { outcome, report } from "./report.ts";

const SIZE = 2_621_447;

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >>> 12)) & 0xff;
  return b;
}

export default function main(argv: string[]): number {
  const args = argv.at(-1) === "clerk" ? argv.slice(0, -1) : argv;
  if (args !== argv) fs.useClerk();
  const [mode, arg] = args;
  if (mode === "write") {
    const data = pattern(SIZE);
    const fd = fs.open(arg, O.READ | O.WRITE | O.CREATE | O.TRUNCATE);
    const written = fs.write(fd, data);
    fs.fsync(fd);
    const whole = fs.pread(fd, SIZE + 100, 0);
    const at = (1 << 20) - 5000;
    const part = fs.pread(fd, 200_000, at);
    fs.close(fd);
    report({
      written,
      size: fs.stat(arg).size,
      whole: whole.length === SIZE && whole.every((v, i) => v === data[i]),
      part: part.length === 200_000 && part.every((v, i) => v === data[at + i]),
    });
    return 0;
  }
  // forged: raw calls, with no bulk buffer made
  fs.writeFile("/forged", "x");
  const ino = fs.stat("/forged").ino;
  const c = RpcClient.connect(FILES_SERVICE, { hint: 0 });
  const k = RpcClient.connect(clerkService(nodeId()), { hint: nodeId() });
  const call = (to: RpcClient, stub: number, n: number) =>
    outcome(() =>
      replyPayload(to.call(stub, new Request().u32(ino).f64(0).u32(n).bytes()), "bulk")
    );
  report({
    noBuffer: call(c, FileStub.READ_BULK, 70_000),
    noBufferWrite: call(c, FileStub.WRITE_BULK, 70_000),
    tooLong: call(c, FileStub.READ_BULK, (1 << 20) + 1),
    viaClerk: call(k, FileStub.READ_BULK, 70_000),
    stillServes: new TextDecoder().decode(fs.readFile("/forged")),
  });
  c.close();
  k.close();
  return 0;
}
