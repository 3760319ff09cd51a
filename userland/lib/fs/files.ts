/**
 * The file API (issue 14): POSIX-style calls on the cluster's one file system, the
 * same namespace from every node. A process's descriptors (the file, its offset and
 * how it was opened) live here, in the process; every operation is a call to the
 * file service (protocol.ts) by inode number, paths resolved a component at a time.
 * The calls go to this node's file clerk (servers/files/clerk.ts), which reads by
 * DX and asks the server over HY, where the node runs one (every node of a boot
 * with a file system does); else, or after `useClerk(false)` or `connect`, straight
 * to the file server (the boot's, node 0, or the one `connect` names) over HY. A read or write of BULK_MIN bytes
 * or more goes to the server itself either way, its bytes moved by remote memory
 * through the process's bulk buffer (bulk.ts), not in the call's messages.
 *
 * Errors are SysError with POSIX codes: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY,
 * EBADF (a descriptor not open, or not open for that), ENOSPC, ENAMETOOLONG, EROFS,
 * EINVAL, EIO (the server failed or cannot be reached).
 *
 * @example
 * ```ts
 * import { fs, O } from "../lib/mod.ts";
 *
 * export default function main(): number {
 *   const fd = fs.open("/notes.txt", O.WRITE | O.CREATE | O.TRUNCATE);
 *   fs.write(fd, "hello\n");
 *   fs.fsync(fd); // durable on the disk when it returns
 *   fs.close(fd);
 *   return 0;
 * }
 * ```
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { RpcClient } from "../ipc/rpc.ts";
import { BulkBuffer } from "./bulk.ts";
import { waitForName } from "../sys/names.ts";
import { info } from "../sys/process.ts";
import { closeDescriptor, importSegment, nodeId } from "../sys/remote.ts";
import {
  BULK_MIN,
  clerkService,
  decodeAttr,
  decodeDirPage,
  decodeUsage,
  type FileAttr,
  FILES_SERVICE,
  FileStub,
  type FsUsage,
  isDirMode,
  isFileMode,
  MAX_TRANSFER,
  replyPayload,
  Request,
  ROOT_INO,
} from "./protocol.ts";

/** `open` flags (combine with |). One of READ and WRITE, or both, is needed. */
export const O = {
  READ: 1,
  WRITE: 2,
  /** Make the file if it is missing. */
  CREATE: 4,
  /** With CREATE: EEXIST if it is there. */
  EXCLUSIVE: 8,
  /** Cut it to empty (it must be opened for WRITE). */
  TRUNCATE: 16,
  /** Every write goes to the end, wherever the offset is. */
  APPEND: 32,
} as const;

/** What `stat` and `fstat` return. */
export interface FileStat {
  ino: number;
  type: "file" | "dir" | "other";
  mode: number;
  size: number;
  links: number;
  /** Seconds since the epoch. */
  mtime: number;
  ctime: number;
  atime: number;
  /** The server's count of changes to the file since it mounted. */
  version: number;
}

export type { FsUsage };

/** One entry of `readdir` ("." and ".." left out). */
export interface DirEntryInfo {
  name: string;
  ino: number;
  type: "file" | "dir" | "other";
}

interface Descriptor {
  ino: number;
  offset: number;
  flags: number;
}

/** How long the first call waits for the file server to be there (ms). */
const CONNECT_MS = 5_000;
/** How long a call may take before it fails EIO (a clerk may wait for the server). */
const CALL_MS = 10_000;

const enc = new TextEncoder();
const descriptors = new Map<number, Descriptor>();
let nextFd = 3;
let client: RpcClient | null = null;
/** True while `client` is the file server's own connection (not the clerk's). */
let clientIsServer = false;
/** The server's connection for bulk calls while `client` is the clerk's. */
let bulkClient: RpcClient | null = null;
let bulk: BulkBuffer | null = null;
let serverNode = 0;
/** True once `connect` named a server: the clerk is not used. */
let direct = false;
/** False once `useClerk(false)` asked for the server itself. */
let viaClerk = true;
/** The file server's node as a boot with a file system tells every node, or -1. */
let bootServer: number | undefined;

function bootServerNode(): number {
  return bootServer ??= Number(info("stats").fileServerNode ?? -1);
}

/**
 * Sends the calls from now on straight to the file server on `node`, not through
 * this node's file clerk; closes the old connection.
 */
export function connect(node: number): void {
  if (!Number.isInteger(node) || node < 0) {
    throw new SysError(Errno.EINVAL, "fs.connect", `node ${node}`);
  }
  disconnect();
  serverNode = node;
  direct = true;
}

/** Drops the connections and the bulk buffer: the next call makes them again. */
function disconnect(): void {
  client?.close();
  bulkClient?.close();
  bulk?.close();
  client = bulkClient = bulk = null;
}

function rpc(): RpcClient {
  if (!client && !direct && bootServerNode() >= 0) serverNode = bootServerNode();
  if (!client && viaClerk && !direct) client = clerk();
  if (!client) {
    client = toServer();
    clientIsServer = true;
  }
  return client;
}

/** A new connection to the file server. */
function toServer(): RpcClient {
  try {
    // The file server may be starting (init starts it with the shell): wait for it.
    closeDescriptor(waitForName(`rpc.${FILES_SERVICE}`, CONNECT_MS, { hint: serverNode }).desc);
    return RpcClient.connect(FILES_SERVICE, { hint: serverNode, timeoutMs: CALL_MS });
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    throw new SysError(
      Errno.EIO,
      "fs",
      `no file server on node ${serverNode}: ${e.detail || e.code}`,
    );
  }
}

/**
 * Sends the calls from now on through this node's file clerk (servers/files/clerk.ts:
 * reads by DX, the rest over HY), if it runs one, as they go by default; `false`
 * sends them straight to the server.
 */
export function useClerk(on = true): void {
  disconnect();
  viaClerk = on;
  direct = false;
}

/**
 * The node's file clerk, if it runs one; null otherwise. Every node of a boot with a
 * file system runs one (init starts it with the shell): there it is waited for.
 */
function clerk(): RpcClient | null {
  const name = clerkService(nodeId());
  try {
    const found = bootServerNode() >= 0
      ? waitForName(`rpc.${name}`, CONNECT_MS, { hint: nodeId() })
      : importSegment(`rpc.${name}`);
    closeDescriptor(found.desc);
  } catch (e) {
    if (e instanceof SysError && ["ENOENT", "ESTALE", "EIO"].includes(e.code)) return null;
    throw e;
  }
  const c = RpcClient.connect(name, { hint: nodeId(), timeoutMs: CALL_MS });
  clientIsServer = false;
  return c;
}

/** A call to the file service; a failed reply throws its SysError, a lost server EIO. */
function call(op: string, stub: number, r: Request, bulkCall = false): Uint8Array {
  let reply: Uint8Array, to: RpcClient | null = null;
  try {
    // Bulk calls are the server's, whose process alone may use the bulk buffer.
    to = !bulkCall ? rpc() : clientIsServer && client ? client : (bulkClient ??= toServer());
    reply = to.call(stub, r.bytes());
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    // The next call connects again. A clerk's failure leaves the server's
    // connection and the bulk buffer (exported to the server) as they are.
    if (to !== null && to === client && !clientIsServer) {
      client.close();
      client = null;
    } else disconnect();
    throw new SysError(Errno.EIO, `fs.${op}`, `the file server: ${e.message}`);
  }
  try {
    return replyPayload(reply, `fs.${op}`);
  } catch (e) {
    // The server could not use the bulk buffer: a new one for the next call.
    if (bulkCall && e instanceof SysError && e.code === "EIO") dropBulk();
    throw e;
  }
}

/** Forgets the bulk buffer (revoked: the next bulk call makes another). */
function dropBulk(): void {
  bulk?.close();
  bulk = null;
}

/**
 * The process's bulk buffer (made at the first bulk call, again after a failure),
 * or null if it cannot be made (the calls then carry their bytes).
 */
function bulkBuffer(): BulkBuffer | null {
  if (!bulk) {
    rpc(); // the server is there (or EIO)
    try {
      bulk = new BulkBuffer(serverNode);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      return null; // its name is taken, or memory is short: no bulk for this call
    }
  }
  return bulk;
}

function typeOf(mode: number): "file" | "dir" | "other" {
  return isDirMode(mode) ? "dir" : isFileMode(mode) ? "file" : "other";
}

function statOf(a: FileAttr): FileStat {
  return {
    ino: a.ino,
    type: typeOf(a.mode),
    mode: a.mode,
    size: a.size,
    links: a.links,
    mtime: a.mtime,
    ctime: a.ctime,
    atime: a.atime,
    version: a.version,
  };
}

/** The components of a path (absolute, or relative to "/": there is no working directory). */
function parts(path: string): string[] {
  if (typeof path !== "string" || path === "") {
    throw new SysError(Errno.ENOENT, "fs", `an empty path`);
  }
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

/**
 * The attributes of the inode `names` lead to from the root: a LOOKUP a component
 * (the server says ENOTDIR for one that is not a directory), or the root's GETATTR.
 */
function walk(names: string[], op: string): FileAttr {
  if (names.length === 0) {
    return decodeAttr(call(op, FileStub.GETATTR, new Request().u32(ROOT_INO)));
  }
  let ino = ROOT_INO, a: FileAttr | undefined;
  for (const name of names) {
    a = decodeAttr(call(op, FileStub.LOOKUP, new Request().u32(ino).tail(name)));
    ino = a.ino;
  }
  return a!;
}

/** The directory a path's last component is in, and that component. */
function parentOf(path: string, op: string): { dir: number; name: string } {
  const p = parts(path);
  const name = p.pop();
  if (name === undefined || name === "..") {
    throw new SysError(Errno.EINVAL, `fs.${op}`, `${JSON.stringify(path)} names no entry`);
  }
  const dir = walk(p, op);
  if (!isDirMode(dir.mode)) {
    throw new SysError(Errno.ENOTDIR, `fs.${op}`, `in ${JSON.stringify(path)}`);
  }
  return { dir: dir.ino, name };
}

function descriptor(fd: number, op: string): Descriptor {
  const d = descriptors.get(fd);
  if (!d) throw new SysError(Errno.EBADF, `fs.${op}`, `descriptor ${fd} is not open`);
  return d;
}

/** Opens a file (not a directory for WRITE); returns its descriptor. */
export function open(path: string, flags: number = O.READ, mode = 0o644): number {
  if (!(flags & (O.READ | O.WRITE)) || flags & ~0x3f) {
    throw new SysError(Errno.EINVAL, "fs.open", `flags ${flags}`);
  }
  let a: FileAttr;
  if (flags & O.CREATE) {
    const { dir, name } = parentOf(path, "open");
    const r = call(
      "open",
      FileStub.CREATE,
      new Request().u32(dir).u32(mode).u8(flags & O.EXCLUSIVE ? 1 : 0).tail(name),
    );
    a = decodeAttr(r, 1);
  } else a = walk(parts(path), "open");
  if (isDirMode(a.mode) && flags & O.WRITE) {
    throw new SysError(Errno.EISDIR, "fs.open", `${JSON.stringify(path)} is a directory`);
  }
  if (flags & O.TRUNCATE) {
    if (!(flags & O.WRITE)) throw new SysError(Errno.EINVAL, "fs.open", "TRUNCATE without WRITE");
    if (a.size > 0) call("open", FileStub.TRUNCATE, new Request().u32(a.ino).f64(0));
  }
  const fd = nextFd++;
  descriptors.set(fd, { ino: a.ino, offset: 0, flags });
  return fd;
}

export function close(fd: number): void {
  descriptor(fd, "close");
  descriptors.delete(fd);
}

/** Reads up to `length` bytes at the descriptor's offset, which moves past them. */
export function read(fd: number, length: number): Uint8Array {
  const d = descriptor(fd, "read");
  const out = pread(fd, length, d.offset);
  d.offset += out.length;
  return out;
}

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export function pread(fd: number, length: number, offset: number): Uint8Array {
  const d = descriptor(fd, "pread");
  if (!(d.flags & O.READ)) {
    throw new SysError(Errno.EBADF, "fs.read", `descriptor ${fd} is write-only`);
  }
  checkSpan("read", offset, length);
  const pieces: Uint8Array[] = [];
  let got = 0;
  while (got < length) {
    const n = Math.min(MAX_TRANSFER, length - got);
    const r = new Request().u32(d.ino).f64(offset + got).u32(n);
    let piece: Uint8Array;
    const b = n >= BULK_MIN ? bulkBuffer() : null; // the server writes the bytes into it
    if (b) {
      const reply = call("read", FileStub.READ_BULK, r, true);
      piece = b.bytes.slice(0, new DataView(reply.buffer, reply.byteOffset).getUint32(0, true));
    } else piece = call("read", FileStub.READ, r).slice();
    pieces.push(piece);
    got += piece.length;
    if (piece.length < n) break; // the end of the file
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(got);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes at the descriptor's offset (at the end with APPEND), which moves past them. */
export function write(fd: number, data: Uint8Array | string): number {
  const d = descriptor(fd, "write");
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  const { written, end } = writeAt(d, fd, bytes, d.flags & O.APPEND ? -1 : d.offset);
  d.offset = end;
  return written;
}

/** Writes at `offset`; the descriptor's offset stays. */
export function pwrite(fd: number, data: Uint8Array | string, offset: number): number {
  const d = descriptor(fd, "pwrite");
  checkSpan("write", offset, 0);
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  return writeAt(d, fd, bytes, offset).written;
}

function writeAt(d: Descriptor, fd: number, bytes: Uint8Array, offset: number) {
  if (!(d.flags & O.WRITE)) {
    throw new SysError(Errno.EBADF, "fs.write", `descriptor ${fd} is read-only`);
  }
  let written = 0, end = offset;
  do {
    const piece = bytes.subarray(written, written + MAX_TRANSFER);
    const at = offset < 0 ? -1 : offset + written;
    let r: Uint8Array;
    const b = piece.length >= BULK_MIN ? bulkBuffer() : null;
    if (b) {
      b.bytes.set(piece);
      const q = new Request().u32(d.ino).f64(at).u32(piece.length);
      r = call("write", FileStub.WRITE_BULK, q, true);
    } else r = call("write", FileStub.WRITE, new Request().u32(d.ino).f64(at).tail(piece));
    const n = new DataView(r.buffer, r.byteOffset).getUint32(0, true);
    const size = decodeAttr(r, 4).size;
    written += n;
    end = offset < 0 ? size : offset + written;
    if (n < piece.length) break; // the disk is full: what fitted is written
  } while (written < bytes.length);
  return { written, end };
}

/** Moves the offset: from the start, the current offset or the end. Returns the new one. */
export function seek(fd: number, offset: number, whence: "set" | "cur" | "end" = "set"): number {
  const d = descriptor(fd, "seek");
  const base = whence === "set" ? 0 : whence === "cur" ? d.offset : fstat(fd).size;
  const to = base + offset;
  if (!Number.isSafeInteger(to) || to < 0) {
    throw new SysError(Errno.EINVAL, "fs.seek", `offset ${to}`);
  }
  d.offset = to;
  return to;
}

export function stat(path: string): FileStat {
  return statOf(walk(parts(path), "stat"));
}

export function fstat(fd: number): FileStat {
  const d = descriptor(fd, "fstat");
  return statOf(decodeAttr(call("fstat", FileStub.GETATTR, new Request().u32(d.ino))));
}

/** The entries of a directory ("." and ".." left out), in directory order. */
export function readdir(path: string): DirEntryInfo[] {
  const dir = walk(parts(path), "readdir");
  if (!isDirMode(dir.mode)) throw new SysError(Errno.ENOTDIR, "fs.readdir", JSON.stringify(path));
  const out: DirEntryInfo[] = [];
  for (let first = 0;;) {
    const page = decodeDirPage(
      call("readdir", FileStub.READDIR, new Request().u32(dir.ino).u32(first)),
    );
    for (const { name, ino, type } of page.entries) {
      if (name !== "." && name !== "..") {
        out.push({ name, ino, type: type === 2 ? "dir" : type === 1 ? "file" : "other" });
      }
    }
    first += page.entries.length;
    if (!page.more) return out;
  }
}

export function mkdir(path: string, mode = 0o755): void {
  const { dir, name } = parentOf(path, "mkdir");
  call("mkdir", FileStub.MKDIR, new Request().u32(dir).u32(mode).tail(name));
}

export function rmdir(path: string): void {
  const { dir, name } = parentOf(path, "rmdir");
  call("rmdir", FileStub.RMDIR, new Request().u32(dir).tail(name));
}

export function unlink(path: string): void {
  const { dir, name } = parentOf(path, "unlink");
  call("unlink", FileStub.UNLINK, new Request().u32(dir).tail(name));
}

/** Renames (moves) `from` to `to`, replacing a file there (or an empty directory, for one). */
export function rename(from: string, to: string): void {
  const a = parentOf(from, "rename"), b = parentOf(to, "rename");
  const fromName = enc.encode(a.name), toName = enc.encode(b.name);
  const names = new Uint8Array(fromName.length + toName.length);
  names.set(fromName);
  names.set(toName, fromName.length);
  const r = new Request().u32(a.dir).u32(b.dir).u16(fromName.length).tail(names);
  call("rename", FileStub.RENAME, r);
}

/** Sets a file's size (shorter drops the end; longer reads as zeros). */
export function truncate(path: string, size: number): void {
  checkSpan("truncate", size, 0);
  const a = walk(parts(path), "truncate");
  call("truncate", FileStub.TRUNCATE, new Request().u32(a.ino).f64(size));
}

/** Returns once the file's data and metadata are on the disk (the disk's flush). */
export function fsync(fd: number): void {
  const d = descriptor(fd, "fsync");
  call("fsync", FileStub.FSYNC, new Request().u32(d.ino));
}

export function statfs(): FsUsage {
  return decodeUsage(call("statfs", FileStub.STATFS, new Request()));
}

/** The whole of a file. */
export function readFile(path: string): Uint8Array {
  const fd = open(path, O.READ);
  try {
    return pread(fd, fstat(fd).size, 0);
  } finally {
    close(fd);
  }
}

/** Makes (or replaces) a file holding `data`. */
export function writeFile(path: string, data: Uint8Array | string): void {
  const fd = open(path, O.WRITE | O.CREATE | O.TRUNCATE);
  try {
    write(fd, data);
  } finally {
    close(fd);
  }
}

function checkSpan(op: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new SysError(Errno.EINVAL, `fs.${op}`, `offset ${offset}, length ${length}`);
  }
}
