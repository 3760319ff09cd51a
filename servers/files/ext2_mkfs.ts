/**
 * Makes an ext2 file system with an ext3 journal on a disk (issue 14; `deno task
 * mkfs`), laid out as `mke2fs -t ext3 -O ^dir_index,^resize_inode -b 4096` lays one
 * out: 32,768 blocks per group, a superblock and descriptor table in groups 0, 1 and
 * the powers of 3, 5 and 7 (sparse_super), one inode of 256 bytes per 16 KiB, 5% of
 * the blocks reserved, a root directory and lost+found, and an internal journal
 * (inode 8) sized as mke2fs sizes it. `e2fsck -fn` accepts what it writes.
 */

import { type BlockDevice, DiskError } from "./block_device.ts";
import {
  Compat,
  direntSize,
  FileType,
  GROUP_DESC_SIZE,
  GroupDesc,
  hasSuperBackup,
  Incompat,
  Ino,
  InodeRecord,
  RoCompat,
  State,
  Superblock,
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
  writeDirent,
} from "./ext2_layout.ts";
import { journalSuperblock } from "./jbd2.ts";

export interface MkfsOptions {
  /** The file system's UUID (16 bytes); random if absent. */
  uuid?: Uint8Array;
  /** Seconds since the epoch for every time field; now if absent. */
  now?: number;
  /** Bytes of disk per inode (mke2fs's inode_ratio). */
  inodeRatio?: number;
  /** Journal blocks; mke2fs's default for the size if absent. */
  journalBlocks?: number;
  /** A volume name of up to 16 bytes. */
  label?: string;
}

/** What mkfs made, for its caller's report. */
export interface MkfsResult {
  blocks: number;
  groups: number;
  inodes: number;
  journalBlocks: number;
  freeBlocks: number;
}

const BLOCK = 4096;
const BLOCKS_PER_GROUP = 8 * BLOCK;
const INODE_SIZE = 256;
const EXTRA_ISIZE = 32;
const INODES_PER_BLOCK = BLOCK / INODE_SIZE;
const LOST_FOUND_BLOCKS = 4;
/** The fewest blocks mkfs makes a file system on: a journal needs 2,048 (mke2fs's floor). */
export const MIN_BLOCKS = 2048;

/** mke2fs's journal size for a file system of `blocks` 4 KiB blocks (ext2fs_default_journal_size). */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  return 32768;
}

/** Writes a fresh file system over all of `dev` (its old contents are lost). */
export function mkfs(dev: BlockDevice, o: MkfsOptions = {}): MkfsResult {
  if (dev.blockSize !== BLOCK) {
    throw new DiskError(`mkfs makes 4096-byte blocks; the disk has ${dev.blockSize}`);
  }
  let blocks = Math.min(dev.blocks, 2 ** 32 - 1);
  if (blocks < MIN_BLOCKS) {
    throw new DiskError(`mkfs needs at least ${MIN_BLOCKS} blocks (8 MiB); the disk has ${blocks}`);
  }
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const uuid = o.uuid ?? crypto.getRandomValues(new Uint8Array(16));
  const ratio = o.inodeRatio ?? 16384;

  // Groups and inodes, as mke2fs sizes them; a last group too small for its own
  // metadata is dropped.
  let groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  let ipg = 0, itBlocks = 0, gdtBlocks = 0;
  for (;;) {
    const wanted = Math.max(Math.floor((blocks * BLOCK) / ratio), groups * INODES_PER_BLOCK);
    ipg = Math.ceil(wanted / groups / INODES_PER_BLOCK) * INODES_PER_BLOCK;
    ipg = Math.min(ipg, 8 * BLOCK);
    itBlocks = ipg / INODES_PER_BLOCK;
    gdtBlocks = Math.ceil((groups * GROUP_DESC_SIZE) / BLOCK);
    const last = blocks - (groups - 1) * BLOCKS_PER_GROUP;
    const overhead = (hasSuperBackup(groups - 1, true) ? 1 + gdtBlocks : 0) + 2 + itBlocks;
    if (groups === 1 || last >= overhead + 50) break;
    blocks -= last;
    groups--;
  }
  const journal = o.journalBlocks ?? defaultJournalBlocks(blocks);
  if (!Number.isInteger(journal) || journal < 1024 || journal > blocks / 2) {
    throw new DiskError(`a journal of ${journal} blocks: 1024 to half the disk's ${blocks}`);
  }

  const used = new Uint8Array(blocks); // 1: in use
  const descs = new Uint8Array(gdtBlocks * BLOCK);
  const layout: { bb: number; ib: number; it: number; start: number; end: number }[] = [];
  for (let g = 0; g < groups; g++) {
    const start = g * BLOCKS_PER_GROUP, end = Math.min(blocks, start + BLOCKS_PER_GROUP);
    let at = start;
    if (hasSuperBackup(g, true)) at += 1 + gdtBlocks;
    const bb = at, ib = at + 1, it = at + 2;
    used.fill(1, start, it + itBlocks);
    layout.push({ bb, ib, it, start, end });
  }

  // Group 0 after its inode table: the root directory, lost+found, the journal.
  let next = layout[0].it + itBlocks;
  const take = () => {
    if (next >= layout[0].end) throw new DiskError("mkfs: group 0 has no room for the journal");
    used[next] = 1;
    return next++;
  };
  const rootBlock = take();
  const lostFound = Array.from({ length: LOST_FOUND_BLOCKS }, take);
  const jmap = mapBlocks(journal, take);

  // Inodes.
  const table = new Uint8Array(itBlocks * BLOCK); // group 0's inode table
  const inode = (n: number) => {
    const r = new InodeRecord(table.subarray((n - 1) * INODE_SIZE, n * INODE_SIZE));
    r.reset(EXTRA_ISIZE);
    r.atime = r.ctime = r.mtime = now;
    r.crtime = now;
    return r;
  };
  const bad = new InodeRecord(table.subarray(0, INODE_SIZE));
  bad.atime = bad.ctime = bad.mtime = now; // as mke2fs leaves the bad-blocks inode
  const root = inode(Ino.ROOT);
  root.mode = 0o040755;
  root.links = 3;
  root.fileSize = BLOCK;
  root.sectors = BLOCK / 512;
  root.setBlock(0, rootBlock);
  const lf = inode(Ino.FIRST);
  lf.mode = 0o040700;
  lf.links = 2;
  lf.fileSize = LOST_FOUND_BLOCKS * BLOCK;
  lf.sectors = (LOST_FOUND_BLOCKS * BLOCK) / 512;
  lostFound.forEach((b, i) => lf.setBlock(i, b));
  const j = inode(Ino.JOURNAL);
  j.mode = 0o100600;
  j.links = 1;
  j.fileSize = journal * BLOCK;
  j.sectors = (jmap.all.length * BLOCK) / 512;
  jmap.iblock.forEach((b, i) => j.setBlock(i, b));

  // The superblock.
  const sbBytes = new Uint8Array(SUPERBLOCK_SIZE);
  const sb = new Superblock(sbBytes);
  const totalInodes = ipg * groups;
  sb.inodesCount = totalInodes;
  sb.blocksCount = blocks;
  sb.reservedBlocks = Math.floor(blocks / 20);
  sb.firstDataBlock = 0;
  sb.logBlockSize = 2;
  sb.blocksPerGroup = BLOCKS_PER_GROUP;
  sb.inodesPerGroup = ipg;
  sb.wtime = now;
  sb.set16(0x36, 0xffff); // s_max_mnt_count -1: no forced checks
  sb.set16(0x38, 0xef53);
  sb.state = State.VALID;
  sb.set16(0x3c, 1); // s_errors: continue
  sb.set32(0x40, now); // s_lastcheck
  sb.set32(0x4c, 1); // s_rev_level: dynamic
  sb.set32(0x54, Ino.FIRST);
  sb.set16(0x58, INODE_SIZE);
  sb.set32(0x5c, Compat.HAS_JOURNAL | Compat.EXT_ATTR);
  sb.set32(0x60, Incompat.FILETYPE);
  sb.set32(0x64, RoCompat.SPARSE_SUPER | RoCompat.LARGE_FILE);
  sbBytes.set(uuid, 0x68);
  const label = new TextEncoder().encode(o.label ?? "").subarray(0, 16);
  sbBytes.set(label, 0x78);
  sb.set32(0xe0, Ino.JOURNAL);
  sbBytes.set(crypto.getRandomValues(new Uint8Array(16)), 0xec); // s_hash_seed
  sb.set8(0xfc, 1); // s_def_hash_version: half_md4
  sb.set8(0xfd, 1); // s_jnl_backup_type: a copy of the journal inode's blocks
  sb.set32(0x108, now); // s_mkfs_time
  for (let i = 0; i < 15; i++) sb.set32(0x10c + 4 * i, j.block(i));
  sb.set32(0x10c + 4 * 15, Math.floor((journal * BLOCK) / 2 ** 32));
  sb.set32(0x10c + 4 * 16, (journal * BLOCK) % 2 ** 32);
  sb.set16(0x15c, EXTRA_ISIZE); // s_min_extra_isize
  sb.set16(0x15e, EXTRA_ISIZE); // s_want_extra_isize
  sb.set32(0x160, 1); // s_flags: signed directory hash

  // Bitmaps and descriptors.
  let freeBlocks = 0;
  const zero = new Uint8Array(BLOCK);
  for (let g = 0; g < groups; g++) {
    const { bb, ib, it, start, end } = layout[g];
    const bits = new Uint8Array(BLOCK);
    let free = 0;
    for (let b = start; b < start + BLOCKS_PER_GROUP; b++) {
      if (b >= end || used[b]) setBit(bits, b - start);
      else free++;
    }
    dev.write(bb, bits);
    const ibits = new Uint8Array(BLOCK);
    for (let i = ipg; i < 8 * BLOCK; i++) setBit(ibits, i); // the padding past the group
    const usedInodes = g === 0 ? Ino.FIRST : 0; // 1-10 reserved, 11 lost+found
    for (let i = 0; i < usedInodes; i++) setBit(ibits, i);
    dev.write(ib, ibits);
    for (let b = 0; b < itBlocks; b++) {
      dev.write(it + b, g === 0 ? table.subarray(b * BLOCK, (b + 1) * BLOCK) : zero);
    }
    const d = new GroupDesc(descs.subarray(g * GROUP_DESC_SIZE, (g + 1) * GROUP_DESC_SIZE));
    d.blockBitmap = bb;
    d.inodeBitmap = ib;
    d.inodeTable = it;
    d.freeBlocks = free;
    d.freeInodes = ipg - usedInodes;
    d.usedDirs = g === 0 ? 2 : 0;
    freeBlocks += free;
  }
  sb.freeBlocks = freeBlocks;
  sb.freeInodes = totalInodes - Ino.FIRST;

  // Directories.
  const dot = new TextEncoder().encode(".");
  const dotdot = new TextEncoder().encode("..");
  const rootDir = new Uint8Array(BLOCK);
  writeDirent(rootDir, 0, Ino.ROOT, direntSize(1), dot, FileType.DIR);
  writeDirent(rootDir, 12, Ino.ROOT, direntSize(2), dotdot, FileType.DIR);
  const lfName = new TextEncoder().encode("lost+found");
  writeDirent(rootDir, 24, Ino.FIRST, BLOCK - 24, lfName, FileType.DIR);
  dev.write(rootBlock, rootDir);
  const lfDir = new Uint8Array(BLOCK);
  writeDirent(lfDir, 0, Ino.FIRST, direntSize(1), dot, FileType.DIR);
  writeDirent(lfDir, 12, Ino.ROOT, BLOCK - 12, dotdot, FileType.DIR);
  dev.write(lostFound[0], lfDir);
  const emptyDir = new Uint8Array(BLOCK);
  writeDirent(emptyDir, 0, 0, BLOCK, new Uint8Array(0), 0);
  for (const b of lostFound.slice(1)) dev.write(b, emptyDir);

  // The journal: its superblock, zeros after, and the indirect blocks that map it.
  dev.write(jmap.data[0], journalSuperblock({ blockSize: BLOCK, blocks: journal, uuid }));
  for (const b of jmap.data.slice(1)) dev.write(b, zero);
  for (const [b, bytes] of jmap.indirect) dev.write(b, bytes);

  // Superblocks (and descriptor tables) last, in every group that keeps one.
  for (let g = 0; g < groups; g++) {
    if (!hasSuperBackup(g, true)) continue;
    sb.groupNr = g;
    const start = layout[g].start;
    const first = new Uint8Array(BLOCK); // group 0's: 1,024 bytes of boot sector, zeroed
    first.set(sbBytes, g === 0 ? SUPERBLOCK_OFFSET : 0);
    dev.write(start, first);
    dev.write(start + 1, descs);
  }
  dev.flush();
  return { blocks, groups, inodes: totalInodes, journalBlocks: journal, freeBlocks };
}

function setBit(bits: Uint8Array, i: number): void {
  bits[i >>> 3] |= 1 << (i & 7);
}

/**
 * Lays out a file of `count` blocks taken in order from `take`, each indirect
 * block taken just before the blocks it maps (as mke2fs lays out the journal).
 * Returns i_block, the data blocks in order, every block, and the indirect blocks'
 * contents.
 */
export function mapBlocks(count: number, take: () => number): {
  iblock: number[];
  data: number[];
  all: number[];
  indirect: Map<number, Uint8Array>;
} {
  const per = BLOCK / 4;
  const iblock = new Array(15).fill(0);
  const data: number[] = [], all: number[] = [];
  const indirect = new Map<number, Uint8Array>();
  const get = () => {
    const b = take();
    all.push(b);
    return b;
  };
  const table = () => {
    const b = get();
    const bytes = new Uint8Array(BLOCK);
    indirect.set(b, bytes);
    return { b, v: new DataView(bytes.buffer) };
  };
  let left = count;
  for (let i = 0; i < 12 && left > 0; i++, left--) data.push(iblock[i] = get());
  const fill = (depth: number): number => {
    const t = table();
    for (let i = 0; i < per && left > 0; i++) {
      const b = depth === 1 ? get() : fill(depth - 1);
      if (depth === 1) {
        data.push(b);
        left--;
      }
      t.v.setUint32(4 * i, b, true);
    }
    return t.b;
  };
  for (let depth = 1; depth <= 3 && left > 0; depth++) iblock[11 + depth] = fill(depth);
  if (left > 0) throw new DiskError(`a file of ${count} blocks is past the triple indirect block`);
  return { iblock, data, all, indirect };
}
