/**
 * The file API (userland/lib/fs/files.ts) from a process, for tests/files_api_test.ts:
 *
 *   fs_api write NODE     under /nN: files f0..f9 (fileBytes), a nested directory, an
 *                         append, a rename; fsyncs; reports what it wrote
 *   fs_api errors         every error a call can give, and the descriptor calls
 * A last argument "clerk" sends the calls through the node's file clerk.
 *
 *   fs_api step OP ARGS   one change: write PATH TEXT, rename FROM TO, unlink PATH,
 *                         mkdir PATH, pwrite PATH TEXT (at 0, nothing cut)
 *   fs_api look PATH      reads PATH twice (the first may fill the caches); reports
 *                         the second's text or error code
 *   fs_api loop           appends a record to /log and fsyncs it, again and again,
 *                         printing "SYNCED i" after each; when a call fails (the file
 *                         server was killed) reports how and how soon, then retries
 *                         until the (restarted) server takes a record again
 */

import { fs, O, println, SysError } from "../../userland/lib/mod.ts";
import { attempt, outcome, report } from "./report.ts";

/** File i's bytes, written by node `node`. */
export function fileBytes(node: number, i: number): Uint8Array {
  const n = 3000 * i + node * 17;
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (k * 29 + i * 11 + node * 3) & 0xff;
  return b;
}

const code = outcome;

export default function main(argv: string[]): number {
  // A last word "clerk": through this node's file clerk.
  const args = argv.at(-1) === "clerk" ? argv.slice(0, -1) : argv;
  if (args !== argv) fs.useClerk();
  const [mode, nodeText] = args;
  if (mode === "write") {
    const node = Number(nodeText);
    const top = `/n${node}`;
    fs.mkdir(top);
    fs.mkdir(`${top}/deep`);
    fs.mkdir(`${top}/deep/er`);
    for (let i = 0; i < 10; i++) fs.writeFile(`${top}/f${i}`, fileBytes(node, i));
    const log = fs.open(`${top}/deep/er/log`, O.WRITE | O.CREATE | O.APPEND);
    fs.write(log, "one\n");
    fs.seek(log, 0); // APPEND writes at the end all the same
    fs.write(log, "two\n");
    fs.fsync(log);
    fs.close(log);
    fs.rename(`${top}/f9`, `${top}/deep/nine`);
    const names = fs.readdir(top).map((e) => `${e.name}:${e.type}`).sort();
    report({ node, names, log: new TextDecoder().decode(fs.readFile(`${top}/deep/er/log`)) });
    return 0;
  }
  if (mode === "loop") return loop();
  if (mode === "step") return step(args.slice(1));
  if (mode === "look") {
    const path = args[1];
    attempt(() => fs.readFile(path));
    report({ look: path, got: attempt(() => new TextDecoder().decode(fs.readFile(path))) });
    return 0;
  }
  // errors
  fs.mkdir("/e");
  fs.writeFile("/e/file", "0123456789");
  const fd = fs.open("/e/file", O.READ | O.WRITE);
  const reads = [
    new TextDecoder().decode(fs.read(fd, 4)),
    new TextDecoder().decode(fs.read(fd, 4)),
    new TextDecoder().decode(fs.pread(fd, 3, 7)),
  ];
  fs.pwrite(fd, "AB", 2);
  const after = new TextDecoder().decode(fs.pread(fd, 100, 0));
  const ends = [fs.seek(fd, -2, "end"), fs.seek(fd, 1, "cur")];
  fs.close(fd);
  const ro = fs.open("/e/file", O.READ);
  const wo = fs.open("/e/file", O.WRITE);
  const st = fs.stat("/e/file");
  fs.truncate("/e/file", 3);
  report({
    reads,
    after,
    ends,
    stat: { type: st.type, size: st.size, links: st.links, mode: st.mode & 0o777 },
    truncated: fs.stat("/e/file").size,
    dir: fs.stat("/e").type,
    usage: fs.statfs().blockSize,
    errors: {
      missing: code(() => fs.open("/e/none")),
      missingDir: code(() => fs.open("/none/x", O.WRITE | O.CREATE)),
      exclusive: code(() => fs.open("/e/file", O.WRITE | O.CREATE | O.EXCLUSIVE)),
      notDir: code(() => fs.stat("/e/file/x")),
      dirForWrite: code(() => fs.open("/e", O.WRITE)),
      notEmpty: code(() => fs.rmdir("/e")),
      unlinkDir: code(() => fs.unlink("/e")),
      rmdirFile: code(() => fs.rmdir("/e/file")),
      mkdirTwice: code(() => fs.mkdir("/e")),
      longName: code(() => fs.writeFile(`/e/${"n".repeat(256)}`, "x")),
      closed: code(() => fs.read(fd, 1)),
      writeReadOnly: code(() => fs.write(ro, "x")),
      readWriteOnly: code(() => fs.read(wo, 1)),
      badFlags: code(() => fs.open("/e/file", 0)),
      negativeSeek: code(() => fs.seek(ro, -5)),
      readdirFile: code(() => fs.readdir("/e/file")),
      moveIntoItself: code(() => fs.rename("/e", "/e/inner")),
      renameMissing: code(() => fs.rename("/e/nope", "/e/x")),
    },
    fine: attempt(() => fs.readdir("/e").map((e) => e.name)),
  });
  return 0;
}

/** `fs_api loop`: records until a failure, then until the server is back. */
function loop(): number {
  const fd = fs.open("/log", O.WRITE | O.CREATE | O.APPEND);
  let i = 0;
  let failure: { code: string; ms: number } | null = null;
  for (; failure === null; i++) {
    const t0 = performance.now();
    try {
      fs.write(fd, `record ${i}\n`);
      fs.fsync(fd);
      println(`SYNCED ${i}`);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      failure = { code: e.code, ms: Math.round(performance.now() - t0) };
    }
  }
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      fs.write(fd, "after\n"); // the same descriptor: the server keeps no state of it
      fs.fsync(fd);
      break;
    } catch (e) {
      if (!(e instanceof SysError) || performance.now() > deadline) throw e;
    }
  }
  report({ failure, recovered: true });
  return 0;
}

/** `fs_api step`: one change. */
function step([op, a, b]: string[]): number {
  if (op === "write") fs.writeFile(a, b);
  else if (op === "rename") fs.rename(a, b);
  else if (op === "unlink") fs.unlink(a);
  else if (op === "mkdir") fs.mkdir(a);
  else if (op === "pwrite") {
    const fd = fs.open(a, O.WRITE);
    fs.pwrite(fd, b, 0);
    fs.close(fd);
  } else throw new Error(`step ${op}?`);
  return 0;
}
