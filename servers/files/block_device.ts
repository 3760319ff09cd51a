/**
 * What the file system asks of a disk (issue 14): numbered blocks of one size, read
 * and written whole, and a flush that makes every write before it durable. The file
 * server drives the node's disk device through it (disk_device.ts); tests and the
 * `mkfs` task use an image held in memory or a host file.
 *
 * Calls are synchronous: a process of the emulator waits in the kernel for its disk's
 * completions (a trap wait), as a thread of a kernel blocks on its buffer's I/O.
 * Errors are thrown as DiskError, naming the block.
 */

/** A disk of `blocks` blocks of `blockSize` bytes. */
export interface BlockDevice {
  readonly blockSize: number;
  readonly blocks: number;
  /** Reads `count` blocks from `block` into a new array (count * blockSize bytes). */
  read(block: number, count?: number): Uint8Array;
  /** Writes `data` (a whole number of blocks) at `block`. */
  write(block: number, data: Uint8Array): void;
  /** Returns once every write before it is durable. */
  flush(): void;
}

/** A disk's failure, or a request outside it. */
export class DiskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DiskError";
  }
}

/**
 * Throws DiskError unless `data` is whole blocks of `dev` and lies on it from `block`
 * (every device's `write` checks this first).
 */
export function checkWrite(dev: BlockDevice, block: number, data: Uint8Array): void {
  if (data.length === 0 || data.length % dev.blockSize !== 0) {
    throw new DiskError(`a write of ${data.length} bytes is not a whole number of blocks`);
  }
  checkRange(dev, block, data.length / dev.blockSize);
}

/** Throws DiskError unless [block, block+count) lies on `dev`. */
export function checkRange(dev: BlockDevice, block: number, count: number): void {
  if (!Number.isInteger(block) || !Number.isInteger(count) || block < 0 || count < 1) {
    throw new DiskError(`blocks ${block}+${count}: not a block range`);
  }
  if (block + count > dev.blocks) {
    throw new DiskError(`blocks ${block}+${count} are past the disk's ${dev.blocks}`);
  }
}

/**
 * A disk held in memory (tests; `mkfs` builds an image in one and writes it out).
 * `flushes` counts flushes, so a test can see ordering.
 */
export class MemoryDevice implements BlockDevice {
  readonly blockSize: number;
  readonly blocks: number;
  readonly bytes: Uint8Array;
  flushes = 0;
  /** Called before each write (a test's crash point may throw from it). */
  onWrite: ((block: number, data: Uint8Array) => void) | null = null;

  constructor(bytes: Uint8Array, blockSize = 4096) {
    if (bytes.length % blockSize !== 0) {
      throw new DiskError(`an image of ${bytes.length} bytes is not a whole number of blocks`);
    }
    this.blockSize = blockSize;
    this.blocks = bytes.length / blockSize;
    this.bytes = bytes;
  }

  /** A zeroed disk of `blocks` blocks. */
  static zeroed(blocks: number, blockSize = 4096): MemoryDevice {
    return new MemoryDevice(new Uint8Array(blocks * blockSize), blockSize);
  }

  read(block: number, count = 1): Uint8Array {
    checkRange(this, block, count);
    const at = block * this.blockSize;
    return this.bytes.slice(at, at + count * this.blockSize);
  }

  write(block: number, data: Uint8Array): void {
    checkWrite(this, block, data);
    this.onWrite?.(block, data);
    this.bytes.set(data, block * this.blockSize);
  }

  flush(): void {
    this.flushes++;
  }
}
