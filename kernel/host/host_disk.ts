/**
 * A disk image in a host file: the `Disk` of kernel/host_interface.ts. Reads and
 * writes are made at once, synchronously, on the kernel's thread: they copy to or
 * from the host's page cache (2.6 µs for 4 KiB, measured, against 160 µs through
 * Deno's asynchronous calls, whose every call is a hop to a thread pool and back,
 * and a read is two: seek, then read). A flush (`fsync`), which waits for the
 * host's device, runs asynchronously, so the kernel's thread never waits for a
 * device. The operations of one disk take effect in the order they were called (the
 * device keeps many commands in flight; the host file serves them in turn): a flush
 * covers every write before it.
 * Every error of the host becomes a typed failure: ENOSPC, EPERM, or EIO.
 *
 *   --disk PATH[:SIZE]   SIZE in bytes, or with K, M or G (powers of 1024); a file
 *                        that is missing is made that size (default 64M, sparse);
 *                        one that exists keeps its size, which SIZE must match.
 */

import { Errno } from "../abi/errors.ts";
import type { Disk, DiskFailure } from "../host_interface.ts";

/** The size of a disk made without a SIZE. */
export const DEFAULT_DISK_BYTES = 64 * 1024 * 1024;
const SECTOR = 512;

/** The error code of a host error: ENOSPC, EPERM (permission), or EIO. */
export function hostErrno(e: unknown): number {
  const code = (e as { code?: unknown })?.code;
  const text = e instanceof Error ? e.message : String(e);
  if (code === "ENOSPC" || /\bENOSPC\b|No space left|os error 28\b/.test(text)) return Errno.ENOSPC;
  if (
    e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable ||
    code === "EACCES" || code === "EPERM" || code === "EROFS"
  ) return Errno.EPERM;
  return Errno.EIO;
}

function failure(e: unknown): DiskFailure {
  return { errno: hostErrno(e), detail: e instanceof Error ? e.message : String(e) };
}

/** Parses `PATH[:SIZE]`; throws RangeError with a message for a bad SIZE. */
export function parseDiskSpec(spec: string): { path: string; size: number | null } {
  const m = /^(.*):(\d+)([KMG]?)$/i.exec(spec);
  if (!m || m[1] === "") return { path: spec, size: null };
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[3].toUpperCase() as "" | "K"]!;
  const size = Number(m[2]) * unit;
  if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR !== 0) {
    throw new RangeError(`the size of a disk is a multiple of ${SECTOR} bytes, not ${m[2]}${m[3]}`);
  }
  return { path: m[1], size };
}

export class HostDisk implements Disk {
  readonly name: string;
  readonly size: number;
  readonly #file: Deno.FsFile;
  /** The last operation queued: each runs after the one before (one file position). */
  #last: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(name: string, size: number, file: Deno.FsFile) {
    this.name = name;
    this.size = size;
    this.#file = file;
  }

  /**
   * Opens the image at `path`, making it `size` bytes (or DEFAULT_DISK_BYTES) if it
   * is missing. Throws RangeError if an existing image's size differs from `size`
   * or is not a multiple of 512, and Deno's errors if the host refuses the file.
   */
  static async open(path: string, size: number | null = null): Promise<HostDisk> {
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) await Deno.mkdir(dir, { recursive: true }).catch(() => {}); // open says why not
    const file = await Deno.open(path, { read: true, write: true, create: true });
    try {
      const have = (await file.stat()).size;
      if (have === 0) {
        await file.truncate(size ?? DEFAULT_DISK_BYTES);
      } else if (size !== null && have !== size) {
        throw new RangeError(`${path} is ${have} bytes, not the ${size} asked for`);
      } else if (have % SECTOR !== 0) {
        throw new RangeError(`${path} is ${have} bytes: a disk is a multiple of ${SECTOR}`);
      }
      return new HostDisk(path, have || (size ?? DEFAULT_DISK_BYTES), file);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  read(offset: number, into: Uint8Array): DiskFailure | null {
    return this.#now(() => {
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      for (let n = 0; n < into.length;) {
        const got = this.#file.readSync(into.subarray(n));
        if (got === null) {
          into.fill(0, n); // past the file's end (it was truncated under us): zeros
          break;
        }
        n += got;
      }
    });
  }

  write(offset: number, from: Uint8Array): DiskFailure | null {
    return this.#now(() => {
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      for (let n = 0; n < from.length;) n += this.#file.writeSync(from.subarray(n));
    });
  }

  flush(): Promise<DiskFailure | null> {
    return this.#queue(() => this.#file.sync());
  }

  /** Closes the file once what was queued has run (a node that reopens the image opens it anew). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#last;
    this.#file.close();
  }

  /** Runs a read or write now; its failure, or null. */
  #now(op: () => void): DiskFailure | null {
    if (this.#closed) return { errno: Errno.EIO, detail: `${this.name} is closed` };
    try {
      op();
      return null;
    } catch (e) {
      return failure(e);
    }
  }

  #queue(op: () => Promise<void>): Promise<DiskFailure | null> {
    if (this.#closed) {
      return Promise.resolve({ errno: Errno.EIO, detail: `${this.name} is closed` });
    }
    const run = this.#last.then(op).then(() => null, failure);
    this.#last = run;
    return run;
  }
}
