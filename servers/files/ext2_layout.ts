/**
 * The ext2 disk format (issue 14), as the Linux kernel's Documentation/filesystems/
 * ext4/ describes it for a revision 1 file system: the superblock, block group
 * descriptors, inodes and directory entries, read and written in place in the bytes
 * of their blocks (little-endian), so fields this code does not know survive.
 *
 * The feature set is that of `mke2fs -t ext3 -O ^dir_index,^resize_inode`:
 * has_journal and ext_attr (compat), filetype (incompat, and recover while a journal
 * waits to be replayed), sparse_super and large_file (ro_compat). Images with other
 * features are refused at mount (ext2_fs.ts), each by name.
 */

/** The superblock's magic number. */
export const EXT2_MAGIC = 0xef53;
/** Where the superblock lies on the disk, and its size. */
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
/** The size of an inode record before the extra fields (i_extra_isize counts from here). */
export const GOOD_OLD_INODE_SIZE = 128;
/** A group descriptor's size without the 64bit feature. */
export const GROUP_DESC_SIZE = 32;

/** Reserved inodes. */
export const Ino = {
  BAD_BLOCKS: 1,
  ROOT: 2,
  RESIZE: 7,
  JOURNAL: 8,
  /** The first inode a file may have (s_first_ino on revision 1). */
  FIRST: 11,
} as const;

export const Compat = { HAS_JOURNAL: 0x4, EXT_ATTR: 0x8, RESIZE_INODE: 0x10, DIR_INDEX: 0x20 };
export const Incompat = { FILETYPE: 0x2, RECOVER: 0x4 };
export const RoCompat = { SPARSE_SUPER: 0x1, LARGE_FILE: 0x2 };

/** The names of feature bits, for mount's refusals (the ext4 documentation's table). */
export const FEATURE_NAMES: Record<"compat" | "incompat" | "roCompat", Record<number, string>> = {
  compat: {
    0x1: "dir_prealloc",
    0x2: "imagic_inodes",
    0x4: "has_journal",
    0x8: "ext_attr",
    0x10: "resize_inode",
    0x20: "dir_index",
    0x40: "lazy_bg",
    0x200: "sparse_super2",
    0x400: "fast_commit",
    0x800: "stable_inodes",
    0x1000: "orphan_file",
  },
  incompat: {
    0x1: "compression",
    0x2: "filetype",
    0x4: "needs_recovery",
    0x8: "journal_dev",
    0x10: "meta_bg",
    0x40: "extent",
    0x80: "64bit",
    0x100: "mmp",
    0x200: "flex_bg",
    0x400: "ea_inode",
    0x1000: "dirdata",
    0x2000: "metadata_csum_seed",
    0x4000: "large_dir",
    0x8000: "inline_data",
    0x10000: "encrypt",
    0x20000: "casefold",
  },
  roCompat: {
    0x1: "sparse_super",
    0x2: "large_file",
    0x4: "btree_dir",
    0x8: "huge_file",
    0x10: "gdt_csum",
    0x20: "dir_nlink",
    0x40: "extra_isize",
    0x100: "quota",
    0x200: "bigalloc",
    0x400: "metadata_csum",
    0x1000: "read-only",
    0x2000: "project",
    0x8000: "verity",
    0x10000: "orphan_present",
  },
};

/** The names `table` gives the bits set in `bits` (a feature word), unknown ones in hex. */
export function bitNames(table: Record<number, string>, bits: number): string[] {
  const out: string[] = [];
  const set = bits >>> 0;
  for (let b = 1; b !== 0 && b <= set; b = (b << 1) >>> 0) {
    if ((set & b) >>> 0 === b) out.push(table[b] ?? `0x${b.toString(16)}`);
  }
  return out;
}

/** Superblock state. */
export const State = { VALID: 1, ERROR: 2 } as const;

/** i_mode's file type bits. */
export const Mode = {
  TYPE: 0o170000,
  REG: 0o100000,
  DIR: 0o040000,
  LNK: 0o120000,
} as const;

/** A directory entry's file_type (the filetype feature). */
export const FileType = { UNKNOWN: 0, REG: 1, DIR: 2, CHR: 3, BLK: 4, FIFO: 5, SOCK: 6, LNK: 7 };

/** The file_type of a mode. */
export function fileTypeOf(mode: number): number {
  switch (mode & Mode.TYPE) {
    case Mode.REG:
      return FileType.REG;
    case Mode.DIR:
      return FileType.DIR;
    case Mode.LNK:
      return FileType.LNK;
    default:
      return FileType.UNKNOWN;
  }
}

/** An inode's i_flags bit: a hashed-index (htree) directory, which is also linear. */
export const INDEX_FL = 0x1000;

/** The longest name a directory entry holds. */
export const NAME_MAX = 255;

/** Fields at byte offsets in a DataView, little-endian: a thin reader and writer. */
class Fields {
  readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(at: number): number {
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  set8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  set16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  set32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
}

/** The superblock, over its 1,024 bytes. */
export class Superblock extends Fields {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    super(bytes);
    this.bytes = bytes;
  }
  get inodesCount(): number {
    return this.u32(0x00);
  }
  set inodesCount(v: number) {
    this.set32(0x00, v);
  }
  get blocksCount(): number {
    return this.u32(0x04);
  }
  set blocksCount(v: number) {
    this.set32(0x04, v);
  }
  get reservedBlocks(): number {
    return this.u32(0x08);
  }
  set reservedBlocks(v: number) {
    this.set32(0x08, v);
  }
  get freeBlocks(): number {
    return this.u32(0x0c);
  }
  set freeBlocks(v: number) {
    this.set32(0x0c, v);
  }
  get freeInodes(): number {
    return this.u32(0x10);
  }
  set freeInodes(v: number) {
    this.set32(0x10, v);
  }
  get firstDataBlock(): number {
    return this.u32(0x14);
  }
  set firstDataBlock(v: number) {
    this.set32(0x14, v);
  }
  get logBlockSize(): number {
    return this.u32(0x18);
  }
  set logBlockSize(v: number) {
    this.set32(0x18, v);
    this.set32(0x1c, v); // s_log_cluster_size: a fragment is a block
  }
  get blocksPerGroup(): number {
    return this.u32(0x20);
  }
  set blocksPerGroup(v: number) {
    this.set32(0x20, v);
    this.set32(0x24, v); // s_clusters_per_group
  }
  get inodesPerGroup(): number {
    return this.u32(0x28);
  }
  set inodesPerGroup(v: number) {
    this.set32(0x28, v);
  }
  get mtime(): number {
    return this.u32(0x2c);
  }
  set mtime(v: number) {
    this.set32(0x2c, v);
  }
  set wtime(v: number) {
    this.set32(0x30, v);
  }
  get mountCount(): number {
    return this.u16(0x34);
  }
  set mountCount(v: number) {
    this.set16(0x34, v & 0xffff);
  }
  get magic(): number {
    return this.u16(0x38);
  }
  get state(): number {
    return this.u16(0x3a);
  }
  set state(v: number) {
    this.set16(0x3a, v);
  }
  get revLevel(): number {
    return this.u32(0x4c);
  }
  get firstIno(): number {
    return this.u32(0x54);
  }
  get inodeSize(): number {
    return this.u16(0x58);
  }
  set groupNr(v: number) {
    this.set16(0x5a, v);
  }
  get compat(): number {
    return this.u32(0x5c);
  }
  get incompat(): number {
    return this.u32(0x60);
  }
  set incompat(v: number) {
    this.set32(0x60, v);
  }
  get roCompat(): number {
    return this.u32(0x64);
  }
  get uuid(): Uint8Array {
    return this.bytes.slice(0x68, 0x78);
  }
  get journalInode(): number {
    return this.u32(0xe0);
  }
  get journalDev(): number {
    return this.u32(0xe4);
  }
  get lastOrphan(): number {
    return this.u32(0xe8);
  }
  set lastOrphan(v: number) {
    this.set32(0xe8, v);
  }
  get wantExtraIsize(): number {
    return this.u16(0x15e);
  }
  get blockSize(): number {
    return 1024 << this.logBlockSize;
  }
  get groups(): number {
    return Math.ceil((this.blocksCount - this.firstDataBlock) / this.blocksPerGroup);
  }
}

/** A block group descriptor, over its 32 bytes in the descriptor table. */
export class GroupDesc extends Fields {
  get blockBitmap(): number {
    return this.u32(0x00);
  }
  set blockBitmap(v: number) {
    this.set32(0x00, v);
  }
  get inodeBitmap(): number {
    return this.u32(0x04);
  }
  set inodeBitmap(v: number) {
    this.set32(0x04, v);
  }
  get inodeTable(): number {
    return this.u32(0x08);
  }
  set inodeTable(v: number) {
    this.set32(0x08, v);
  }
  get freeBlocks(): number {
    return this.u16(0x0c);
  }
  set freeBlocks(v: number) {
    this.set16(0x0c, v);
  }
  get freeInodes(): number {
    return this.u16(0x0e);
  }
  set freeInodes(v: number) {
    this.set16(0x0e, v);
  }
  get usedDirs(): number {
    return this.u16(0x10);
  }
  set usedDirs(v: number) {
    this.set16(0x10, v);
  }
  get flags(): number {
    return this.u16(0x12);
  }
}

/** The number of i_block entries: 12 direct, then single, double, triple indirect. */
export const N_BLOCKS = 15;
export const DIRECT_BLOCKS = 12;

/** An inode record, over its bytes in an inode table block (inodeSize of them). */
export class InodeRecord extends Fields {
  readonly size: number;
  constructor(bytes: Uint8Array) {
    super(bytes);
    this.size = bytes.length;
  }
  get mode(): number {
    return this.u16(0x00);
  }
  set mode(v: number) {
    this.set16(0x00, v);
  }
  get uid(): number {
    return this.u16(0x02) | (this.u16(0x78) << 16);
  }
  set uid(v: number) {
    this.set16(0x02, v & 0xffff);
    this.set16(0x78, v >>> 16);
  }
  get gid(): number {
    return this.u16(0x18) | (this.u16(0x7a) << 16);
  }
  set gid(v: number) {
    this.set16(0x18, v & 0xffff);
    this.set16(0x7a, v >>> 16);
  }
  /** i_size_lo and i_size_high (large_file). */
  get fileSize(): number {
    return this.u32(0x04) + this.u32(0x6c) * 2 ** 32;
  }
  set fileSize(v: number) {
    this.set32(0x04, v % 2 ** 32);
    this.set32(0x6c, Math.floor(v / 2 ** 32));
  }
  get atime(): number {
    return this.u32(0x08);
  }
  set atime(v: number) {
    this.set32(0x08, v);
  }
  get ctime(): number {
    return this.u32(0x0c);
  }
  set ctime(v: number) {
    this.set32(0x0c, v);
  }
  get mtime(): number {
    return this.u32(0x10);
  }
  set mtime(v: number) {
    this.set32(0x10, v);
  }
  get dtime(): number {
    return this.u32(0x14);
  }
  set dtime(v: number) {
    this.set32(0x14, v);
  }
  get links(): number {
    return this.u16(0x1a);
  }
  set links(v: number) {
    this.set16(0x1a, v);
  }
  /** i_blocks: 512-byte sectors held, indirect blocks included (no huge_file). */
  get sectors(): number {
    return this.u32(0x1c) + this.u16(0x74) * 2 ** 32;
  }
  set sectors(v: number) {
    this.set32(0x1c, v % 2 ** 32);
    this.set16(0x74, Math.floor(v / 2 ** 32));
  }
  get flags(): number {
    return this.u32(0x20);
  }
  set flags(v: number) {
    this.set32(0x20, v);
  }
  block(i: number): number {
    return this.u32(0x28 + 4 * i);
  }
  setBlock(i: number, v: number): void {
    this.set32(0x28 + 4 * i, v);
  }
  get generation(): number {
    return this.u32(0x64);
  }
  set generation(v: number) {
    this.set32(0x64, v);
  }
  get fileAcl(): number {
    return this.u32(0x68);
  }
  set fileAcl(v: number) {
    this.set32(0x68, v);
  }
  get extraIsize(): number {
    return this.size > GOOD_OLD_INODE_SIZE ? this.u16(0x80) : 0;
  }
  /** Creation time (i_crtime), in the extra fields when there is room. */
  set crtime(v: number) {
    if (this.extraIsize >= 0x18) this.set32(0x90, v);
  }
  /**
   * Makes the record a fresh inode: every byte zero but i_extra_isize (as mke2fs
   * and the kernel set it, `extra` bytes of the large inode's fields).
   */
  reset(extra: number): void {
    new Uint8Array(this.view.buffer, this.view.byteOffset, this.size).fill(0);
    if (this.size > GOOD_OLD_INODE_SIZE) this.set16(0x80, extra);
  }
}

/** A directory entry's fixed part: inode, rec_len, name_len, file_type. */
export const DIRENT_HEADER = 8;

/** The space an entry for a name of `nameLen` bytes needs (rounded to 4). */
export function direntSize(nameLen: number): number {
  return (DIRENT_HEADER + nameLen + 3) & ~3;
}

/** One entry of a directory block, where it lies. */
export interface Dirent {
  offset: number;
  inode: number;
  recLen: number;
  name: Uint8Array;
  fileType: number;
}

/** Thrown for a directory block whose entries do not tile it. */
export class CorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CorruptError";
  }
}

/** The entries of a directory block (inode 0: a free slot), checked to tile the block. */
export function direntsOf(block: Uint8Array, where: string): Dirent[] {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const out: Dirent[] = [];
  for (let at = 0; at < block.length;) {
    if (at + DIRENT_HEADER > block.length) {
      throw new CorruptError(`${where}: a directory entry at ${at} runs past the block`);
    }
    const inode = v.getUint32(at, true), recLen = v.getUint16(at + 4, true);
    const nameLen = v.getUint8(at + 6), fileType = v.getUint8(at + 7);
    if (recLen < DIRENT_HEADER || recLen % 4 !== 0 || at + recLen > block.length) {
      throw new CorruptError(`${where}: directory entry at ${at} has rec_len ${recLen}`);
    }
    if (inode !== 0 && direntSize(nameLen) > recLen) {
      throw new CorruptError(`${where}: directory entry at ${at}: name of ${nameLen} in ${recLen}`);
    }
    out.push({
      offset: at,
      inode,
      recLen,
      name: block.subarray(at + DIRENT_HEADER, at + DIRENT_HEADER + nameLen),
      fileType,
    });
    at += recLen;
  }
  return out;
}

/** Writes an entry's header and name at `offset` of a directory block. */
export function writeDirent(
  block: Uint8Array,
  offset: number,
  inode: number,
  recLen: number,
  name: Uint8Array,
  fileType: number,
): void {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  v.setUint32(offset, inode, true);
  v.setUint16(offset + 4, recLen, true);
  v.setUint8(offset + 6, name.length);
  v.setUint8(offset + 7, fileType);
  block.set(name, offset + DIRENT_HEADER);
}

/** True if group `g` holds a backup of the superblock (sparse_super: 0, 1, powers of 3, 5, 7). */
export function hasSuperBackup(g: number, sparse: boolean): boolean {
  if (!sparse || g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let n = base;
    while (n < g) n *= base;
    if (n === g) return true;
  }
  return false;
}
