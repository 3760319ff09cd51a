/**
 * `deno task mkfs IMAGE SIZE`: makes a host file into an ext2 file system with an
 * ext3 journal that the file server mounts (`deno task boot --disk IMAGE`) and that
 * e2fsprogs accepts (`e2fsck -fn IMAGE`, `debugfs IMAGE`). A host tool, not a
 * worker: the one file of servers/files/ that uses Deno's API.
 *
 *   deno task mkfs IMAGE SIZE [--label NAME] [--journal-blocks N]
 *
 * SIZE is bytes, or with K, M or G (powers of 1024), at least 8M. The file is made
 * (sparse, and its directory if missing) or cut to SIZE; what it held is lost.
 */

import { parseArgs } from "node:util";
import { type BlockDevice, checkRange, checkWrite } from "./block_device.ts";
import { MIN_BLOCKS, mkfs } from "./ext2_mkfs.ts";

const BLOCK = 4096;

/** A host file as a BlockDevice, read and written synchronously at block offsets. */
export class FileDevice implements BlockDevice {
  readonly blockSize = BLOCK;
  readonly blocks: number;
  readonly #file: Deno.FsFile;

  constructor(file: Deno.FsFile, bytes: number) {
    this.#file = file;
    this.blocks = Math.floor(bytes / BLOCK);
  }

  read(block: number, count = 1): Uint8Array {
    checkRange(this, block, count);
    const out = new Uint8Array(count * BLOCK);
    this.#file.seekSync(block * BLOCK, Deno.SeekMode.Start);
    for (let at = 0; at < out.length;) {
      const n = this.#file.readSync(out.subarray(at));
      if (n === null || n === 0) break; // past the end of a sparse file: zeros
      at += n;
    }
    return out;
  }

  write(block: number, data: Uint8Array): void {
    checkWrite(this, block, data);
    this.#file.seekSync(block * BLOCK, Deno.SeekMode.Start);
    for (let at = 0; at < data.length;) at += this.#file.writeSync(data.subarray(at));
  }

  flush(): void {
    this.#file.syncSync();
  }
}

/** SIZE in bytes: digits with an optional K, M or G; RangeError otherwise. */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) throw new RangeError(`a size is digits with K, M or G, not ${JSON.stringify(text)}`);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as "" | "K"]!;
  return Number(m[1]) * unit;
}

function main(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    options: { label: { type: "string" }, "journal-blocks": { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 2) {
    console.error("usage: deno task mkfs IMAGE SIZE [--label NAME] [--journal-blocks N]");
    return 2;
  }
  const [path, sizeText] = positionals;
  const bytes = parseSize(sizeText);
  if (bytes < MIN_BLOCKS * BLOCK) {
    throw new RangeError(`an image is at least ${(MIN_BLOCKS * BLOCK) >> 20} MiB, not ${sizeText}`);
  }
  const journalText = values["journal-blocks"];
  const journal = journalText === undefined ? undefined : Number(journalText);
  if (journal !== undefined && !Number.isInteger(journal)) {
    throw new RangeError(`--journal-blocks is a number of blocks, not ${journalText}`);
  }
  const parent = path.slice(0, path.lastIndexOf("/"));
  if (parent !== "") Deno.mkdirSync(parent, { recursive: true });
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  try {
    file.truncateSync(0); // every block reads as zeros until written
    file.truncateSync(bytes - (bytes % BLOCK));
    const r = mkfs(new FileDevice(file, bytes), {
      label: values.label,
      journalBlocks: journal,
    });
    console.log(
      `${path}: ext3, ${r.blocks} blocks of 4 KiB in ${r.groups} group(s), ${r.inodes} ` +
        `inodes, a journal of ${r.journalBlocks} blocks; ${r.freeBlocks} blocks free`,
    );
  } finally {
    file.close();
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(main(Deno.args));
  } catch (e) {
    console.error(`mkfs: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
