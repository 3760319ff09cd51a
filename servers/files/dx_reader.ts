/**
 * The DX path of 000 §5.1: what a clerk reads of the file server's cache areas
 * (cache_area.ts) with remote READs, no control transfer to the server. Each
 * lookup is one READ of the slot the key hashes to (a name, then its child's
 * attributes: two); a file's consecutive blocks are consecutive slots, so a read of
 * up to 64 KiB is one READ; a directory's page, one READ. A slot whose version words differ was being changed:
 * it is read again (up to TORN_TRIES times). A key that does not match, a block
 * not there, or a slot still changing is a miss (null): the caller asks the server
 * over HY, which also puts the entry in its area for the next reader.
 */

import {
  awaitRemote,
  bind,
  closeDescriptor,
  CreateSegment,
  nodeId,
  READ,
  release,
  remoteCounters,
  view,
  waitForName,
} from "../../userland/lib/mod.ts";
import {
  ATTR_AREA,
  attrSlot,
  BLOCK,
  DATA_AREA,
  dataSlot,
  DIR_AREA,
  dirSlot,
  NAME_AREA,
  NAME_KEY_MAX,
  nameSlot,
  readAttr,
  readData,
  readDir,
  readName,
  steady,
} from "./cache_area.ts";
import type { FileAttr } from "./protocol.ts";

/** How many times a slot caught mid-change is read again before it counts as a miss. */
const TORN_TRIES = 4;
/** The most bytes one READ moves (kernel/remote: MAX_PAYLOAD). */
const READ_MAX = 64 * 1024;

const enc = new TextEncoder();

/** DX reads and what came of them. */
export interface DxCounts {
  reads: number;
  hits: number;
  misses: number;
  /** Slot copies that overlapped a change (read again). */
  torn: number;
}

export class DxReader {
  readonly #attr: number;
  readonly #names: number;
  readonly #data: number;
  readonly #dirs: number;
  readonly #local: number;
  readonly #landing: Uint8Array;
  readonly counts: DxCounts = { reads: 0, hits: 0, misses: 0, torn: 0 };

  /** Imports the areas of the file server on `node` (waiting up to `waitMs` for them). */
  constructor(node: number, waitMs = 5_000) {
    // On the server's node itself: a lookup finds its own node's names first.
    const opts = { hint: node, forceRemote: node !== nodeId() };
    const descs: number[] = [];
    try {
      for (const a of [ATTR_AREA, NAME_AREA, DATA_AREA, DIR_AREA]) {
        descs.push(waitForName(a.name, waitMs, opts).desc);
      }
      this.#local = CreateSegment(READ_MAX);
    } catch (e) {
      for (const d of descs) closeDescriptor(d);
      throw e;
    }
    [this.#attr, this.#names, this.#data, this.#dirs] = descs;
    this.#landing = view(bind(this.#local), READ_MAX);
  }

  /** Lets go of the areas and the landing segment. */
  close(): void {
    for (const d of [this.#attr, this.#names, this.#data, this.#dirs]) {
      try {
        closeDescriptor(d);
      } catch {
        // gone with the server already
      }
    }
    release(this.#local);
  }

  /** `count` bytes at `offset` of area `desc`, copied out of the landing segment. */
  #read(desc: number, offset: number, count: number): Uint8Array {
    const before = remoteCounters();
    READ(desc, offset, count, this.#local, 0);
    awaitRemote(before);
    this.counts.reads++;
    return this.#landing.slice(0, count);
  }

  /** One slot, read again while it is caught mid-change; null if it never settled. */
  #slot(desc: number, bytes: number, i: number): Uint8Array | null {
    for (let t = 0; t < TORN_TRIES; t++) {
      const s = this.#read(desc, i * bytes, bytes);
      if (steady(s)) return s;
      this.counts.torn++;
    }
    return null;
  }

  #count<T>(v: T | null): T | null {
    if (v === null) this.counts.misses++;
    else this.counts.hits++;
    return v;
  }

  /** The attributes of `ino`, if its slot holds them. */
  getattr(ino: number): FileAttr | null {
    const s = this.#slot(this.#attr, ATTR_AREA.bytes, attrSlot(ino));
    return this.#count(s && readAttr(s, ino));
  }

  /** The attributes of `name` in directory `dir`, if both slots hold them. */
  lookup(dir: number, name: string): FileAttr | null {
    const key = enc.encode(name);
    if (key.length > NAME_KEY_MAX) return this.#count(null);
    const s = this.#slot(this.#names, NAME_AREA.bytes, nameSlot(dir, key));
    const ino = s && readName(s, dir, key);
    if (ino === null) return this.#count(null);
    return this.getattr(ino);
  }

  /**
   * Directory `dir`'s entries from `first` on, as a READDIR reply's payload (count,
   * more, entries: protocol.ts decodeDirPage), if the area holds that page.
   */
  readdir(dir: number, first: number): Uint8Array | null {
    const s = this.#slot(this.#dirs, DIR_AREA.bytes, dirSlot(dir, first));
    return this.#count(s && readDir(s, dir, first));
  }

  /**
   * `length` bytes at `offset` of the file `a` describes (its size bounds them), if
   * the data area holds every block; null if any is missing.
   */
  read(a: FileAttr, offset: number, length: number, cache?: BlockCache): Uint8Array | null {
    const end = Math.min(a.size, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const first = Math.floor(offset / BLOCK), last = Math.ceil(end / BLOCK);
    const out = new Uint8Array(end - offset);
    const place = (b: number, bytes: Uint8Array) => {
      const from = Math.max(offset, b * BLOCK), to = Math.min(end, (b + 1) * BLOCK);
      out.set(bytes.subarray(from - b * BLOCK, to - b * BLOCK), from - offset);
    };
    for (let b = first; b < last;) {
      const kept = cache?.get(a, b);
      if (kept) {
        place(b++, kept);
        continue;
      }
      // Consecutive slots, up to the end of the area, of one READ, or of the blocks
      // not kept, in one copy.
      const i = dataSlot(a.ino, b);
      let n = Math.min(last - b, DATA_AREA.slots - i, Math.floor(READ_MAX / DATA_AREA.bytes));
      if (cache) { for (let k = 1; k < n; k++) if (cache.has(a, b + k)) n = k; }
      const run = this.#read(this.#data, i * DATA_AREA.bytes, n * DATA_AREA.bytes);
      for (let k = 0; k < n; k++, b++) {
        let slot = run.subarray(k * DATA_AREA.bytes, (k + 1) * DATA_AREA.bytes);
        if (!steady(slot)) {
          this.counts.torn++;
          const again = this.#slot(this.#data, DATA_AREA.bytes, i + k);
          if (!again) return this.#count(null);
          slot = again;
        }
        const bytes = readData(slot, a.ino, a.generation, b);
        // A block shorter than BLOCK before the file's end was cut short since: a miss.
        const want = Math.min(BLOCK, a.size - b * BLOCK);
        if (!bytes || bytes.length < want) return this.#count(null);
        cache?.put(a, b, bytes.slice(0, want));
        place(b, bytes);
      }
    }
    return this.#count(out);
  }
}

/**
 * A clerk's own copies of data blocks (000 §5: clerks cache too), each kept with
 * the version of the file's attributes it was read under and used only while the
 * attributes a reader has just read by DX carry that version. The server rewrites
 * a file's blocks in its data area before its attribute's version changes, so a
 * block read after an attribute of version v is at least that new. Least recently
 * used blocks go first.
 */
export class BlockCache {
  readonly #blocks = new Map<string, { version: number; generation: number; bytes: Uint8Array }>();
  readonly capacity: number;
  hits = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Block `b` of the file `a` describes, if kept under `a`'s version. */
  get(a: FileAttr, b: number): Uint8Array | null {
    const key = `${a.ino}/${b}`, e = this.#blocks.get(key);
    if (!e || e.version !== a.version || e.generation !== a.generation) return null;
    this.#blocks.delete(key); // most recently used: last
    this.#blocks.set(key, e);
    this.hits++;
    return e.bytes;
  }

  has(a: FileAttr, b: number): boolean {
    const e = this.#blocks.get(`${a.ino}/${b}`);
    return e !== undefined && e.version === a.version && e.generation === a.generation;
  }

  put(a: FileAttr, b: number, bytes: Uint8Array): void {
    const key = `${a.ino}/${b}`;
    this.#blocks.delete(key);
    this.#blocks.set(key, { version: a.version, generation: a.generation, bytes });
    if (this.#blocks.size > this.capacity) {
      this.#blocks.delete(this.#blocks.keys().next().value!);
    }
  }

  clear(): void {
    this.#blocks.clear();
  }
}
