/**
 * The ext3 journal (issue 14): JBD2's on-disk log, as Linux's Documentation/
 * filesystems/ext4/journal.rst and fs/jbd2/recovery.c describe it, for the journal
 * `mke2fs -t ext3` makes: a version 2 superblock and no journal features beyond
 * revoke records (no 64bit block numbers, no checksums, no async or fast commit).
 * Every field is big-endian, unlike the rest of ext2. Compat features (v1 commit
 * checksums) are ignored: recovery does not verify them, and commit blocks carry none,
 * which Linux and e2fsck accept.
 *
 * The journal is a file of `s_maxlen` blocks: block 0 is the journal superblock and
 * blocks s_first..s_maxlen-1 a circular log. A transaction is written as descriptor
 * blocks, each followed by copies of the metadata blocks its tags name, then a commit
 * block; every header carries the transaction's sequence number (ID). A copy whose
 * first four bytes are the magic number is stored with them zeroed and its tag marked
 * ESCAPE, so no data block can pass for a header.
 *
 * Commit protocol: descriptors and copies are written and flushed, then the commit
 * block is written and flushed; only then is the transaction durable. The superblock
 * points at the oldest transaction still needed (s_start, s_sequence), and is written
 * only when the log goes from empty to non-empty and back: recovery finds the end of
 * the log by reading forward until a block is not the next ID's header, so the
 * superblock never has to follow the head. IDs only grow (a clean journal's next ID
 * is past s_sequence, as in Linux), so a stale block left by an older transaction can
 * never pass for part of a newer one.
 *
 * Recovery is Linux's three passes: find the first ID without a commit block (a torn
 * transaction and everything after it is ignored), collect revoke records, then write
 * every tagged copy home unless a revoke in the same or a later transaction names its
 * block. Checkpoint writes home the newest committed contents of every block, kept in
 * memory since commit, and marks the journal empty (s_start 0).
 *
 * One Journal belongs to one file system and is used from one thread; `dev` is only
 * written through it for journal blocks and checkpoints.
 */

import type { BlockDevice } from "./block_device.ts";
import { bitNames } from "./ext2_layout.ts";

export const JBD2_MAGIC = 0xc03b3998;

/** h_blocktype values. */
const BlockType = { DESCRIPTOR: 1, COMMIT: 2, SUPERBLOCK_V1: 3, SUPERBLOCK_V2: 4, REVOKE: 5 };

/** Journal superblock fields, by byte offset (journal_superblock_t). */
const Sb = {
  BLOCKSIZE: 0x0c,
  MAXLEN: 0x10,
  FIRST: 0x14,
  SEQUENCE: 0x18,
  START: 0x1c,
  COMPAT: 0x24,
  INCOMPAT: 0x28,
  RO_COMPAT: 0x2c,
  UUID: 0x30,
  NR_USERS: 0x40,
};

/** The common header: h_magic, h_blocktype, h_sequence. */
const HEADER_SIZE = 12;
/** A tag without 64bit or checksum features: t_blocknr, t_checksum (16 bits), t_flags (16 bits). */
const TAG_SIZE = 8;
const UUID_SIZE = 16;
const Tag = { ESCAPE: 0x1, SAME_UUID: 0x2, DELETED: 0x4, LAST_TAG: 0x8 };
/** A revoke block: the header, then r_count (bytes used, header included), then 32-bit blocks. */
const REVOKE_COUNT = 0x0c;
const REVOKE_HEADER_SIZE = 16;
/** Commit block fields (struct commit_header); the checksum fields stay zero. */
const Commit = { SEC: 0x30, NSEC: 0x38 };

/** Incompatible features by name (journal.rst); only revoke is understood here. */
const INCOMPAT_NAMES: Record<number, string> = {
  0x1: "revoke",
  0x2: "64bit",
  0x4: "async_commit",
  0x8: "csum_v2",
  0x10: "csum_v3",
  0x20: "fast_commit",
};
const INCOMPAT_SUPPORTED = 0x1;

/** A journal that is unreadable, unsupported, or too small for a transaction. */
export class JournalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalError";
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function be32(b: Uint8Array, at: number): number {
  return view(b).getUint32(at);
}

function setBe32(b: Uint8Array, at: number, value: number): void {
  view(b).setUint32(at, value);
}

function setHeader(b: Uint8Array, type: number, sequence: number): void {
  const v = view(b);
  v.setUint32(0, JBD2_MAGIC);
  v.setUint32(4, type);
  v.setUint32(8, sequence);
}

/** Transaction IDs wrap at 2^32; `a` comes after `b` if it is less than 2^31 ahead. */
function tidAfter(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

function nextTid(id: number): number {
  return (id + 1) >>> 0;
}

function isBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1024 && n <= 65536 && (n & (n - 1)) === 0;
}

/** How many tags fit in one descriptor: the first carries a UUID, the rest SAME_UUID. */
function tagsPerDescriptor(blockSize: number): number {
  return 1 + Math.floor((blockSize - HEADER_SIZE - TAG_SIZE - UUID_SIZE) / TAG_SIZE);
}

/**
 * The first block of a fresh empty journal of `blocks` blocks, as mke2fs writes it for
 * an internal journal: a v2 superblock with s_first 1, s_sequence 1, s_start 0,
 * s_nr_users 1, no features, and the file system's UUID (zeros if none is given).
 * Linux mounts only journals of at least 1024 blocks; this accepts any of 4 or more.
 */
export function journalSuperblock(
  o: { blockSize: number; blocks: number; uuid?: Uint8Array },
): Uint8Array {
  if (!isBlockSize(o.blockSize)) {
    throw new RangeError(
      `a journal block size of ${o.blockSize} is not a power of two 1024..65536`,
    );
  }
  if (!Number.isInteger(o.blocks) || o.blocks < 4 || o.blocks > 0xffffffff) {
    throw new RangeError(`a journal of ${o.blocks} blocks is not 4 or more`);
  }
  if (o.uuid && o.uuid.length !== UUID_SIZE) {
    throw new RangeError(`a journal UUID of ${o.uuid.length} bytes is not ${UUID_SIZE}`);
  }
  const b = new Uint8Array(o.blockSize);
  setHeader(b, BlockType.SUPERBLOCK_V2, 0);
  setBe32(b, Sb.BLOCKSIZE, o.blockSize);
  setBe32(b, Sb.MAXLEN, o.blocks);
  setBe32(b, Sb.FIRST, 1);
  setBe32(b, Sb.SEQUENCE, 1);
  setBe32(b, Sb.NR_USERS, 1);
  if (o.uuid) b.set(o.uuid, Sb.UUID);
  return b;
}

/** What is wrong with a journal superblock, checked in reading order; null if nothing. */
function superblockProblem(sb: Uint8Array, blockSize: number, blocks: number): string | null {
  const magic = be32(sb, 0), type = be32(sb, 4);
  if (magic !== JBD2_MAGIC) {
    return `bad journal magic 0x${magic.toString(16).padStart(8, "0")} (not 0xc03b3998)`;
  }
  if (type === BlockType.SUPERBLOCK_V1) return "a version 1 journal superblock is not supported";
  if (type !== BlockType.SUPERBLOCK_V2) return `journal block 0 has blocktype ${type}, not 4`;
  const size = be32(sb, Sb.BLOCKSIZE);
  if (size !== blockSize || !isBlockSize(size)) {
    return `journal block size ${size} is not the device's ${blockSize}`;
  }
  const maxlen = be32(sb, Sb.MAXLEN), first = be32(sb, Sb.FIRST), start = be32(sb, Sb.START);
  if (maxlen > blocks) return `journal s_maxlen ${maxlen} is past the journal inode's ${blocks}`;
  if (first < 1 || first >= maxlen) return `journal s_first ${first} is not in 1..${maxlen - 1}`;
  if (start !== 0 && (start < first || start >= maxlen)) {
    return `journal s_start ${start} is not in ${first}..${maxlen - 1}`;
  }
  const unsupported = be32(sb, Sb.INCOMPAT) & ~INCOMPAT_SUPPORTED;
  if (unsupported !== 0) {
    const names = bitNames(INCOMPAT_NAMES, unsupported).join(", ");
    return `unsupported journal incompat feature ${names}`;
  }
  const roCompat = be32(sb, Sb.RO_COMPAT);
  if (roCompat !== 0) return `unsupported journal ro_compat features 0x${roCompat.toString(16)}`;
  return null;
}

/** A descriptor tag: the home block of the copy it describes, and its flags. */
interface TagRecord {
  home: number;
  flags: number;
}

/** The tags of a descriptor block, up to LAST_TAG or the end of the block (count_tags). */
function readTags(block: Uint8Array): TagRecord[] {
  const v = view(block), tags: TagRecord[] = [];
  for (let at = HEADER_SIZE; at + TAG_SIZE <= block.length;) {
    const home = v.getUint32(at), flags = v.getUint16(at + 6);
    tags.push({ home, flags });
    at += TAG_SIZE + (flags & Tag.SAME_UUID ? 0 : UUID_SIZE);
    if (flags & Tag.LAST_TAG) break;
  }
  return tags;
}

/**
 * One transaction's descriptors and copies as the log holds them, contiguous: each
 * descriptor followed by the copies its tags describe, escaped where needed.
 */
function encodeTransaction(
  blocks: [number, Uint8Array][],
  o: { blockSize: number; sequence: number; uuid: Uint8Array },
): Uint8Array {
  const bs = o.blockSize, perDescriptor = tagsPerDescriptor(bs);
  const descriptors = Math.ceil(blocks.length / perDescriptor);
  const out = new Uint8Array((blocks.length + descriptors) * bs);
  let at = 0;
  for (let d = 0; d < descriptors; d++) {
    const group = blocks.slice(d * perDescriptor, (d + 1) * perDescriptor);
    const descriptor = out.subarray(at, at + bs), v = view(descriptor);
    setHeader(descriptor, BlockType.DESCRIPTOR, o.sequence);
    at += bs;
    let tag = HEADER_SIZE;
    group.forEach(([home, data], i) => {
      out.set(data, at);
      let flags = i === 0 ? 0 : Tag.SAME_UUID;
      if (i === group.length - 1) flags |= Tag.LAST_TAG;
      if (be32(data, 0) === JBD2_MAGIC) {
        flags |= Tag.ESCAPE;
        out.fill(0, at, at + 4);
      }
      v.setUint32(tag, home);
      v.setUint16(tag + 6, flags);
      tag += TAG_SIZE;
      if (i === 0) {
        descriptor.set(o.uuid, tag);
        tag += UUID_SIZE;
      }
      at += bs;
    });
  }
  return out;
}

/** A commit block for transaction `sequence` at `ms` since the epoch (no checksum). */
function commitBlock(blockSize: number, sequence: number, ms: number): Uint8Array {
  const b = new Uint8Array(blockSize), v = view(b);
  setHeader(b, BlockType.COMMIT, sequence);
  const sec = Math.floor(ms / 1000);
  v.setBigUint64(Commit.SEC, BigInt(sec));
  v.setUint32(Commit.NSEC, Math.floor((ms - sec * 1000) * 1e6));
  return b;
}

/** A header block met while walking the log: where it is, and the journal block after it. */
interface LogRecord {
  type: number;
  sequence: number;
  block: Uint8Array;
  at: number;
  next: number;
}

/** A JBD2 journal on a device, through the map from journal blocks to device blocks. */
export class Journal {
  readonly blockSize: number;
  readonly #dev: BlockDevice;
  readonly #map: (i: number) => number;
  readonly #now: () => number;
  /** The superblock's bytes, kept whole so fields this code does not know survive. */
  readonly #sb: Uint8Array;
  readonly #uuid: Uint8Array;
  /** The log: journal blocks first..last-1, circular. */
  readonly #first: number;
  readonly #last: number;
  /** The oldest transaction still needed (s_start, 0 if none) and its ID. */
  #tail: number;
  #tailSequence: number;
  /** Where and with which ID the next transaction is written. */
  #head: number;
  #sequence: number;
  /** Log blocks held by transactions not yet checkpointed. */
  #used: number;
  /** Set at load while transactions from before it wait in the log: recover() first. */
  #unrecovered: boolean;
  /** The newest committed contents of every block not yet checkpointed. */
  readonly #newest = new Map<number, Uint8Array>();
  readonly #pending = new Set<number>();

  private constructor(
    dev: BlockDevice,
    map: (i: number) => number,
    sb: Uint8Array,
    now: () => number,
  ) {
    this.#dev = dev;
    this.#map = map;
    this.#now = now;
    this.#sb = sb;
    this.blockSize = dev.blockSize;
    this.#uuid = sb.slice(Sb.UUID, Sb.UUID + UUID_SIZE);
    this.#first = be32(sb, Sb.FIRST);
    this.#last = be32(sb, Sb.MAXLEN);
    this.#tail = be32(sb, Sb.START);
    this.#tailSequence = be32(sb, Sb.SEQUENCE);
    this.#head = this.#first;
    this.#sequence = nextTid(this.#tailSequence);
    this.#unrecovered = this.#tail !== 0;
    this.#used = this.#unrecovered ? this.capacity : 0;
  }

  /**
   * Reads and validates the journal superblock. `map(i)` gives the device block of
   * journal block i (0 is the superblock) for i < `blocks`, the journal inode's size in
   * blocks. Throws JournalError naming what is wrong: bad magic, not a v2 superblock, a
   * block size other than the device's, s_maxlen past `blocks`, s_first or s_start
   * outside the log, or an incompat feature other than revoke. `now` (milliseconds
   * since the epoch) stamps commit blocks.
   */
  static load(
    dev: BlockDevice,
    map: (i: number) => number,
    blocks: number,
    o: { now?: () => number } = {},
  ): Journal {
    if (!Number.isInteger(blocks) || blocks < 2) {
      throw new JournalError(`a journal of ${blocks} blocks is too small`);
    }
    const sb = dev.read(map(0));
    const problem = superblockProblem(sb, dev.blockSize, blocks);
    if (problem) throw new JournalError(problem);
    return new Journal(dev, map, sb, o.now ?? Date.now);
  }

  /** True while the log holds transactions not yet checkpointed (s_start != 0). */
  get needsRecovery(): boolean {
    return this.#tail !== 0;
  }

  /** The log's size: the blocks a transaction may use in an empty journal. */
  get capacity(): number {
    return this.#last - this.#first;
  }

  /** Log blocks free for the next commit (0 until a journal loaded dirty is recovered). */
  get free(): number {
    return this.capacity - this.#used;
  }

  /** The log blocks a commit of `count` blocks takes: descriptors, copies and the commit. */
  blocksNeeded(count: number): number {
    return count === 0 ? 0 : count + Math.ceil(count / tagsPerDescriptor(this.blockSize)) + 1;
  }

  /** Committed blocks not yet written home (home block numbers). */
  get pending(): ReadonlySet<number> {
    return this.#pending;
  }

  /**
   * Replays every committed transaction onto its home blocks, flushes, then marks the
   * journal empty with s_sequence past the last transaction seen and flushes again. A
   * torn last transaction (no commit block) is ignored. Returns how many transactions
   * were replayed and how many block copies were written home. Throws JournalError if
   * the log names a home block past the device or a revoke block is malformed.
   */
  recover(): { transactions: number; blocks: number } {
    if (this.#tail === 0) return { transactions: 0, blocks: 0 };
    const end = this.#walk(null, () => {});
    const revoked = this.#collectRevokes(end);
    const blocks = this.#replay(end, revoked);
    this.#dev.flush();
    const transactions = (end - this.#tailSequence) >>> 0;
    this.#sequence = nextTid(end);
    this.#head = this.#first;
    this.#unrecovered = false;
    this.#markEmpty();
    return { transactions, blocks };
  }

  /**
   * Appends one transaction of `blocks` (home block number -> blockSize bytes) to the
   * log: descriptors and copies, a flush, the commit block, a flush. Once it returns the
   * transaction is durable and recovery would replay it. The newest contents of each
   * block stay in memory for checkpoint(). Checkpoints first if the free space is too
   * small; throws JournalError if even an empty journal is. An empty map commits nothing.
   */
  commit(blocks: Map<number, Uint8Array>): void {
    this.#mustBeRecovered("commit");
    if (blocks.size === 0) return;
    for (const [home, data] of blocks) this.#checkBlock(home, data);
    const need = this.blocksNeeded(blocks.size);
    if (need > this.capacity) {
      throw new JournalError(
        `a transaction of ${blocks.size} blocks needs ${need} journal blocks; ` +
          `the log has ${this.capacity}`,
      );
    }
    if (need > this.free) this.checkpoint();
    const start = this.#head, sequence = this.#sequence;
    const log = encodeTransaction([...blocks], {
      blockSize: this.blockSize,
      sequence,
      uuid: this.#uuid,
    });
    if (this.#tail === 0) {
      this.#tail = start;
      this.#tailSequence = sequence;
      this.#writeSuperblock();
    }
    this.#writeLog(start, log);
    this.#dev.flush();
    this.#writeLog(
      this.#wrap(start + need - 1),
      commitBlock(this.blockSize, sequence, this.#now()),
    );
    this.#dev.flush();
    this.#head = this.#wrap(start + need);
    this.#sequence = nextTid(sequence);
    this.#used += need;
    for (const [home, data] of blocks) {
      this.#newest.set(home, data.slice());
      this.#pending.add(home);
    }
  }

  /**
   * Writes every committed block's newest contents home, flushes, marks the journal
   * empty (s_start 0) and flushes. The next transaction goes on where the last ended.
   */
  checkpoint(): void {
    this.#mustBeRecovered("checkpoint");
    if (this.#tail === 0) return;
    const homes = [...this.#newest.keys()].sort((a, b) => a - b);
    for (let i = 0; i < homes.length;) {
      let n = 1;
      while (i + n < homes.length && homes[i + n] === homes[i] + n) n++;
      this.#dev.write(
        homes[i],
        this.#concat(homes.slice(i, i + n).map((h) => this.#newest.get(h)!)),
      );
      i += n;
    }
    this.#dev.flush();
    this.#markEmpty();
  }

  #mustBeRecovered(what: string): void {
    if (this.#unrecovered) {
      throw new JournalError(`cannot ${what}: the journal holds transactions to recover first`);
    }
  }

  #checkBlock(home: number, data: Uint8Array): void {
    if (!Number.isInteger(home) || home < 0 || home >= this.#dev.blocks || home > 0xffffffff) {
      throw new RangeError(`block ${home} is not on the device's ${this.#dev.blocks} blocks`);
    }
    if (data.length !== this.blockSize) {
      throw new RangeError(
        `block ${home}'s ${data.length} bytes are not one ${this.blockSize}-byte block`,
      );
    }
  }

  /** Forgets every transaction and writes the superblock with s_start 0, then flushes. */
  #markEmpty(): void {
    this.#tail = 0;
    this.#used = 0;
    this.#newest.clear();
    this.#pending.clear();
    this.#writeSuperblock();
    this.#dev.flush();
  }

  /** Writes s_start and s_sequence: the tail transaction, or the next ID if empty. */
  #writeSuperblock(): void {
    setBe32(this.#sb, Sb.START, this.#tail);
    setBe32(this.#sb, Sb.SEQUENCE, this.#tail === 0 ? this.#sequence : this.#tailSequence);
    this.#dev.write(this.#map(0), this.#sb);
  }

  /** Journal block `i` folded back into the circular log first..last-1. */
  #wrap(i: number): number {
    return this.#first + ((i - this.#first) % this.capacity);
  }

  /** Writes whole blocks to the log from journal block `at`, a run per contiguous extent. */
  #writeLog(at: number, bytes: Uint8Array): void {
    const bs = this.blockSize, count = bytes.length / bs;
    for (let i = 0; i < count;) {
      const j = this.#wrap(at + i), device = this.#map(j);
      let n = 1;
      while (i + n < count && j + n < this.#last && this.#map(j + n) === device + n) n++;
      this.#dev.write(device, bytes.subarray(i * bs, (i + n) * bs));
      i += n;
    }
  }

  #readLog(at: number): Uint8Array {
    return this.#dev.read(this.#map(at));
  }

  #concat(blocks: Uint8Array[]): Uint8Array {
    if (blocks.length === 1) return blocks[0];
    const out = new Uint8Array(blocks.length * this.blockSize);
    blocks.forEach((b, i) => out.set(b, i * this.blockSize));
    return out;
  }

  /**
   * Walks the log from s_start as Linux's do_one_pass does, handing `visit` each
   * descriptor and revoke block of the transactions before `end` (of all it finds if
   * `end` is null). Stops at the first block that is not a header of the expected ID.
   * Returns the ID of the first transaction without a commit block.
   */
  #walk(end: number | null, visit: (r: LogRecord) => void): number {
    let sequence = this.#tailSequence, at = this.#tail, read = 0;
    while (end === null || tidAfter(end, sequence)) {
      if (read > this.capacity) {
        throw new JournalError(`the journal's log from block ${this.#tail} does not end`);
      }
      const block = this.#readLog(at);
      if (be32(block, 0) !== JBD2_MAGIC || be32(block, 8) !== sequence) break;
      const type = be32(block, 4);
      let next = this.#wrap(at + 1);
      read++;
      if (type === BlockType.DESCRIPTOR) {
        visit({ type, sequence, block, at, next });
        const tags = readTags(block).length;
        next = this.#wrap(next + tags);
        read += tags;
      } else if (type === BlockType.REVOKE) visit({ type, sequence, block, at, next });
      else if (type === BlockType.COMMIT) sequence = nextTid(sequence);
      else break;
      at = next;
    }
    return sequence;
  }

  /** Pass 2: every revoked block, with the latest transaction that revoked it. */
  #collectRevokes(end: number): Map<number, number> {
    const revoked = new Map<number, number>();
    this.#walk(end, ({ type, sequence, block, at }) => {
      if (type !== BlockType.REVOKE) return;
      const count = be32(block, REVOKE_COUNT);
      if (count > this.blockSize) {
        throw new JournalError(`the revoke block at journal block ${at} has r_count ${count}`);
      }
      for (let i = REVOKE_HEADER_SIZE; i + 4 <= count; i += 4) {
        const home = be32(block, i), latest = revoked.get(home);
        if (latest === undefined || tidAfter(sequence, latest)) revoked.set(home, sequence);
      }
    });
    return revoked;
  }

  /** Pass 3: writes home every copy no revoke covers; returns how many it wrote. */
  #replay(end: number, revoked: Map<number, number>): number {
    let written = 0;
    this.#walk(end, ({ type, sequence, block, next }) => {
      if (type !== BlockType.DESCRIPTOR) return;
      let at = next;
      for (const { home, flags } of readTags(block)) {
        const copyAt = at;
        at = this.#wrap(at + 1);
        const latest = revoked.get(home);
        if (latest !== undefined && !tidAfter(sequence, latest)) continue;
        if (home >= this.#dev.blocks) {
          throw new JournalError(
            `transaction ${sequence} names block ${home}, past the device's ${this.#dev.blocks}`,
          );
        }
        const copy = this.#readLog(copyAt);
        if (flags & Tag.ESCAPE) setBe32(copy, 0, JBD2_MAGIC);
        this.#dev.write(home, copy);
        written++;
      }
    });
    return written;
  }
}
