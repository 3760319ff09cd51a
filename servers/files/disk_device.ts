/**
 * The node's disk device as the file system's BlockDevice (block_device.ts): the
 * file server drives it through the driver library (userland/lib/dev/disk.ts),
 * commands of up to 64 KiB through a bounce buffer in its own memory, several in
 * flight for a long transfer. A failed command is a DiskError naming the block and
 * the device's reason; the file system turns it into EIO.
 */

import {
  allocate,
  DiskDriver,
  diskError,
  DiskOp,
  read as load,
  SysError,
  write as store,
} from "../../userland/lib/mod.ts";
import { type BlockDevice, checkRange, checkWrite, DiskError } from "./block_device.ts";

const BLOCK = 4096;
/** The largest command the device takes (kernel/abi/disk.ts), and the bounce buffer's slots. */
const MAX_IO = 64 * 1024;
const SLOTS = 4;

export class DiskDevice implements BlockDevice {
  readonly blockSize = BLOCK;
  readonly blocks: number;
  readonly driver: DiskDriver;
  /** SLOTS bounce buffers of MAX_IO bytes each. */
  readonly #buffer: number;

  constructor(driver: DiskDriver) {
    this.driver = driver;
    this.blocks = Math.floor(driver.size / BLOCK);
    this.#buffer = allocate(SLOTS * MAX_IO);
  }

  /** Claims disk `unit` of this node (the caller must hold the service capability). */
  static attach(unit: number): DiskDevice {
    return new DiskDevice(DiskDriver.attach(unit));
  }

  read(block: number, count = 1): Uint8Array {
    checkRange(this, block, count);
    const out = new Uint8Array(count * BLOCK);
    this.#transfer(block, out.length, (tag, slot, at, n) => {
      this.#check(this.driver.wait(tag), block, "read");
      out.set(load(slot, n), at);
    }, (slot, at, n) => this.driver.submit(DiskOp.READ, block * BLOCK + at, n, slot));
    return out;
  }

  write(block: number, data: Uint8Array): void {
    checkWrite(this, block, data);
    this.#transfer(block, data.length, (tag) => {
      this.#check(this.driver.wait(tag), block, "write");
    }, (slot, at, n) => {
      store(slot, data.subarray(at, at + n));
      return this.driver.submit(DiskOp.WRITE, block * BLOCK + at, n, slot);
    });
  }

  flush(): void {
    const tag = this.driver.submit(DiskOp.FLUSH, 0, 0, 0);
    this.#check(this.driver.wait(tag), 0, "flush");
  }

  /**
   * Moves `bytes` at `block` in commands of MAX_IO, up to SLOTS in flight: `issue`
   * submits one into a bounce slot, `finish` waits for it (in order).
   */
  #transfer(
    block: number,
    bytes: number,
    finish: (tag: number, slot: number, at: number, n: number) => void,
    issue: (slot: number, at: number, n: number) => number,
  ): void {
    const inFlight: [number, number, number, number][] = [];
    try {
      for (let at = 0, i = 0; at < bytes; at += MAX_IO, i++) {
        if (inFlight.length === SLOTS) finish(...inFlight.shift()!);
        const slot = this.#buffer + (i % SLOTS) * MAX_IO, n = Math.min(MAX_IO, bytes - at);
        inFlight.push([issue(slot, at, n), slot, at, n]);
      }
      while (inFlight.length > 0) finish(...inFlight.shift()!);
    } catch (e) {
      if (e instanceof SysError) throw new DiskError(`block ${block}: ${e.message}`);
      throw e;
    }
  }

  #check(c: ReturnType<DiskDriver["wait"]>, block: number, what: string): void {
    const e = diskError(this.driver.unit, c);
    if (e) throw new DiskError(`disk ${what} at block ${block}: ${e.message}`);
  }
}
