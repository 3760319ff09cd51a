/**
 * An ext2 file system with an ext3 journal on a BlockDevice (issue 14): the file
 * server's engine. Everything is by inode number; paths are the caller's (`resolve`).
 *
 * Metadata (the superblock's block, descriptors, bitmaps, inode tables, indirect
 * blocks, directory blocks) is cached whole and changed in the cache; the blocks an
 * operation changed join the running transaction, which `commit` writes to the JBD2
 * journal (jbd2.ts) and the journal writes home at its checkpoint. Data blocks go
 * straight to the disk when written, so they are on it before the commit that points
 * at them: ext3's ordered mode. A block freed is not handed out again until the
 * journal no longer holds a transaction that could be replayed over it (after a
 * checkpoint), so a replay never writes old metadata over new data and an uncommitted
 * free never lets a committed file's block be overwritten.
 *
 * Supported features: has_journal (optional: without it a commit writes in place),
 * ext_attr (no attributes are written; a freed inode's attribute block is released),
 * filetype, needs_recovery, sparse_super, large_file; 4 KiB blocks. Anything else is
 * refused at mount by name (FsError EINVAL). Open-but-unlinked files are not kept:
 * unlink frees the inode at once.
 */

import { type BlockDevice, DiskError } from "./block_device.ts";
import {
  bitNames,
  Compat,
  CorruptError,
  DIRECT_BLOCKS,
  Dirent,
  direntSize,
  direntsOf,
  EXT2_MAGIC,
  FEATURE_NAMES,
  FileType,
  fileTypeOf,
  GROUP_DESC_SIZE,
  GroupDesc,
  Incompat,
  Ino,
  InodeRecord,
  Mode,
  NAME_MAX,
  RoCompat,
  Superblock,
  SUPERBLOCK_OFFSET,
  writeDirent,
} from "./ext2_layout.ts";
import { Journal, JournalError } from "./jbd2.ts";
import type { FsUsage } from "./protocol.ts";

/** The errors a file system operation gives, as POSIX names them. */
export type FsCode =
  | "ENOENT"
  | "EEXIST"
  | "ENOTDIR"
  | "EISDIR"
  | "ENOTEMPTY"
  | "ENOSPC"
  | "ENAMETOOLONG"
  | "EROFS"
  | "EIO"
  | "EINVAL"
  | "EFBIG"
  | "EMLINK";

/** A file system operation's failure: a POSIX code and a message naming what was wrong. */
export class FsError extends Error {
  readonly code: FsCode;
  /** The message without its code. */
  readonly detail: string;
  constructor(code: FsCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "FsError";
    this.code = code;
    this.detail = message;
  }
}

/** What `stat` says of an inode. */
export interface Stat {
  ino: number;
  mode: number;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  links: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  /** 512-byte sectors held, indirect blocks included. */
  sectors: number;
  generation: number;
}

/** One entry `readdir` returns. */
export interface DirEntry {
  name: string;
  ino: number;
  type: number;
}

export interface MountOptions {
  readOnly?: boolean;
  /** Seconds since the epoch (time fields); Date.now() if absent. */
  now?: () => number;
  /** Commit on its own once this many metadata blocks are dirty. */
  maxTransaction?: number;
  /** File data blocks kept in memory, the least recently used dropped first (0: none). */
  dataCacheBlocks?: number;
}

/** What `statfs` reports (the file service's usage record). */
export type { FsUsage };

const SUPPORTED = {
  compat: Compat.HAS_JOURNAL | Compat.EXT_ATTR,
  incompat: Incompat.FILETYPE | Incompat.RECOVER,
  roCompat: RoCompat.SPARSE_SUPER | RoCompat.LARGE_FILE,
};

/** The most blocks a directory entry's addition takes: a block and two indirect blocks. */
const DIR_GROWTH = 3;

/** The most blocks one read or write of file data moves in one call to the disk (1 MiB). */
const MAX_RUN = 256;

const enc = new TextEncoder();
const dec = new TextDecoder();
const DOT = enc.encode(".");
const DOTDOT = enc.encode("..");

export class Ext2 {
  readonly dev: BlockDevice;
  readonly readOnly: boolean;
  readonly blockSize: number;
  readonly #now: () => number;
  readonly #maxTransaction: number;
  /** The superblock, over its bytes in block 0's cached copy. */
  #sb!: Superblock;
  #groups: GroupDesc[] = [];
  readonly #inodeSize: number;
  readonly #ipg: number;
  readonly #perBlock: number;
  /** Cached metadata blocks, by block number. */
  readonly #meta = new Map<number, Uint8Array>();
  /** Blocks the running transaction changed. */
  readonly #dirty = new Set<number>();
  readonly #journal: Journal | null;
  /** Blocks freed but not yet reusable (see the header), and those freed since the last commit. */
  readonly #deferred = new Set<number>();
  /** File data blocks as on the disk (written through), oldest use first (Map order). */
  readonly #data = new Map<number, Uint8Array>();
  readonly #dataMax: number;
  /** Data block reads the cache answered, and those that went to the disk. */
  readonly dataCache = { hits: 0, misses: 0 };
  #mounted = true;

  private constructor(dev: BlockDevice, o: MountOptions) {
    this.dev = dev;
    this.readOnly = o.readOnly ?? false;
    this.#now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.#maxTransaction = o.maxTransaction ?? 256;
    this.#dataMax = o.dataCacheBlocks ?? 2048;
    this.blockSize = dev.blockSize;
    const sb = this.#checkSuperblock();
    this.#inodeSize = sb.inodeSize;
    this.#ipg = sb.inodesPerGroup;
    this.#perBlock = this.blockSize / 4;
    this.#loadGroups();
    this.#journal = this.#openJournal();
    if (this.#journal?.needsRecovery || (sb.incompat & Incompat.RECOVER)) {
      // Replayed even for a read-only mount, as Linux and e2fsck do: the file
      // system is consistent only with it.
      this.#journal?.recover();
      this.#meta.clear(); // homes changed under the cache
      this.#sb = this.#checkSuperblock();
      this.#loadGroups();
      this.#sb.incompat = this.#sb.incompat & ~Incompat.RECOVER;
      this.#writeSuperblockNow();
    }
    if (!this.readOnly) {
      if (this.#sb.lastOrphan !== 0) {
        throw new FsError("EINVAL", "the file system has orphan inodes to clean up: run e2fsck");
      }
      const s = this.#sb;
      s.mountCount = s.mountCount + 1;
      s.mtime = this.#now();
      if (this.#journal) s.incompat = s.incompat | Incompat.RECOVER;
      this.#writeSuperblockNow();
    }
  }

  /**
   * Mounts the file system on `dev`: checks its superblock (FsError EINVAL naming
   * what is wrong or unsupported), replays its journal if a crash left one.
   */
  static mount(dev: BlockDevice, o: MountOptions = {}): Ext2 {
    try {
      return new Ext2(dev, o);
    } catch (e) {
      if (e instanceof CorruptError) throw new FsError("EINVAL", e.message);
      if (e instanceof DiskError) throw new FsError("EIO", e.message);
      if (e instanceof JournalError) throw new FsError("EINVAL", e.message);
      throw e;
    }
  }

  #checkSuperblock(): Superblock {
    if (this.dev.blockSize !== 4096) {
      throw new FsError("EINVAL", `disk blocks of ${this.dev.blockSize} bytes (4096 supported)`);
    }
    const block0 = this.#block(0);
    const sb = new Superblock(block0.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024));
    const bad = (why: string) => new FsError("EINVAL", `not a usable ext2 file system: ${why}`);
    if (sb.magic !== EXT2_MAGIC) {
      throw bad(`magic 0x${sb.magic.toString(16)} at byte 1080, not 0xef53`);
    }
    if (sb.revLevel !== 1) throw bad(`revision ${sb.revLevel} (1 supported)`);
    const unsupported: string[] = [];
    for (const kind of ["compat", "incompat", "roCompat"] as const) {
      const extra = sb[kind] & ~SUPPORTED[kind];
      if (extra === 0) continue;
      const label = kind === "roCompat" ? "ro_compat" : kind;
      unsupported.push(`${label} ${bitNames(FEATURE_NAMES[kind], extra).join(", ")}`);
    }
    if (unsupported.length > 0) {
      throw new FsError(
        "EINVAL",
        `unsupported features (${unsupported.join("; ")}): the file server mounts ext2/ext3 ` +
          `with has_journal, ext_attr, filetype, sparse_super and large_file only (mke2fs -t ` +
          `ext3 -O ^dir_index,^resize_inode)`,
      );
    }
    if (sb.blockSize !== this.dev.blockSize) {
      throw bad(`its blocks are ${sb.blockSize} bytes, the disk's ${this.dev.blockSize}`);
    }
    if (sb.blocksCount > this.dev.blocks || sb.blocksCount < 64) {
      throw bad(`it says ${sb.blocksCount} blocks; the disk has ${this.dev.blocks}`);
    }
    if (sb.firstDataBlock !== 0 || sb.blocksPerGroup !== 8 * sb.blockSize) {
      throw bad(`first data block ${sb.firstDataBlock}, ${sb.blocksPerGroup} blocks a group`);
    }
    const isz = sb.inodeSize;
    if (isz < 128 || isz > sb.blockSize || (isz & (isz - 1)) !== 0) {
      throw bad(`inode size ${isz}`);
    }
    if (sb.inodesPerGroup < 1 || sb.inodesPerGroup > 8 * sb.blockSize) {
      throw bad(`${sb.inodesPerGroup} inodes a group`);
    }
    if (sb.inodesCount !== sb.inodesPerGroup * sb.groups) {
      throw bad(`${sb.inodesCount} inodes for ${sb.groups} groups of ${sb.inodesPerGroup}`);
    }
    if (sb.firstIno !== Ino.FIRST) throw bad(`first inode ${sb.firstIno}`);
    if (!(sb.incompat & Incompat.FILETYPE)) throw bad("no filetype feature");
    if ((sb.compat & Compat.HAS_JOURNAL) && sb.journalDev !== 0) {
      throw bad("an external journal device");
    }
    this.#sb = sb;
    return sb;
  }

  #loadGroups(): void {
    const per = this.blockSize / GROUP_DESC_SIZE;
    this.#groups = [];
    for (let g = 0; g < this.#sb.groups; g++) {
      const b = this.#block(1 + Math.floor(g / per));
      const at = (g % per) * GROUP_DESC_SIZE;
      const d = new GroupDesc(b.subarray(at, at + GROUP_DESC_SIZE));
      const last = Math.min(this.#sb.blocksCount, (g + 1) * this.#sb.blocksPerGroup) - 1;
      const start = g * this.#sb.blocksPerGroup;
      const itEnd = d.inodeTable + Math.ceil((this.#ipg * this.#inodeSize) / this.blockSize) - 1;
      for (
        const [what, b0, b1] of [["block bitmap", d.blockBitmap, d.blockBitmap], [
          "inode bitmap",
          d.inodeBitmap,
          d.inodeBitmap,
        ], ["inode table", d.inodeTable, itEnd]] as const
      ) {
        if (b0 < start || b1 > last) {
          throw new FsError("EINVAL", `group ${g}'s ${what} at ${b0} is outside the group`);
        }
      }
      this.#groups.push(d);
    }
  }

  #openJournal(): Journal | null {
    if (!(this.#sb.compat & Compat.HAS_JOURNAL)) return null;
    const ino = this.#sb.journalInode;
    if (ino !== Ino.JOURNAL) throw new FsError("EINVAL", `journal inode ${ino} (8 supported)`);
    const r = this.#inode(ino);
    if ((r.mode & Mode.TYPE) !== Mode.REG || r.fileSize === 0) {
      throw new FsError("EINVAL", "the journal inode is not a regular file");
    }
    const blocks = Math.floor(r.fileSize / this.blockSize);
    const map: number[] = [];
    for (let i = 0; i < blocks; i++) {
      const b = this.#bmap(ino, i);
      if (b === 0) throw new FsError("EINVAL", `the journal has a hole at block ${i}`);
      map.push(b);
    }
    return Journal.load(this.dev, (i) => map[i], blocks);
  }

  // --- metadata blocks and the running transaction ---------------------------

  /** A metadata block's cached bytes (read on first use). */
  #block(b: number): Uint8Array {
    let bytes = this.#meta.get(b);
    if (!bytes) {
      bytes = this.dev.read(b);
      this.#meta.set(b, bytes);
    }
    return bytes;
  }

  /** Marks a metadata block changed in the running transaction. */
  #touch(b: number): void {
    if (this.readOnly) throw new FsError("EROFS", "the file system is mounted read-only");
    this.#dirty.add(b);
  }

  #touchSuper(): void {
    this.#touch(0);
  }

  /** Writes the superblock's block in place now (mount and unmount flags). */
  #writeSuperblockNow(): void {
    this.#sb.wtime = this.#now();
    this.dev.write(0, this.#block(0));
    this.dev.flush();
  }

  /**
   * Commits the running transaction: its blocks go to the journal (durable when this
   * returns) or, without one, home. Freed blocks become reusable once no journal
   * transaction could be replayed over them.
   */
  commit(): void {
    if (this.#dirty.size > 0) {
      const blocks = new Map<number, Uint8Array>();
      for (const b of [...this.#dirty].sort((x, y) => x - y)) blocks.set(b, this.#block(b).slice());
      this.#dirty.clear();
      if (this.#journal) this.#journal.commit(blocks);
      else {
        for (const [b, bytes] of blocks) this.dev.write(b, bytes);
        this.dev.flush();
      }
    }
    if (!this.#journal || this.#journal.pending.size === 0) this.#deferred.clear();
  }

  /**
   * Makes `ino`'s data and metadata durable: its data blocks are on the disk already
   * (ordered mode), so this is a commit of the running transaction, which holds
   * every change so far (one journal for the whole file system, as ext3's).
   */
  fsync(ino: number): void {
    this.#live(ino);
    if (this.#dirty.size === 0) this.dev.flush(); // data written in place since
    else this.commit();
  }

  /** Commits, then writes every journaled block home: nothing left to replay. */
  checkpoint(): void {
    this.commit();
    if (this.#journal) {
      this.#journal.checkpoint();
      this.#deferred.clear();
    }
  }

  /** After an operation: commits on its own when the transaction has grown large. */
  #end(): void {
    if (this.#dirty.size >= this.#maxTransaction) this.commit();
  }

  /** Metadata blocks the running transaction has changed (0: nothing to commit). */
  get pendingBlocks(): number {
    return this.#dirty.size;
  }

  /** Checkpoints and marks the file system clean; no operation after it. */
  unmount(): void {
    if (!this.#mounted) return;
    if (!this.readOnly) {
      this.checkpoint();
      const s = this.#sb;
      s.incompat = s.incompat & ~Incompat.RECOVER;
      this.#writeSuperblockNow();
    }
    this.#mounted = false;
  }

  // --- inodes ----------------------------------------------------------------

  #checkIno(ino: number): void {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.#sb.inodesCount) {
      throw new FsError("EINVAL", `inode ${ino} is not on this file system`);
    }
  }

  /** Where inode `ino`'s record lies. */
  #inodeAt(ino: number): { block: number; offset: number } {
    this.#checkIno(ino);
    const g = Math.floor((ino - 1) / this.#ipg), i = (ino - 1) % this.#ipg;
    const byte = i * this.#inodeSize;
    return {
      block: this.#groups[g].inodeTable + Math.floor(byte / this.blockSize),
      offset: byte % this.blockSize,
    };
  }

  /** Inode `ino`'s record, over its bytes in the cache. */
  #inode(ino: number): InodeRecord {
    const { block, offset } = this.#inodeAt(ino);
    return new InodeRecord(this.#block(block).subarray(offset, offset + this.#inodeSize));
  }

  /** The record of `ino` for a change (its block joins the transaction). */
  #inodeW(ino: number): InodeRecord {
    this.#touch(this.#inodeAt(ino).block);
    return this.#inode(ino);
  }

  /** An inode in use, or ENOENT. */
  #live(ino: number): InodeRecord {
    const r = this.#inode(ino);
    if (r.links === 0 || r.mode === 0) throw new FsError("ENOENT", `inode ${ino} is not in use`);
    return r;
  }

  stat(ino: number): Stat {
    const r = this.#live(ino);
    const t = r.mode & Mode.TYPE;
    return {
      ino,
      mode: r.mode,
      type: t === Mode.REG ? "file" : t === Mode.DIR ? "dir" : t === Mode.LNK ? "symlink" : "other",
      size: r.fileSize,
      links: r.links,
      uid: r.uid,
      gid: r.gid,
      atime: r.atime,
      mtime: r.mtime,
      ctime: r.ctime,
      sectors: r.sectors,
      generation: r.generation,
    };
  }

  statfs(): FsUsage {
    const s = this.#sb;
    return {
      blockSize: this.blockSize,
      blocks: s.blocksCount,
      freeBlocks: s.freeBlocks,
      inodes: s.inodesCount,
      freeInodes: s.freeInodes,
    };
  }

  // --- allocation --------------------------------------------------------------

  #bitmapBit(block: number, i: number): boolean {
    return (this.#block(block)[i >>> 3] & (1 << (i & 7))) !== 0;
  }

  #setBit(block: number, i: number, on: boolean): void {
    this.#touch(block);
    const bits = this.#block(block);
    if (on) bits[i >>> 3] |= 1 << (i & 7);
    else bits[i >>> 3] &= ~(1 << (i & 7));
  }

  /** A free block near `goal`, taken; ENOSPC if none (after a checkpoint frees the deferred). */
  #allocBlock(goal: number): number {
    for (let attempt = 0; attempt < 2; attempt++) {
      const b = this.#findFreeBlock(goal);
      if (b >= 0) {
        const g = Math.floor(b / this.#sb.blocksPerGroup);
        this.#setBit(this.#groups[g].blockBitmap, b % this.#sb.blocksPerGroup, true);
        this.#groupTouch(g).freeBlocks--;
        this.#touchSuper();
        this.#sb.freeBlocks = this.#sb.freeBlocks - 1;
        return b;
      }
      if (this.#deferred.size === 0) break;
      this.checkpoint(); // blocks freed since become reusable
    }
    throw new FsError("ENOSPC", `no free block of ${this.#sb.blocksCount}`);
  }

  /**
   * Checks that `n` blocks can be had before an operation that needs up to that many
   * changes anything (a directory that grows, its indirect blocks): ENOSPC now
   * rather than halfway, so no half-made entry is ever committed.
   */
  #reserve(n: number): void {
    if (this.#sb.freeBlocks - this.#deferred.size >= n) return;
    if (this.#deferred.size > 0) this.checkpoint();
    if (this.#sb.freeBlocks < n) {
      throw new FsError("ENOSPC", `no free block of ${this.#sb.blocksCount} for a directory`);
    }
  }

  #findFreeBlock(goal: number): number {
    const bpg = this.#sb.blocksPerGroup, groups = this.#groups.length;
    const g0 = Math.min(groups - 1, Math.max(0, Math.floor(goal / bpg)));
    for (let n = 0; n < groups; n++) {
      const g = (g0 + n) % groups, d = this.#groups[g];
      if (d.freeBlocks === 0) continue;
      const bits = this.#block(d.blockBitmap);
      const start = n === 0 ? goal % bpg : 0;
      const count = Math.min(bpg, this.#sb.blocksCount - g * bpg);
      for (let k = 0; k < count; k++) {
        const i = (start + k) % count;
        if ((i & 7) === 0 && bits[i >>> 3] === 0xff && i + 8 <= count) {
          k += 7;
          continue;
        }
        if (bits[i >>> 3] & (1 << (i & 7))) continue;
        const b = g * bpg + i;
        if (!this.#deferred.has(b)) return b;
      }
    }
    return -1;
  }

  #freeBlock(b: number): void {
    if (b <= 0 || b >= this.#sb.blocksCount) {
      throw new FsError("EIO", `freeing block ${b}, outside the file system`);
    }
    const g = Math.floor(b / this.#sb.blocksPerGroup), i = b % this.#sb.blocksPerGroup;
    const d = this.#groups[g];
    if (!this.#bitmapBit(d.blockBitmap, i)) throw new FsError("EIO", `block ${b} is already free`);
    this.#setBit(d.blockBitmap, i, false);
    this.#groupTouch(g).freeBlocks++;
    this.#touchSuper();
    this.#sb.freeBlocks = this.#sb.freeBlocks + 1;
    this.#deferred.add(b);
    this.#meta.delete(b); // if it was metadata, its cached copy is stale from now on
    this.#dirty.delete(b);
    this.#data.delete(b);
  }

  /** Group `g`'s descriptor, for a change. */
  #groupTouch(g: number): GroupDesc {
    this.#touch(1 + Math.floor(g / (this.blockSize / GROUP_DESC_SIZE)));
    return this.#groups[g];
  }

  /** A free inode (a directory's in the group with most free inodes, a file's near its parent). */
  #allocInode(parent: number, dir: boolean): number {
    const groups = this.#groups.length;
    let g0 = Math.floor((parent - 1) / this.#ipg);
    if (dir) {
      let best = -1;
      for (let g = 0; g < groups; g++) {
        if (best < 0 || this.#groups[g].freeInodes > this.#groups[best].freeInodes) best = g;
      }
      g0 = best;
    }
    for (let n = 0; n < groups; n++) {
      const g = (g0 + n) % groups, d = this.#groups[g];
      if (d.freeInodes === 0) continue;
      const bits = this.#block(d.inodeBitmap);
      for (let i = 0; i < this.#ipg; i++) {
        if (bits[i >>> 3] & (1 << (i & 7))) continue;
        const ino = g * this.#ipg + i + 1;
        if (ino < Ino.FIRST) continue;
        this.#setBit(d.inodeBitmap, i, true);
        const gd = this.#groupTouch(g);
        gd.freeInodes--;
        if (dir) gd.usedDirs++;
        this.#touchSuper();
        this.#sb.freeInodes = this.#sb.freeInodes - 1;
        return ino;
      }
    }
    throw new FsError("ENOSPC", `no free inode of ${this.#sb.inodesCount}`);
  }

  #freeInode(ino: number, dir: boolean): void {
    const g = Math.floor((ino - 1) / this.#ipg), i = (ino - 1) % this.#ipg;
    this.#setBit(this.#groups[g].inodeBitmap, i, false);
    const gd = this.#groupTouch(g);
    gd.freeInodes++;
    if (dir) gd.usedDirs--;
    this.#touchSuper();
    this.#sb.freeInodes = this.#sb.freeInodes + 1;
  }

  /** A fresh inode record for `ino`: mode, one link, times now. */
  #initInode(ino: number, mode: number): InodeRecord {
    const r = this.#inodeW(ino);
    const generation = r.generation + 1;
    r.reset(Math.min(32, this.#inodeSize - 128));
    const t = this.#now();
    r.mode = mode;
    r.links = 1;
    r.atime = r.ctime = r.mtime = t;
    r.crtime = t;
    r.generation = generation;
    return r;
  }

  // --- the block map -------------------------------------------------------------

  /** The disk block of file block `fb` of `ino`, 0 for a hole. */
  #bmap(ino: number, fb: number): number {
    const r = this.#inode(ino), per = this.#perBlock;
    if (fb < DIRECT_BLOCKS) return r.block(fb);
    let i = fb - DIRECT_BLOCKS;
    for (let depth = 1, span = per; depth <= 3; depth++, span *= per) {
      if (i < span) {
        let b = r.block(11 + depth);
        for (let d = depth; d >= 1 && b !== 0; d--) {
          const unit = per ** (d - 1);
          b = this.#entry(b, Math.floor(i / unit) % per);
        }
        return b;
      }
      i -= span;
    }
    throw new FsError("EFBIG", `file block ${fb} is past the largest file`);
  }

  /** Entry `i` of indirect block `b`. */
  #entry(b: number, i: number): number {
    const v = this.#block(b);
    return v[4 * i] | (v[4 * i + 1] << 8) | (v[4 * i + 2] << 16) | ((v[4 * i + 3] << 24) >>> 0);
  }

  #setEntry(b: number, i: number, value: number): void {
    this.#touch(b);
    new DataView(this.#block(b).buffer).setUint32(4 * i, value, true);
  }

  /** A new zeroed indirect block near `goal` (it is metadata: cached, journaled). */
  #newIndirect(r: InodeRecord, goal: number): number {
    const b = this.#allocBlock(goal);
    this.#meta.set(b, new Uint8Array(this.blockSize));
    this.#touch(b);
    r.sectors = r.sectors + this.blockSize / 512;
    return b;
  }

  /**
   * The disk block of file block `fb` of `ino`, allocating it (and the indirect
   * blocks on its path) if it is a hole; `fresh` says it was allocated.
   */
  #bmapAlloc(ino: number, fb: number): { block: number; fresh: boolean } {
    const r = this.#inodeW(ino), per = this.#perBlock;
    // Where to put a new block: looked up (a walk of the block map) only if one is needed.
    let near: number | undefined;
    const goal = () => near ??= this.#goal(ino, fb);
    const data = () => {
      const b = this.#allocBlock(goal());
      r.sectors = r.sectors + this.blockSize / 512;
      return b;
    };
    if (fb < DIRECT_BLOCKS) {
      const b = r.block(fb);
      if (b !== 0) return { block: b, fresh: false };
      const nb = data();
      r.setBlock(fb, nb);
      return { block: nb, fresh: true };
    }
    let i = fb - DIRECT_BLOCKS;
    for (let depth = 1, span = per; depth <= 3; depth++, span *= per) {
      if (i >= span) {
        i -= span;
        continue;
      }
      let table = r.block(11 + depth);
      if (table === 0) {
        table = this.#newIndirect(r, goal());
        r.setBlock(11 + depth, table);
      }
      for (let d = depth; d >= 1; d--) {
        const slot = Math.floor(i / per ** (d - 1)) % per;
        const b = this.#entry(table, slot);
        if (d === 1) {
          if (b !== 0) return { block: b, fresh: false };
          const nb = data();
          this.#setEntry(table, slot, nb);
          return { block: nb, fresh: true };
        }
        if (b === 0) {
          const nt = this.#newIndirect(r, goal());
          this.#setEntry(table, slot, nt);
          table = nt;
        } else table = b;
      }
    }
    throw new FsError("EFBIG", `file block ${fb} is past the largest file`);
  }

  /** Where to look for a file block: after the block before it, else in the inode's group. */
  #goal(ino: number, fb: number): number {
    const prev = fb > 0 ? this.#bmap(ino, fb - 1) : 0;
    if (prev !== 0) return prev + 1;
    return Math.floor((ino - 1) / this.#ipg) * this.#sb.blocksPerGroup;
  }

  /**
   * Frees every block of `ino` from file block `from` on (indirect blocks left
   * empty too); returns nothing, updates i_blocks.
   */
  #freeFrom(ino: number, from: number): void {
    const r = this.#inodeW(ino), per = this.#perBlock;
    const sectorsPer = this.blockSize / 512;
    for (let i = Math.max(0, from); i < DIRECT_BLOCKS; i++) {
      const b = r.block(i);
      if (b === 0) continue;
      this.#freeBlock(b);
      r.setBlock(i, 0);
      r.sectors = r.sectors - sectorsPer;
    }
    // Each indirect tree covers [first, first + span); free what lies at or past `from`.
    let first = DIRECT_BLOCKS;
    for (let depth = 1, span = per; depth <= 3; depth++, span *= per) {
      const top = r.block(11 + depth);
      if (top !== 0 && from < first + span) {
        if (this.#freeTree(r, top, depth, first, from)) {
          r.setBlock(11 + depth, 0);
        }
      }
      first += span;
    }
  }

  /** Frees the part of an indirect tree at or past `from`; true if the whole tree went. */
  #freeTree(r: InodeRecord, table: number, depth: number, first: number, from: number): boolean {
    const per = this.#perBlock, unit = per ** (depth - 1), sectorsPer = this.blockSize / 512;
    let kept = false;
    for (let s = 0; s < per; s++) {
      const b = this.#entry(table, s);
      if (b === 0) continue;
      const start = first + s * unit;
      if (start + unit <= from) {
        kept = true;
        continue;
      }
      const all = depth === 1 ? start >= from : this.#freeTree(r, b, depth - 1, start, from);
      if (all) {
        if (depth === 1) {
          this.#freeBlock(b);
          r.sectors = r.sectors - sectorsPer;
        }
        this.#setEntry(table, s, 0);
      } else kept = true;
    }
    if (kept) return false;
    this.#freeBlock(table);
    r.sectors = r.sectors - sectorsPer;
    return true;
  }

  // --- file data -----------------------------------------------------------------

  /** A data block's cached bytes (now the most recently used), or undefined. */
  #cachedData(b: number): Uint8Array | undefined {
    const bytes = this.#data.get(b);
    if (bytes) {
      this.#data.delete(b);
      this.#data.set(b, bytes);
      this.dataCache.hits++;
    }
    return bytes;
  }

  /** Keeps a copy of a data block as it now is on the disk, dropping the oldest past the limit. */
  #keepData(b: number, bytes: Uint8Array): void {
    if (this.#dataMax === 0) return;
    this.#data.delete(b);
    this.#data.set(b, bytes.slice());
    if (this.#data.size > this.#dataMax) this.#data.delete(this.#data.keys().next().value!);
  }

  /** Up to `length` bytes of `ino` from `offset` (fewer at its end). */
  read(ino: number, offset: number, length: number): Uint8Array {
    const r = this.#live(ino);
    if ((r.mode & Mode.TYPE) === Mode.DIR) {
      throw new FsError("EISDIR", `inode ${ino} is a directory`);
    }
    checkSpan(offset, length);
    const size = r.fileSize;
    if (offset >= size) return new Uint8Array(0);
    const end = Math.min(size, offset + length), bs = this.blockSize;
    const out = new Uint8Array(end - offset);
    for (let at = offset; at < end;) {
      const fb = Math.floor(at / bs), within = at % bs, n = Math.min(bs - within, end - at);
      const b = this.#bmap(ino, fb);
      if (b === 0) {
        at += n; // a hole reads as zeros
        continue;
      }
      const cached = this.#cachedData(b);
      if (cached) {
        out.set(cached.subarray(within, within + n), at - offset);
        at += n;
        continue;
      }
      // A run of contiguous blocks not cached is one read.
      let run = 1;
      while (
        at + run * bs - within < end && run < MAX_RUN && !this.#data.has(b + run) &&
        this.#bmap(ino, fb + run) === b + run
      ) run++;
      const bytes = this.dev.read(b, run);
      this.dataCache.misses += run;
      for (let i = 0; i < run; i++) this.#keepData(b + i, bytes.subarray(i * bs, (i + 1) * bs));
      const take = Math.min(run * bs - within, end - at);
      out.set(bytes.subarray(within, within + take), at - offset);
      at += take;
    }
    return out;
  }

  /**
   * Writes `data` into `ino` at `offset`, growing it; returns the bytes written
   * (fewer than asked only when the disk filled after some were: ENOSPC if none).
   */
  write(ino: number, offset: number, data: Uint8Array): number {
    const r = this.#live(ino);
    if ((r.mode & Mode.TYPE) === Mode.DIR) {
      throw new FsError("EISDIR", `inode ${ino} is a directory`);
    }
    checkSpan(offset, data.length);
    const bs = this.blockSize;
    let done = 0;
    try {
      while (done < data.length) {
        const at = offset + done, fb = Math.floor(at / bs), within = at % bs;
        const n = Math.min(bs - within, data.length - done);
        const { block, fresh } = this.#bmapAlloc(ino, fb);
        if (n < bs) {
          // Part of a block: the rest of it is what was there (zeros if new).
          const bytes = fresh ? new Uint8Array(bs) : (this.#cachedData(block)?.slice() ??
            this.dev.read(block));
          bytes.set(data.subarray(done, done + n), within);
          this.dev.write(block, bytes);
          this.#keepData(block, bytes);
          done += n;
          continue;
        }
        // Whole blocks: as many as lie next to each other on the disk, in one write.
        let run = 1;
        const whole = Math.min(MAX_RUN, Math.floor((data.length - done) / bs));
        while (run < whole && this.#bmapAlloc(ino, fb + run).block === block + run) run++;
        this.dev.write(block, data.subarray(done, done + run * bs));
        for (let i = 0; i < run; i++) {
          this.#keepData(block + i, data.subarray(done + i * bs, done + (i + 1) * bs));
        }
        done += run * bs;
      }
    } catch (e) {
      if (!(e instanceof FsError && e.code === "ENOSPC") || done === 0) {
        this.#finishWrite(ino, offset, done);
        throw e;
      }
    }
    this.#finishWrite(ino, offset, done);
    return done;
  }

  #finishWrite(ino: number, offset: number, done: number): void {
    const w = this.#inodeW(ino);
    if (offset + done > w.fileSize) w.fileSize = offset + done;
    const t = this.#now();
    if (done > 0) w.mtime = w.ctime = t;
    this.#end();
  }

  /** Sets `ino`'s size: shorter frees its blocks past it, longer leaves a hole. */
  truncate(ino: number, size: number): void {
    const r = this.#live(ino);
    if ((r.mode & Mode.TYPE) === Mode.DIR) {
      throw new FsError("EISDIR", `inode ${ino} is a directory`);
    }
    checkSpan(size, 0);
    const bs = this.blockSize, old = r.fileSize;
    if (size < old) {
      this.#freeFrom(ino, Math.ceil(size / bs));
      const tail = size % bs;
      if (tail !== 0) {
        // Zero the rest of the last block, so growing the file again reads zeros there.
        const b = this.#bmap(ino, Math.floor(size / bs));
        if (b !== 0) {
          const bytes = this.#cachedData(b)?.slice() ?? this.dev.read(b);
          bytes.fill(0, tail);
          this.dev.write(b, bytes);
          this.#keepData(b, bytes);
        }
      }
    }
    const w = this.#inodeW(ino);
    w.fileSize = size;
    w.mtime = w.ctime = this.#now();
    this.#end();
  }

  // --- directories -------------------------------------------------------------

  #dirBlocks(dir: number): number {
    return Math.ceil(this.#inode(dir).fileSize / this.blockSize);
  }

  /** A directory in use, or ENOENT / ENOTDIR. */
  #dir(dir: number): InodeRecord {
    const r = this.#live(dir);
    if ((r.mode & Mode.TYPE) !== Mode.DIR) {
      throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
    }
    return r;
  }

  /** Each entry of `dir`, with the disk block it is in. */
  *#entries(dir: number): Generator<Dirent & { block: number }> {
    const n = this.#dirBlocks(dir);
    for (let fb = 0; fb < n; fb++) {
      const b = this.#bmap(dir, fb);
      if (b === 0) throw new FsError("EIO", `directory ${dir} has a hole at block ${fb}`);
      let entries: Dirent[];
      try {
        entries = direntsOf(this.#block(b), `directory ${dir} block ${fb}`);
      } catch (e) {
        if (e instanceof CorruptError) throw new FsError("EIO", e.message);
        throw e;
      }
      for (const e of entries) yield { ...e, block: b };
    }
  }

  /** The inode `name` names in `dir`, or ENOENT. */
  lookup(dir: number, name: string): number {
    this.#dir(dir);
    const ino = this.#has(dir, nameBytes(name));
    if (!ino) throw new FsError("ENOENT", `no ${JSON.stringify(name)} in directory ${dir}`);
    return ino;
  }

  /** The inode of an absolute path ("/a/b"); ENOENT, ENOTDIR. */
  resolve(path: string): number {
    if (!path.startsWith("/")) {
      throw new FsError("EINVAL", `${JSON.stringify(path)} is not absolute`);
    }
    let ino: number = Ino.ROOT;
    for (const part of path.split("/")) if (part !== "") ino = this.lookup(ino, part);
    return ino;
  }

  /** The entries of `dir` ("." and ".." included), in directory order. */
  readdir(dir: number): DirEntry[] {
    this.#dir(dir);
    const out: DirEntry[] = [];
    for (const e of this.#entries(dir)) {
      if (e.inode !== 0) out.push({ name: dec.decode(e.name), ino: e.inode, type: e.fileType });
    }
    return out;
  }

  /** Adds an entry for `ino` to `dir` (no check for a duplicate: the caller made it). */
  #addEntry(dir: number, name: Uint8Array, ino: number, type: number): void {
    const need = direntSize(name.length), bs = this.blockSize;
    for (const e of this.#entries(dir)) {
      const used = e.inode === 0 ? 0 : direntSize(e.name.length);
      if (e.recLen - used < need) continue;
      const block = this.#block(e.block);
      this.#touch(e.block);
      if (e.inode === 0) writeDirent(block, e.offset, ino, e.recLen, name, type);
      else {
        writeDirent(block, e.offset, e.inode, used, e.name.slice(), e.fileType);
        writeDirent(block, e.offset + used, ino, e.recLen - used, name, type);
      }
      this.#touchDir(dir);
      return;
    }
    // No room: a new block at the end.
    const fb = this.#dirBlocks(dir);
    const { block } = this.#bmapAlloc(dir, fb);
    const bytes = new Uint8Array(bs);
    writeDirent(bytes, 0, ino, bs, name, type);
    this.#meta.set(block, bytes);
    this.#touch(block);
    const r = this.#inodeW(dir);
    r.fileSize = (fb + 1) * bs;
    this.#touchDir(dir);
  }

  /** A directory's times after a change of its entries. */
  #touchDir(dir: number): void {
    const r = this.#inodeW(dir), t = this.#now();
    r.mtime = r.ctime = t;
  }

  /** Removes `name`'s entry from `dir`; returns the inode it named, or ENOENT. */
  #removeEntry(dir: number, name: Uint8Array): number {
    let prev: (Dirent & { block: number }) | null = null;
    for (const e of this.#entries(dir)) {
      if (prev && prev.block !== e.block) prev = null;
      if (e.inode !== 0 && sameName(e.name, name)) {
        const block = this.#block(e.block);
        this.#touch(e.block);
        if (prev) {
          // Merged into the entry before it, as ext2 does.
          new DataView(block.buffer).setUint16(prev.offset + 4, prev.recLen + e.recLen, true);
        } else new DataView(block.buffer).setUint32(e.offset, 0, true);
        this.#touchDir(dir);
        return e.inode;
      }
      prev = e;
    }
    throw new FsError("ENOENT", `no ${JSON.stringify(dec.decode(name))} in directory ${dir}`);
  }

  /** Points `name`'s entry in `dir` at another inode. */
  #retarget(dir: number, name: Uint8Array, ino: number, type: number): void {
    for (const e of this.#entries(dir)) {
      if (e.inode !== 0 && sameName(e.name, name)) {
        const block = this.#block(e.block);
        this.#touch(e.block);
        new DataView(block.buffer).setUint32(e.offset, ino, true);
        block[e.offset + 7] = type;
        this.#touchDir(dir);
        return;
      }
    }
    throw new FsError("ENOENT", `no ${JSON.stringify(dec.decode(name))} in directory ${dir}`);
  }

  #has(dir: number, name: Uint8Array): number {
    for (const e of this.#entries(dir)) if (e.inode !== 0 && sameName(e.name, name)) return e.inode;
    return 0;
  }

  /**
   * Fails EEXIST if `dir` has `name`; else makes sure its entry can be added: in a
   * slot the directory has, or in a new block (ENOSPC now, before anything changes).
   */
  #checkNew(dir: number, name: Uint8Array, extra = 0): void {
    const need = direntSize(name.length);
    let room = false;
    for (const e of this.#entries(dir)) {
      if (e.inode !== 0 && sameName(e.name, name)) {
        throw new FsError("EEXIST", `${JSON.stringify(dec.decode(name))} exists`);
      }
      if (e.recLen - (e.inode === 0 ? 0 : direntSize(e.name.length)) >= need) room = true;
    }
    if (!room || extra > 0) this.#reserve((room ? 0 : DIR_GROWTH) + extra);
  }

  /** Creates a regular file `name` in `dir`; EEXIST if the name is taken. Returns its inode. */
  create(dir: number, name: string, mode = 0o644): number {
    this.#writable();
    const n = nameBytes(name);
    this.#dir(dir);
    this.#checkNew(dir, n);
    const ino = this.#allocInode(dir, false);
    this.#initInode(ino, Mode.REG | (mode & 0o7777));
    this.#addEntry(dir, n, ino, FileType.REG);
    this.#end();
    return ino;
  }

  /** Creates a directory `name` in `dir`; returns its inode. */
  mkdir(dir: number, name: string, mode = 0o755): number {
    this.#writable();
    const n = nameBytes(name);
    const parent = this.#dir(dir);
    if (parent.links >= 65000) throw new FsError("EMLINK", `directory ${dir} has too many links`);
    this.#checkNew(dir, n, 1); // and its own first block
    const ino = this.#allocInode(dir, true);
    this.#initInode(ino, Mode.DIR | (mode & 0o7777));
    const bs = this.blockSize;
    // #checkNew reserved it: this cannot fail halfway.
    const b = this.#allocBlock(Math.floor((ino - 1) / this.#ipg) * this.#sb.blocksPerGroup);
    const bytes = new Uint8Array(bs);
    writeDirent(bytes, 0, ino, 12, DOT, FileType.DIR);
    writeDirent(bytes, 12, dir, bs - 12, DOTDOT, FileType.DIR);
    this.#meta.set(b, bytes);
    this.#touch(b);
    const w = this.#inodeW(ino);
    w.setBlock(0, b);
    w.sectors = bs / 512;
    w.fileSize = bs;
    w.links = 2;
    this.#addEntry(dir, n, ino, FileType.DIR);
    const p = this.#inodeW(dir);
    p.links = p.links + 1;
    this.#end();
    return ino;
  }

  /** Removes file `name` from `dir` (EISDIR for a directory); frees it at its last link. */
  unlink(dir: number, name: string): void {
    this.#writable();
    const n = nameBytes(name);
    this.#dir(dir);
    const ino = this.#has(dir, n);
    if (!ino) throw new FsError("ENOENT", `no ${JSON.stringify(name)} in directory ${dir}`);
    if ((this.#inode(ino).mode & Mode.TYPE) === Mode.DIR) {
      throw new FsError("EISDIR", `${JSON.stringify(name)} is a directory`);
    }
    this.#removeEntry(dir, n);
    this.#dropLink(ino);
    this.#end();
  }

  /** Removes the empty directory `name` from `dir`: ENOTDIR, ENOTEMPTY. */
  rmdir(dir: number, name: string): void {
    this.#writable();
    const n = nameBytes(name);
    this.#dir(dir);
    if (sameName(n, DOT) || sameName(n, DOTDOT)) {
      throw new FsError("EINVAL", `cannot remove ${JSON.stringify(name)}`);
    }
    const ino = this.#has(dir, n);
    if (!ino) throw new FsError("ENOENT", `no ${JSON.stringify(name)} in directory ${dir}`);
    this.#dir(ino);
    this.#checkEmpty(ino, name);
    this.#removeEntry(dir, n);
    this.#freeDir(ino, dir);
    this.#end();
  }

  #checkEmpty(ino: number, name: string): void {
    for (const e of this.#entries(ino)) {
      if (e.inode !== 0 && !sameName(e.name, DOT) && !sameName(e.name, DOTDOT)) {
        throw new FsError("ENOTEMPTY", `directory ${JSON.stringify(name)} is not empty`);
      }
    }
  }

  /** Frees directory `ino` (its entry already gone from `parent`). */
  #freeDir(ino: number, parent: number): void {
    const p = this.#inodeW(parent);
    p.links = p.links - 1;
    this.#release(ino, true);
  }

  /** One link fewer; the inode is freed at none. */
  #dropLink(ino: number): void {
    const r = this.#inodeW(ino);
    r.links = r.links - 1;
    r.ctime = this.#now();
    if (r.links === 0) this.#release(ino, false);
  }

  /** Frees an inode and all its blocks (its attribute block too). */
  #release(ino: number, dir: boolean): void {
    this.#freeFrom(ino, 0);
    const r = this.#inodeW(ino);
    if (r.fileAcl !== 0) {
      this.#releaseAttributes(r.fileAcl);
      r.fileAcl = 0;
    }
    r.links = 0;
    r.fileSize = 0;
    r.dtime = this.#now();
    this.#freeInode(ino, dir);
  }

  /** An extended-attribute block loses a user: freed at its last (h_refcount at byte 4). */
  #releaseAttributes(b: number): void {
    const bytes = this.#block(b), v = new DataView(bytes.buffer);
    if (v.getUint32(0, true) !== 0xea020000) {
      throw new FsError("EIO", `block ${b} is not an extended-attribute block`);
    }
    const refs = v.getUint32(4, true);
    if (refs > 1) {
      this.#touch(b);
      v.setUint32(4, refs - 1, true);
    } else this.#freeBlock(b);
  }

  /**
   * Renames `sdir`/`sname` to `ddir`/`dname`, replacing a file (or an empty
   * directory, for a directory) there. EINVAL for moving a directory into itself.
   */
  rename(sdir: number, sname: string, ddir: number, dname: string): void {
    this.#writable();
    const sn = nameBytes(sname), dn = nameBytes(dname);
    this.#dir(sdir);
    this.#dir(ddir);
    const ino = this.#has(sdir, sn);
    if (!ino) throw new FsError("ENOENT", `no ${JSON.stringify(sname)} in directory ${sdir}`);
    const isDir = (this.#inode(ino).mode & Mode.TYPE) === Mode.DIR;
    if (isDir) {
      for (let d = ddir; d !== Ino.ROOT; d = this.lookup(d, "..")) {
        if (d === ino) throw new FsError("EINVAL", "cannot move a directory into itself");
      }
    }
    const target = this.#has(ddir, dn);
    if (target === ino) return; // the same file: nothing to do
    if (!target) this.#checkNew(ddir, dn);
    const type = fileTypeOf(this.#inode(ino).mode);
    if (target) {
      const tDir = (this.#inode(target).mode & Mode.TYPE) === Mode.DIR;
      if (isDir && !tDir) {
        throw new FsError("ENOTDIR", `${JSON.stringify(dname)} is not a directory`);
      }
      if (!isDir && tDir) throw new FsError("EISDIR", `${JSON.stringify(dname)} is a directory`);
      if (tDir) this.#checkEmpty(target, dname);
      this.#retarget(ddir, dn, ino, type);
      if (tDir) this.#freeDir(target, ddir);
      else this.#dropLink(target);
    } else this.#addEntry(ddir, dn, ino, type);
    this.#removeEntry(sdir, sn);
    if (isDir && sdir !== ddir) {
      this.#retarget(ino, DOTDOT, ddir, FileType.DIR);
      const s = this.#inodeW(sdir), d = this.#inodeW(ddir);
      s.links = s.links - 1;
      d.links = d.links + 1;
    }
    this.#inodeW(ino).ctime = this.#now();
    this.#end();
  }

  #writable(): void {
    if (this.readOnly) throw new FsError("EROFS", "the file system is mounted read-only");
    if (!this.#mounted) throw new FsError("EIO", "the file system is unmounted");
  }
}

function checkSpan(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new FsError("EINVAL", `offset ${offset}, length ${length}`);
  }
}

/** A name's bytes, checked: not empty, no "/", no NUL, at most NAME_MAX bytes. */
function nameBytes(name: string): Uint8Array {
  const n = enc.encode(name);
  if (n.length === 0 || name.includes("/") || name.includes("\0")) {
    throw new FsError("EINVAL", `${JSON.stringify(name)} is not a file name`);
  }
  if (n.length > NAME_MAX) {
    throw new FsError("ENAMETOOLONG", `a name of ${n.length} bytes (at most ${NAME_MAX})`);
  }
  return n;
}

function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
