/**
 * The file server's caches as remote memory (000 §5.1): areas of fixed-size slots
 * in segments the server exports read-only, laid out as hash tables in the manner
 * of the name server's registry, so that a clerk on another node finds an entry
 * with one remote READ at a slot it computes itself (DX: no control transfer). The
 * server is the only writer; it keeps the areas current with every change it makes.
 *
 *   area          export          slots   bytes   key                      payload
 *   attributes    files.attr       4096      64   ino, generation          the attribute record (protocol.ts)
 *   names         files.names      4096     128   directory ino, name      the child's ino
 *   data          files.data       1024    4160   ino, generation, block   the block's valid bytes
 *   directories   files.dirs        512    4160   directory ino, first     a READDIR page (protocol.ts)
 *
 * A slot is direct-mapped (its key's hash modulo the slots; a data block's slot is
 * the file's hash plus its block number, so a file's consecutive blocks lie side by
 * side and one READ fetches several). Every slot starts and ends with a version
 * word. The server changes a slot as: last word := v+1 (odd), the body, first word
 * := v+2, last word := v+2. A reader that copies the slot front to back (a remote
 * READ does) uses it only if both words are equal and even: any copy that overlaps
 * a change sees them differ, so no torn entry is ever used; it reads again or asks
 * the server (HY). A key that does not match is a miss.
 *
 * A directory's page holds the entries from one index on, as many as fit in the
 * slot (the rest are another page, at the index after them); every change to the
 * directory empties all of its pages.
 */

import {
  ATTR_BYTES,
  CACHE_AREA_NAMES,
  decodeAttr,
  type DirPageEntry,
  encodeAttr,
  encodeDirPage,
  type FileAttr,
} from "./protocol.ts";

export interface AreaShape {
  readonly name: string;
  readonly slots: number;
  readonly bytes: number;
}

const [ATTRS, NAMES, DATA, DIRS] = CACHE_AREA_NAMES;
export const ATTR_AREA: AreaShape = { name: ATTRS, slots: 4096, bytes: 64 };
export const NAME_AREA: AreaShape = { name: NAMES, slots: 4096, bytes: 128 };
export const DATA_AREA: AreaShape = { name: DATA, slots: 1024, bytes: 4160 };
export const DIR_AREA: AreaShape = { name: DIRS, slots: 512, bytes: 4160 };
/** The four areas, in the order CacheAreas takes them. */
export const AREAS = [ATTR_AREA, NAME_AREA, DATA_AREA, DIR_AREA] as const;
/** The longest name a name slot holds (longer ones are never cached: HY). */
export const NAME_KEY_MAX = 100;
/** Where a data or directory slot's bytes begin. */
const DATA_AT = 32;
/** The most bytes of a READDIR page (after its status byte) a directory slot holds. */
const DIR_PAGE_MAX = DIR_AREA.bytes - DATA_AT - 4;
export const BLOCK = 4096;

/** FNV-1a over a key's words and bytes. */
function hash(words: number[], bytes?: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    for (let i = 0; i < 4; i++) h = Math.imul(h ^ ((w >>> (8 * i)) & 0xff), 0x01000193);
  }
  if (bytes) { for (const b of bytes) h = Math.imul(h ^ b, 0x01000193); }
  return h >>> 0;
}

export function attrSlot(ino: number): number {
  return hash([ino]) % ATTR_AREA.slots;
}

export function nameSlot(dir: number, name: Uint8Array): number {
  return hash([dir], name) % NAME_AREA.slots;
}

/** The slot of block `block` of a file (a file's blocks are consecutive slots). */
export function dataSlot(ino: number, block: number): number {
  return (hash([ino]) + block) % DATA_AREA.slots;
}

/** The slot of the page of directory `dir` that starts at entry `first`. */
export function dirSlot(dir: number, first: number): number {
  return hash([dir, first]) % DIR_AREA.slots;
}

/** The version words of a slot copy are equal and even: a whole, unchanging entry. */
export function steady(slot: Uint8Array): boolean {
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  const first = v.getUint32(0, true), last = v.getUint32(slot.length - 4, true);
  return first === last && (first & 1) === 0;
}

/** One area in the server's memory: `words` aliases its segment (pinned). */
export class AreaWriter {
  readonly shape: AreaShape;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;

  constructor(shape: AreaShape, words: Int32Array) {
    this.shape = shape;
    this.#words = words;
    this.#bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  }

  /** Rewrites slot `i`: `fill` writes the body (bytes between the version words). */
  write(i: number, fill: (body: DataView, bytes: Uint8Array) => void): void {
    const w = this.#words, per = this.shape.bytes / 4, first = i * per, last = first + per - 1;
    const v = Atomics.load(w, first);
    Atomics.store(w, last, (v + 1) | 0); // odd: a change is under way
    const at = i * this.shape.bytes;
    const body = this.#bytes.subarray(at + 4, at + this.shape.bytes - 4);
    fill(new DataView(body.buffer, body.byteOffset, body.byteLength), body);
    Atomics.store(w, first, (v + 2) | 0);
    Atomics.store(w, last, (v + 2) | 0);
  }

  /** The body of slot `i` as it is now (the server's own reads: it is the only writer). */
  body(i: number): DataView {
    const at = i * this.shape.bytes + 4;
    return new DataView(this.#bytes.buffer, this.#bytes.byteOffset + at, this.shape.bytes - 8);
  }
}

/** The server's four areas and the changes it makes to them. */
export class CacheAreas {
  readonly attr: AreaWriter;
  readonly names: AreaWriter;
  readonly data: AreaWriter;
  readonly dirs: AreaWriter;
  /** The pages each directory has in the area (by first entry), to empty at a change. */
  readonly #dirPages = new Map<number, Set<number>>();

  constructor(attr: Int32Array, names: Int32Array, data: Int32Array, dirs: Int32Array) {
    this.attr = new AreaWriter(ATTR_AREA, attr);
    this.names = new AreaWriter(NAME_AREA, names);
    this.data = new AreaWriter(DATA_AREA, data);
    this.dirs = new AreaWriter(DIR_AREA, dirs);
  }

  /** Directory `dir`'s entries (`all`, as READDIR gives them) from `first` on. */
  putDir(dir: number, first: number, all: readonly DirPageEntry[]): void {
    const page = encodeDirPage(all, first, DIR_PAGE_MAX + 1).subarray(1);
    const i = dirSlot(dir, first), was = this.dirs.body(i);
    // The slot's last holder loses it: forget its page there.
    const holder = was.getUint32(0, true), pages = this.#dirPages.get(holder);
    if (holder !== 0 && pages) {
      pages.delete(was.getUint32(4, true));
      if (pages.size === 0) this.#dirPages.delete(holder);
    }
    this.dirs.write(i, (body, raw) => {
      body.setUint32(0, dir, true);
      body.setUint32(4, first, true);
      body.setUint32(8, page.length, true);
      raw.set(page, DATA_AT - 4);
    });
    let mine = this.#dirPages.get(dir);
    if (!mine) this.#dirPages.set(dir, mine = new Set());
    mine.add(first);
  }

  /** Directory `dir` changed (or is gone): none of its pages is current. */
  dropDir(dir: number): void {
    const pages = this.#dirPages.get(dir);
    if (!pages) return;
    this.#dirPages.delete(dir);
    for (const first of pages) {
      const i = dirSlot(dir, first), b = this.dirs.body(i);
      if (b.getUint32(0, true) === dir && b.getUint32(4, true) === first) {
        this.dirs.write(i, (body) => body.setUint32(0, 0, true));
      }
    }
  }

  /** The attributes of `a.ino` are now `a`. */
  putAttr(a: FileAttr): void {
    this.attr.write(attrSlot(a.ino), (body, bytes) => {
      body.setUint32(0, a.ino, true);
      encodeAttr(a, bytes, 4);
    });
  }

  /** Inode `ino` is gone: its attribute slot (if it holds it) is emptied. */
  dropAttr(ino: number): void {
    const i = attrSlot(ino);
    if (this.attr.body(i).getUint32(0, true) === ino) {
      this.attr.write(i, (body) => body.setUint32(0, 0, true));
    }
  }

  /** `name` in `dir` is `ino` (a name too long for a slot is not cached). */
  putName(dir: number, name: Uint8Array, ino: number): void {
    if (name.length > NAME_KEY_MAX) return;
    this.names.write(nameSlot(dir, name), (body, bytes) => {
      body.setUint32(0, dir, true);
      body.setUint32(4, ino, true);
      body.setUint8(8, name.length);
      bytes.set(name, 9);
    });
  }

  /** `name` in `dir` is no more. */
  dropName(dir: number, name: Uint8Array): void {
    if (name.length > NAME_KEY_MAX) return;
    const i = nameSlot(dir, name), b = this.names.body(i);
    if (b.getUint32(0, true) === dir) this.names.write(i, (body) => body.setUint32(0, 0, true));
  }

  /** Block `block` of the file (`ino`, `generation`) holds `bytes` (up to BLOCK valid). */
  putData(ino: number, generation: number, block: number, bytes: Uint8Array): void {
    this.data.write(dataSlot(ino, block), (body, raw) => {
      body.setUint32(0, ino, true);
      body.setUint32(4, generation, true);
      body.setUint32(8, block, true);
      body.setUint32(12, bytes.length, true);
      raw.set(bytes, DATA_AT - 4);
    });
  }

  /** Blocks [from, to) of `ino` are no longer what any slot says (a truncate, a free). */
  dropData(ino: number, from: number, to: number): void {
    const n = Math.min(to - from, DATA_AREA.slots);
    for (let k = 0; k < n; k++) {
      const i = dataSlot(ino, from + k), b = this.data.body(i);
      if (b.getUint32(0, true) !== ino) continue;
      const block = b.getUint32(8, true);
      if (block >= from && block < to) this.data.write(i, (body) => body.setUint32(0, 0, true));
    }
  }
}

/** What a reader makes of a slot copy: the entry, or null for a miss (or a torn copy). */
export function readAttr(slot: Uint8Array, ino: number): FileAttr | null {
  if (!steady(slot)) return null;
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (v.getUint32(4, true) !== ino) return null;
  return decodeAttr(slot, 8);
}

export function readName(slot: Uint8Array, dir: number, name: Uint8Array): number | null {
  if (!steady(slot)) return null;
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (v.getUint32(4, true) !== dir || v.getUint8(12) !== name.length) return null;
  for (let i = 0; i < name.length; i++) if (slot[13 + i] !== name[i]) return null;
  return v.getUint32(8, true);
}

/** A data slot's valid bytes if it holds block `block` of (`ino`, `generation`). */
export function readData(
  slot: Uint8Array,
  ino: number,
  generation: number,
  block: number,
): Uint8Array | null {
  if (!steady(slot)) return null;
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (v.getUint32(4, true) !== ino || v.getUint32(8, true) !== generation) return null;
  if (v.getUint32(12, true) !== block) return null;
  const n = v.getUint32(16, true);
  return n > BLOCK ? null : slot.subarray(DATA_AT, DATA_AT + n);
}

/** A directory slot's READDIR page (count, more, entries) if it holds `dir` from `first`. */
export function readDir(slot: Uint8Array, dir: number, first: number): Uint8Array | null {
  if (!steady(slot)) return null;
  const v = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (v.getUint32(4, true) !== dir || v.getUint32(8, true) !== first) return null;
  const n = v.getUint32(12, true);
  return n > DIR_PAGE_MAX ? null : slot.subarray(DATA_AT, DATA_AT + n);
}

/** The attribute record's size in a slot: it must fit. */
if (8 + ATTR_BYTES + 4 > ATTR_AREA.bytes) throw new Error("an attribute slot is too small");
