/**
 * The file server (issue 14): mounts the ext2/ext3 file system on one of its node's
 * disks (ext2_fs.ts over disk_device.ts) and serves it under the RPC service "files"
 * (protocol.ts): the HY path of 000 §5.1, a request written with notification and
 * answered by return writes. Clerks on every node (to come) call it on a miss in
 * their caches; until then programs may call it directly.
 *
 *   servers/files/mod.ts [UNIT]     (disk UNIT of its node; default: the node's file
 *                                    system disk, boot's first --disk)
 *
 * A disk with no usable file system is said so and the server ends with status 0
 * (init does not start it again: the disk may be a raw one for a driver).
 *
 * The running transaction commits when a client fsyncs, when it has grown to 256
 * blocks, and after COMMIT_MS with changes pending (ext3's commit interval); at
 * SIGTERM the server unmounts (a checkpoint, the file system marked clean) and ends.
 * A request that cannot be parsed, names a bad inode or fails in the file system is
 * answered with its error; the server goes on.
 */

import {
  args,
  bind,
  CreateSegment,
  Errno,
  exportSegment,
  info,
  nodeId,
  pin,
  println,
  type Procedure,
  Rights,
  RpcServer,
  Sig,
  signalAddress,
  SignalHandler,
  SysError,
  view32,
} from "../../userland/lib/mod.ts";
import { DiskError } from "./block_device.ts";
import { BulkMover } from "./bulk.ts";
import { DiskDevice } from "./disk_device.ts";
import { Ext2, FsError, type Stat } from "./ext2_fs.ts";
import { AREAS, type AreaShape, BLOCK, CacheAreas } from "./cache_area.ts";
import {
  bulkBufferName,
  encodeAttr,
  encodeDirPage,
  encodeLoad,
  encodeUsage,
  errorReply,
  type FileAttr,
  FILES_SERVICE,
  FileStub,
  MAX_TRANSFER,
  Reader,
} from "./protocol.ts";

/** Reads up to this long put their blocks in the data area (a bulk read would churn it). */
const DX_READ_MAX = 64 * 1024;
/** Writes over this many blocks drop theirs from the data area instead of rewriting them. */
const DX_WRITE_SPAN = 16;

/** How long changes wait for a commit when nobody fsyncs (ext3's default: 5 s). */
const COMMIT_MS = 5_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

export default function main(): number {
  const unit = Number(args()[0] ?? info("stats").fileDisk);
  let fs: Ext2;
  let dev: DiskDevice | null = null;
  try {
    dev = DiskDevice.attach(unit);
    fs = Ext2.mount(dev);
  } catch (e) {
    println(`files: cannot mount disk ${unit} of node ${nodeId()}: ${(e as Error).message}`);
    // A disk with no file system (a raw disk for a driver) is not an error to retry:
    // the server ends as done, and init does not start it again.
    return dev !== null && e instanceof FsError && e.code === "EINVAL" ? 0 : 1;
  }
  let areas: CacheAreas;
  try {
    areas = new CacheAreas(...AREAS.map(exportArea) as [
      Int32Array,
      Int32Array,
      Int32Array,
      Int32Array,
    ]);
  } catch (e) {
    fs.unmount();
    println(`files: cannot export the cache areas: ${(e as Error).message}`);
    return 1;
  }
  const served = new FileService(fs, areas);
  let server: RpcServer;
  try {
    server = new RpcServer(FILES_SERVICE, served.procedures());
  } catch (e) {
    fs.unmount();
    if (e instanceof SysError && e.code === "EEXIST") {
      println(`files: a file server already runs on node ${nodeId()}`);
      return 1;
    }
    throw e;
  }
  let running = true;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => running = false);
  const usage = fs.statfs();
  println(
    `files: serving disk ${unit} of node ${nodeId()}: ${usage.blocks} blocks, ` +
      `${usage.freeBlocks} free`,
  );
  let lastCommit = performance.now();
  server.serve(() => {
    if (fs.pendingBlocks > 0 && performance.now() - lastCommit >= COMMIT_MS) {
      fs.commit();
      lastCommit = performance.now();
    }
    return !running;
  });
  fs.unmount();
  println("files: unmounted");
  // No server.close(): its revoke would wait for the name clerk, which a shutdown
  // may have ended already; the kernel ends the export with the process.
  return 0;
}

/**
 * A cache area's segment: made, bound, pinned (a view of it must never be paged
 * out) and exported read-only under its name; its words, for the writer.
 */
function exportArea(shape: AreaShape): Int32Array {
  const bytes = shape.slots * shape.bytes;
  const seg = CreateSegment(bytes);
  const base = bind(seg);
  pin(base, bytes);
  exportSegment(seg, shape.name, Rights.READ);
  return view32(base, bytes / 4, true);
}

/**
 * The procedures over one mounted file system, the versions of its inodes, and the
 * cache areas (cache_area.ts) it keeps current for DX readers, if it has them.
 */
export class FileService {
  readonly fs: Ext2;
  readonly areas: CacheAreas | null;
  /** Calls served (LOAD reports it). */
  calls = 0;
  /** Changes to each inode since mount (the attribute's `version`); absent: 1. */
  readonly #versions = new Map<number, number>();

  constructor(fs: Ext2, areas: CacheAreas | null = null) {
    this.fs = fs;
    this.areas = areas;
  }

  /**
   * Inode `ino` changed: a new version, and its attribute slot rewritten (or
   * emptied). Returns its attributes now, or null if it was freed.
   */
  #changed(ino: number): FileAttr | null {
    this.#versions.set(ino, (this.#versions.get(ino) ?? 1) + 1);
    this.areas?.dropDir(ino); // a directory's pages: its entries (or "..") changed
    let a: FileAttr | null = null;
    try {
      a = this.#attrOf(this.fs.stat(ino));
    } catch (e) {
      if (!(e instanceof FsError && e.code === "ENOENT")) throw e;
    }
    if (a) this.areas?.putAttr(a);
    else this.areas?.dropAttr(ino); // freed (its number may come back)
    return a;
  }

  /** A reply: status 0, then the attributes `a` at `at` (what lies between is the caller's). */
  #encodedAttr(a: FileAttr, reply: Uint8Array, at = 1): number {
    reply[0] = 0;
    return encodeAttr(a, reply, at);
  }

  #attrOf(s: Stat): FileAttr {
    return {
      ino: s.ino,
      mode: s.mode,
      size: s.size,
      links: s.links,
      mtime: s.mtime,
      ctime: s.ctime,
      atime: s.atime,
      generation: s.generation,
      version: this.#versions.get(s.ino) ?? 1,
    };
  }

  /** A reply: status 0, then the attributes of `ino` at `at` (what lies between is the caller's). */
  #attrReply(ino: number, reply: Uint8Array, at = 1): number {
    const a = this.#attrOf(this.fs.stat(ino));
    this.areas?.putAttr(a);
    return this.#encodedAttr(a, reply, at);
  }

  /** The blocks [first, end) of `ino` into the data area, as the file now holds them. */
  #cacheBlocks(ino: number, first: number, end: number): void {
    const areas = this.areas;
    if (!areas || end <= first) return;
    const s = this.fs.stat(ino);
    const bytes = this.fs.read(ino, first * BLOCK, (end - first) * BLOCK);
    for (let b = first; b < end && (b - first) * BLOCK < bytes.length; b++) {
      const at = (b - first) * BLOCK;
      areas.putData(ino, s.generation, b, bytes.subarray(at, Math.min(at + BLOCK, bytes.length)));
    }
  }

  /** WRITE's work: `data` at `offset` (-1: at the end); the reply's written count and attributes. */
  #write(ino: number, offset: number, data: Uint8Array, reply: Uint8Array): number {
    const fs = this.fs;
    // -1: at the end, as the server sees it (O_APPEND, atomic here).
    const at = offset === -1 ? fs.stat(ino).size : offset;
    const n = fs.write(ino, at, data);
    // Written through: a block the data area holds shows the new bytes. The blocks
    // change before the attribute's version does, so a reader that sees the new
    // version never finds the old bytes (a clerk caches blocks by version).
    if (this.areas && n > 0) {
      const first = Math.floor(at / BLOCK), end = Math.ceil((at + n) / BLOCK);
      if (end - first <= DX_WRITE_SPAN) this.#cacheBlocks(ino, first, end);
      else this.areas.dropData(ino, first, end);
    }
    const a = this.#changed(ino) ?? this.#attrOf(fs.stat(ino)); // (ENOENT if it went)
    new DataView(reply.buffer, reply.byteOffset).setUint32(1, n, true);
    return this.#encodedAttr(a, reply, 5);
  }

  /** The mover of bulk calls' bytes (made at the first). */
  #bulk(): BulkMover {
    return this.#mover ??= new BulkMover();
  }
  #mover: BulkMover | null = null;

  procedures(): Record<number, Procedure> {
    const fs = this.fs;
    const guard = (f: Procedure): Procedure => (a, reply, caller) => {
      this.calls++;
      try {
        return f(a, reply, caller);
      } catch (e) {
        return failure(e);
      }
    };
    const ok = (reply: Uint8Array) => {
      reply[0] = 0;
      return 1;
    };
    return {
      [FileStub.LOOKUP]: guard((a, reply) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), name = r.rest();
        const ino = fs.lookup(dir, dec.decode(name));
        this.areas?.putName(dir, name, ino);
        return this.#attrReply(ino, reply);
      }),
      [FileStub.GETATTR]: guard((a, reply) => this.#attrReply(new Reader(a).u32("ino"), reply)),
      [FileStub.READ]: guard((a) => {
        const r = new Reader(a);
        const ino = r.u32("ino"), offset = r.f64("offset"), length = r.u32("length");
        if (length > MAX_TRANSFER) throw new RangeError(`a read of ${length} bytes`);
        const data = fs.read(ino, offset, length);
        // What was read goes into the data area: the next reader of it needs no call.
        if (data.length > 0 && data.length <= DX_READ_MAX) {
          this.#cacheBlocks(
            ino,
            Math.floor(offset / BLOCK),
            Math.ceil((offset + data.length) / BLOCK),
          );
        }
        const out = new Uint8Array(1 + data.length);
        out.set(data, 1);
        return out;
      }),
      [FileStub.READ_BULK]: guard((a, reply, caller) => {
        const r = new Reader(a);
        const ino = r.u32("ino"), offset = r.f64("offset"), length = r.u32("length");
        if (length > MAX_TRANSFER) throw new RangeError(`a read of ${length} bytes`);
        const data = fs.read(ino, offset, length);
        this.#bulk().push(caller.node, bulkBufferName(caller.node, caller.pid), data);
        reply[0] = 0;
        new DataView(reply.buffer, reply.byteOffset).setUint32(1, data.length, true);
        return 5;
      }),
      [FileStub.WRITE_BULK]: guard((a, reply, caller) => {
        const r = new Reader(a);
        const ino = r.u32("ino"), offset = r.f64("offset"), length = r.u32("length");
        if (length > MAX_TRANSFER) throw new RangeError(`a write of ${length} bytes`);
        const buffer = bulkBufferName(caller.node, caller.pid);
        return this.#write(ino, offset, this.#bulk().pull(caller.node, buffer, length), reply);
      }),
      [FileStub.WRITE]: guard((a, reply) => {
        const r = new Reader(a);
        const ino = r.u32("ino"), offset = r.f64("offset"), data = r.rest();
        if (data.length > MAX_TRANSFER) throw new RangeError(`a write of ${data.length} bytes`);
        return this.#write(ino, offset, data, reply);
      }),
      [FileStub.CREATE]: guard((a, reply) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), mode = r.u32("mode"), exclusive = r.u8("exclusive");
        const name = r.text();
        let ino: number, created = 1;
        try {
          ino = fs.create(dir, name, mode);
          this.#changed(dir);
        } catch (e) {
          if (!(e instanceof FsError && e.code === "EEXIST") || exclusive) throw e;
          ino = fs.lookup(dir, name);
          created = 0;
        }
        this.areas?.putName(dir, enc.encode(name), ino);
        reply[1] = created;
        return this.#attrReply(ino, reply, 2);
      }),
      [FileStub.MKDIR]: guard((a, reply) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), mode = r.u32("mode"), name = r.rest();
        const ino = fs.mkdir(dir, dec.decode(name), mode);
        this.#changed(dir);
        this.areas?.putName(dir, name, ino);
        return this.#attrReply(ino, reply);
      }),
      [FileStub.UNLINK]: guard((a, reply) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), name = r.text();
        const ino = fs.lookup(dir, name);
        const blocks = Math.ceil(fs.stat(ino).size / BLOCK);
        fs.unlink(dir, name);
        this.areas?.dropName(dir, enc.encode(name));
        this.#changed(dir);
        // Freed: its blocks leave the data area (its number may come back).
        if (this.#changed(ino) === null) this.areas?.dropData(ino, 0, blocks);
        return ok(reply);
      }),
      [FileStub.RMDIR]: guard((a, reply) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), name = r.text();
        const ino = fs.lookup(dir, name);
        fs.rmdir(dir, name);
        this.areas?.dropName(dir, enc.encode(name));
        this.#changed(dir);
        this.#changed(ino);
        return ok(reply);
      }),
      [FileStub.RENAME]: guard((a, reply) => {
        const r = new Reader(a);
        const from = r.u32("from dir"), to = r.u32("to dir"), n = r.u16("from length");
        const fromName = dec.decode(r.take(n, "from name")), toName = r.text();
        const moved = fs.lookup(from, fromName);
        let replaced = 0;
        try {
          replaced = fs.lookup(to, toName);
        } catch (e) {
          if (!(e instanceof FsError && e.code === "ENOENT")) throw e;
        }
        const replacedBlocks = replaced ? Math.ceil(fs.stat(replaced).size / BLOCK) : 0;
        fs.rename(from, fromName, to, toName);
        this.areas?.dropName(from, enc.encode(fromName));
        if (replaced !== moved) this.areas?.putName(to, enc.encode(toName), moved);
        for (const ino of [from, to, moved]) this.#changed(ino);
        const freed = replaced !== 0 && this.#changed(replaced) === null;
        if (freed) this.areas?.dropData(replaced, 0, replacedBlocks);
        return ok(reply);
      }),
      [FileStub.READDIR]: guard((a) => {
        const r = new Reader(a);
        const dir = r.u32("dir"), first = r.u32("first entry");
        const all = fs.readdir(dir);
        this.areas?.putDir(dir, first, all);
        return encodeDirPage(all, first);
      }),
      [FileStub.TRUNCATE]: guard((a, reply) => {
        const r = new Reader(a);
        const ino = r.u32("ino"), size = r.f64("size");
        const old = Math.ceil(fs.stat(ino).size / BLOCK);
        fs.truncate(ino, size);
        this.areas?.dropData(ino, Math.floor(size / BLOCK), Math.max(old, Math.ceil(size / BLOCK)));
        // After the blocks, as for WRITE.
        return this.#encodedAttr(this.#changed(ino) ?? this.#attrOf(fs.stat(ino)), reply);
      }),
      [FileStub.FSYNC]: guard((a, reply) => {
        fs.fsync(new Reader(a).u32("ino"));
        return ok(reply);
      }),
      [FileStub.STATFS]: guard((_a, reply) => {
        reply[0] = 0;
        return encodeUsage(fs.statfs(), reply, 1);
      }),
      [FileStub.LOAD]: guard((_a, reply) => {
        reply[0] = 0;
        const { kernelBusyUs } = info("stats"), { cpuUs } = info("self");
        return encodeLoad({ calls: this.calls, kernelBusyUs, cpuUs }, reply, 1);
      }),
    };
  }
}

/** The reply for a failure: the file system's code, EINVAL for a malformed request, else EIO. */
function failure(e: unknown): Uint8Array {
  if (e instanceof FsError) return errorReply(Errno[e.code], e.detail);
  if (e instanceof RangeError) return errorReply(Errno.EINVAL, `a malformed request: ${e.message}`);
  if (e instanceof DiskError) return errorReply(Errno.EIO, e.message);
  return errorReply(Errno.EIO, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}
