/**
 * The file service's protocol (servers/files/mod.ts and its clients, userland/lib/fs/
 * files.ts): the HY path
 * of 000 §5.1, a request written with notification and answered by return writes,
 * which is what the RPC library (userland/lib/ipc/rpc.ts) does over message
 * segments. Stub numbers and the marshalling both ends share.
 *
 * Every reply starts with a status byte: 0, or an error number (Errno) followed by
 * the server's message in UTF-8. Integers are little-endian; offsets and sizes are
 * float64 (exact to 2^53); names UTF-8.
 *
 *   stub           arguments                                  result (after status 0)
 *   LOOKUP   = 1   u32 dir, name                              attr
 *   GETATTR  = 2   u32 ino                                    attr
 *   READ     = 3   u32 ino, f64 offset, u32 length            data (short at end of file)
 *   WRITE    = 4   u32 ino, f64 offset (-1: at the end), data  u32 written, attr
 *   CREATE   = 5   u32 dir, u32 mode, u8 exclusive, name      u8 created, attr
 *   MKDIR    = 6   u32 dir, u32 mode, name                    attr
 *   UNLINK   = 7   u32 dir, name                              -
 *   RMDIR    = 8   u32 dir, name                              -
 *   RENAME   = 9   u32 from dir, u32 to dir, u16 from length, from name, to name   -
 *   READDIR  = 10  u32 dir, u32 first entry                   u16 count, u8 more,
 *                                                             count × (u32 ino, u8 type,
 *                                                             u8 length, name)
 *   TRUNCATE = 11  u32 ino, f64 size                          attr
 *   FSYNC    = 12  u32 ino                                    -
 *   STATFS   = 13  -                                          usage: f64 × 5,
 *                                                             block size, blocks, free blocks,
 *                                                             inodes, free inodes
 *   LOAD     = 14  -                                          load: f64 × 3,
 *                                                             calls served, the server node's
 *                                                             kernelBusyUs, the server's cpuUs
 *   READ_BULK  = 15  u32 ino, f64 offset, u32 length           u32 read: the bytes are at the
 *                                                             start of the caller's buffer
 *   WRITE_BULK = 16  u32 ino, f64 offset (-1: at the end), u32 length (the bytes are at
 *                    the start of the caller's buffer)         u32 written, attr
 *
 * The BULK calls move their bytes by remote memory (servers/files/bulk.ts): the
 * caller's buffer is the segment it exports on its node as bulkBufferName(node,
 * pid), to the file server alone. The server takes the name from who called, never
 * from the request, so no caller can have it read or write another's buffer.
 *
 * attr (ATTR_BYTES): u32 ino, u32 mode, f64 size, u32 links, u32 mtime, u32 ctime,
 * u32 atime, u32 generation, u32 version. `version` counts the server's changes to
 * the inode since it mounted: a cached attribute with the same version is current.
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import { RPC_MAX_PAYLOAD } from "../ipc/rpc.ts";

/**
 * The names of the file server's four cache areas (servers/files/cache_area.ts),
 * which DX readers import: attributes, names, data blocks, directory pages.
 */
export const CACHE_AREA_NAMES = ["files.attr", "files.names", "files.data", "files.dirs"] as const;

/** The name of the bulk buffer of process `pid` on node `node`. */
export function bulkBufferName(node: number, pid: number): string {
  return `files.bulk.${node}.${pid}`;
}

/** The service name the file server exports (`rpc.files`). */
export const FILES_SERVICE = "files";

/**
 * The service name of node `node`'s file clerk (`rpc.files.clerk.N`): the same
 * protocol, served to that node's processes (servers/files/clerk.ts).
 */
export function clerkService(node: number): string {
  return `files.clerk.${node}`;
}

export const FileStub = {
  LOOKUP: 1,
  GETATTR: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  MKDIR: 6,
  UNLINK: 7,
  RMDIR: 8,
  RENAME: 9,
  READDIR: 10,
  TRUNCATE: 11,
  FSYNC: 12,
  STATFS: 13,
  LOAD: 14,
  READ_BULK: 15,
  WRITE_BULK: 16,
} as const;

/** The root directory's inode. */
export const ROOT_INO = 2;
/** The most bytes one READ or WRITE moves (a call's arguments or result go in pieces). */
export const MAX_TRANSFER = 1024 * 1024;
/** From this many bytes on, the file API reads and writes with READ_BULK and WRITE_BULK. */
export const BULK_MIN = 64 * 1024;

/** A file's attributes as the server gives them. */
export interface FileAttr {
  ino: number;
  mode: number;
  size: number;
  links: number;
  mtime: number;
  ctime: number;
  atime: number;
  generation: number;
  version: number;
}

export const ATTR_BYTES = 40;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeAttr(a: FileAttr, out: Uint8Array, at = 0): number {
  const v = new DataView(out.buffer, out.byteOffset + at, ATTR_BYTES);
  v.setUint32(0, a.ino, true);
  v.setUint32(4, a.mode, true);
  v.setFloat64(8, a.size, true);
  v.setUint32(16, a.links, true);
  v.setUint32(20, a.mtime, true);
  v.setUint32(24, a.ctime, true);
  v.setUint32(28, a.atime, true);
  v.setUint32(32, a.generation, true);
  v.setUint32(36, a.version, true);
  return at + ATTR_BYTES;
}

export function decodeAttr(b: Uint8Array, at = 0): FileAttr {
  if (b.length < at + ATTR_BYTES) throw new RangeError(`an attribute of ${b.length - at} bytes`);
  const v = new DataView(b.buffer, b.byteOffset + at, ATTR_BYTES);
  return {
    ino: v.getUint32(0, true),
    mode: v.getUint32(4, true),
    size: v.getFloat64(8, true),
    links: v.getUint32(16, true),
    mtime: v.getUint32(20, true),
    ctime: v.getUint32(24, true),
    atime: v.getUint32(28, true),
    generation: v.getUint32(32, true),
    version: v.getUint32(36, true),
  };
}

/** What STATFS answers: the file system's size and what is free. */
export interface FsUsage {
  blockSize: number;
  blocks: number;
  freeBlocks: number;
  inodes: number;
  freeInodes: number;
}

/** A record of float64 fields, in `fields`' order: its two directions. */
function f64Record<R extends Record<K, number>, K extends string>(
  fields: readonly K[],
  what: string,
) {
  const bytes = 8 * fields.length;
  return {
    encode(r: R, out: Uint8Array, at = 0): number {
      const v = new DataView(out.buffer, out.byteOffset + at, bytes);
      fields.forEach((f, i) => v.setFloat64(8 * i, r[f], true));
      return at + bytes;
    },
    decode(b: Uint8Array, at = 0): R {
      if (b.length < at + bytes) throw new RangeError(`${what} of ${b.length - at} bytes`);
      const v = new DataView(b.buffer, b.byteOffset + at, bytes);
      const r = {} as Record<K, number>;
      fields.forEach((f, i) => r[f] = v.getFloat64(8 * i, true));
      return r as R;
    },
  };
}

const USAGE = f64Record<FsUsage, keyof FsUsage>(
  ["blockSize", "blocks", "freeBlocks", "inodes", "freeInodes"],
  "a usage",
);
export const encodeUsage = USAGE.encode;
export const decodeUsage = USAGE.decode;

/**
 * What LOAD answers: the work the server and its node have done, for measuring a
 * server's load per operation (`info`'s `kernelBusyUs` and `cpuUs`: -1 where the
 * node does not measure them).
 */
export interface ServerLoad {
  /** Calls the server has served (this LOAD included). */
  calls: number;
  kernelBusyUs: number;
  cpuUs: number;
}

const LOAD = f64Record<ServerLoad, keyof ServerLoad>(["calls", "kernelBusyUs", "cpuUs"], "a load");
export const encodeLoad = LOAD.encode;
export const decodeLoad = LOAD.decode;

/** One directory entry of a READDIR reply (type: the ext2 file type, 2 a directory, 1 a file). */
export interface DirPageEntry {
  ino: number;
  type: number;
  name: string;
}

/**
 * A READDIR reply, status byte included: the entries from `first` on, as many as
 * fit in `limit` bytes (MAX_TRANSFER: a reply's; a cache slot's is less), and
 * whether more follow.
 */
export function encodeDirPage(
  all: readonly DirPageEntry[],
  first: number,
  limit = MAX_TRANSFER,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let bytes = 4, count = 0;
  // As many as fit, and no more than the u16 count can say.
  for (let i = first; i < all.length && count < 0xffff; i++, count++) {
    const name = enc.encode(all[i].name);
    if (bytes + 6 + name.length > limit) break;
    const e = new Uint8Array(6 + name.length);
    new DataView(e.buffer).setUint32(0, all[i].ino, true);
    e[4] = all[i].type;
    e[5] = name.length;
    e.set(name, 6);
    parts.push(e);
    bytes += e.length;
  }
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint16(1, count, true);
  out[3] = first + count < all.length ? 1 : 0;
  let at = 4;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A READDIR reply's payload (after its status byte). */
export function decodeDirPage(payload: Uint8Array): { entries: DirPageEntry[]; more: boolean } {
  const r = new Reader(payload);
  const count = r.u16("count"), more = r.u8("more") === 1;
  const entries: DirPageEntry[] = [];
  for (let i = 0; i < count; i++) {
    const ino = r.u32("ino"), type = r.u8("type");
    entries.push({ ino, type, name: dec.decode(r.take(r.u8("name length"), "name")) });
  }
  return { entries, more };
}

/** True if a mode is a directory's. */
export function isDirMode(mode: number): boolean {
  return (mode & 0o170000) === 0o040000;
}

/** True if a mode is a regular file's. */
export function isFileMode(mode: number): boolean {
  return (mode & 0o170000) === 0o100000;
}

/** A request's bytes: fixed fields then, optionally, trailing bytes (a name, data). */
export class Request {
  readonly #parts: number[] = [];
  readonly #kinds: ("u8" | "u16" | "u32" | "f64")[] = [];
  #tail: Uint8Array = new Uint8Array(0);
  u8(v: number): this {
    return this.#push("u8", v);
  }
  u16(v: number): this {
    return this.#push("u16", v);
  }
  u32(v: number): this {
    return this.#push("u32", v);
  }
  f64(v: number): this {
    return this.#push("f64", v);
  }
  /** Bytes after the fixed fields (a name or data); `text` is UTF-8 encoded. */
  tail(bytes: Uint8Array | string): this {
    this.#tail = typeof bytes === "string" ? enc.encode(bytes) : bytes;
    return this;
  }
  #push(kind: "u8" | "u16" | "u32" | "f64", v: number): this {
    this.#kinds.push(kind);
    this.#parts.push(v);
    return this;
  }
  bytes(): Uint8Array {
    const size = { u8: 1, u16: 2, u32: 4, f64: 8 };
    const head = this.#kinds.reduce((n, k) => n + size[k], 0);
    const out = new Uint8Array(head + this.#tail.length);
    const v = new DataView(out.buffer);
    let at = 0;
    this.#kinds.forEach((k, i) => {
      const x = this.#parts[i];
      if (k === "u8") v.setUint8(at, x);
      else if (k === "u16") v.setUint16(at, x, true);
      else if (k === "u32") v.setUint32(at, x, true);
      else v.setFloat64(at, x, true);
      at += size[k];
    });
    out.set(this.#tail, head);
    return out;
  }
}

/** Reads a request's fields in order; a short request is a RangeError naming the field. */
export class Reader {
  readonly #b: Uint8Array;
  readonly #v: DataView;
  #at = 0;
  constructor(b: Uint8Array) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  #need(n: number, what: string): void {
    if (this.#at + n > this.#b.length) {
      throw new RangeError(`a request of ${this.#b.length} bytes has no ${what} at ${this.#at}`);
    }
  }
  u8(what = "u8"): number {
    this.#need(1, what);
    return this.#v.getUint8(this.#at++);
  }
  u16(what = "u16"): number {
    this.#need(2, what);
    const x = this.#v.getUint16(this.#at, true);
    this.#at += 2;
    return x;
  }
  u32(what = "u32"): number {
    this.#need(4, what);
    const x = this.#v.getUint32(this.#at, true);
    this.#at += 4;
    return x;
  }
  f64(what = "f64"): number {
    this.#need(8, what);
    const x = this.#v.getFloat64(this.#at, true);
    this.#at += 8;
    return x;
  }
  /** `n` bytes (a view into the request). */
  take(n: number, what = "bytes"): Uint8Array {
    this.#need(n, what);
    const out = this.#b.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  /** The rest (a view). */
  rest(): Uint8Array {
    const out = this.#b.subarray(this.#at);
    this.#at = this.#b.length;
    return out;
  }
  /** The rest as text. */
  text(): string {
    return dec.decode(this.rest());
  }
}

/** A failed reply: the status byte, then the message. */
export function errorReply(errno: number, message: string): Uint8Array {
  const text = enc.encode(message).subarray(0, RPC_MAX_PAYLOAD - 1);
  const out = new Uint8Array(1 + text.length);
  out[0] = errno;
  out.set(text, 1);
  return out;
}

/**
 * The payload of a reply (after its status byte); a failed one throws SysError
 * with the server's errno and message, `op` naming the call.
 */
export function replyPayload(reply: Uint8Array, op: string): Uint8Array {
  if (reply.length === 0) throw new SysError(Errno.EIO, op, "an empty reply from the file server");
  if (reply[0] !== 0) {
    const message = dec.decode(reply.subarray(1));
    throw new SysError(reply[0], op, message || undefined);
  }
  return reply.subarray(1);
}
