/**
 * The swap pager's side of the memory server (servers/memory/protocol.ts): extents
 * of the remote pool taken with a remote CAS on its cursor, and pages moved with
 * block WRITEs and READs. A page-out's WRITE is not waited for (up to WINDOW are in
 * flight); once it completes the pager locates the page there (`locatePage`), and
 * the kernel reads and writes it there from then on.
 * Any failure — the memory server's node down, its export gone, an error completion
 * for any request — makes the pool `broken`, and the pager goes on with its disk
 * copy alone: the memory server is a cache in front of the disk, never the only
 * copy. A pool with no more extents is `full`: new slots have no remote page.
 */

import {
  awaitRemote,
  CAS,
  dmaWriteBlock,
  Errno,
  load32,
  memoryName,
  PAGE_SIZE,
  POOL_EXTENT_PAGES,
  POOL_MAGIC,
  POOL_NEXT_OFFSET,
  poolOffset,
  PoolWord,
  READ,
  remoteCounters,
  remoteStatus,
  SysError,
  waitForName,
} from "../../userland/lib/mod.ts";

/** How long one remote access may take before the pool counts as gone. */
const REMOTE_MS = 2_000;
/**
 * How long a wait for the pool spins before it blocks: a 4 KiB READ's answer comes
 * in about 20 µs, and a process that slept for it would pay a wake-up as long.
 */
const READ_SPIN_US = 200;
/** Page-out WRITEs in flight at most (below the kernel's limit per process). */
const WINDOW = 16;

export class RemotePool {
  readonly node: number;
  readonly #desc: number;
  /** A scratch page of the pager's own (segment id and address) for header reads. */
  readonly #scratchSeg: number;
  readonly #scratch: number;
  /** The first pool page of each extent taken, in order: slot s is in extent s / EXTENT. */
  readonly #extents: number[] = [];
  /** No more extents to be had. */
  full = false;
  /** Why the pool is no longer used (its node down, its export gone), or "". */
  broken = "";
  /** Pages written to the pool. */
  written = 0;
  /** REMOTE_DONE once every request issued has completed; the error count to expect. */
  #doneTarget: number;
  readonly #errors: number;
  /** The next WRITE's COMPLETION tag. */
  #nextTag = 1;

  private constructor(node: number, desc: number, scratchSeg: number, scratch: number) {
    this.node = node;
    this.#desc = desc;
    this.#scratchSeg = scratchSeg;
    this.#scratch = scratch;
    remoteStatus(); // no error from before counts against the pool
    const c = remoteCounters();
    this.#doneTarget = c.done;
    this.#errors = c.errors;
  }

  /**
   * Finds the memory server of `node` (waiting for its name up to `waitMs`) and
   * checks its header; null if it is not there.
   */
  static open(node: number, scratchSeg: number, scratch: number, waitMs: number): RemotePool {
    const { desc } = waitForName(memoryName(node), waitMs, { hint: node });
    const pool = new RemotePool(node, desc, scratchSeg, scratch);
    if (!pool.#readHeader(PoolWord.MAGIC)) {
      throw new SysError(
        Errno.EIO,
        "RemotePool",
        `cannot read ${memoryName(node)}: ${pool.broken}`,
      );
    }
    if (load32(scratch) !== POOL_MAGIC) {
      throw new SysError(Errno.EINVAL, "RemotePool", `${memoryName(node)} is not a memory pool`);
    }
    return pool;
  }

  get usable(): boolean {
    if (this.broken === "" && remoteCounters().errors !== this.#errors) {
      this.broken = "an error completion from the memory server";
    }
    return this.broken === "";
  }

  /** The byte offset in the pool of `slot`, taking an extent if needed; -1 if none. */
  #offsetOf(slot: number, take: boolean): number {
    const e = Math.floor(slot / POOL_EXTENT_PAGES);
    while (take && this.#extents.length <= e && !this.full && this.usable) this.#takeExtent();
    if (e >= this.#extents.length) return -1;
    return poolOffset(this.#extents[e] + (slot % POOL_EXTENT_PAGES));
  }

  /**
   * Queues a WRITE of the page at `vaddr` to `slot`'s place in the pool (the DMA
   * queue: no trap; the bytes are read when the kernel takes it, before this
   * process's next trap). Its completion is a COMPLETION event with the returned
   * tag; 0 if it could not be issued.
   */
  write(slot: number, vaddr: number): number {
    if (!this.usable) return 0;
    const at = this.#offsetOf(slot, true);
    if (at < 0) return 0;
    const inFlight = (this.#doneTarget - remoteCounters().done) | 0;
    if (inFlight >= WINDOW && !this.#drain()) return 0;
    const tag = this.#nextTag;
    this.#nextTag = tag >= 0x3fffffff ? 1 : tag + 1;
    try {
      dmaWriteBlock(this.#desc, at, vaddr, PAGE_SIZE, { tag });
    } catch (e) {
      this.broken = why(e);
      return 0;
    }
    this.#doneTarget = (this.#doneTarget + 1) | 0;
    this.written++;
    return tag;
  }

  /** The pool's descriptor and the offset of `slot`'s page in it (-1: none), for locatePage. */
  get desc(): number {
    return this.#desc;
  }

  offsetOf(slot: number): number {
    return this.#offsetOf(slot, false);
  }

  /** Reads header word `word` into the scratch page; false (and `broken` says why) if it failed. */
  #readHeader(word: number): boolean {
    return this.#wait(() => READ(this.#desc, word * 4, 4, this.#scratchSeg, 0));
  }

  /** One extent by CAS on the cursor; sets `full` when the pool has no more. */
  #takeExtent(): void {
    for (let tries = 0; tries < 64 && this.usable; tries++) {
      // A failed read leaves the pool broken: no extent, no throw.
      if (!this.#readHeader(PoolWord.PAGES)) return;
      const pages = load32(this.#scratch);
      if (!this.#readHeader(PoolWord.NEXT)) return;
      const next = load32(this.#scratch);
      if (next + POOL_EXTENT_PAGES > pages) {
        this.full = true;
        return;
      }
      const ok = this.#wait(() =>
        CAS(this.#desc, POOL_NEXT_OFFSET, this.#scratchSeg, 0, next, next + POOL_EXTENT_PAGES)
      );
      if (ok && load32(this.#scratch) === 1) {
        this.#extents.push(next);
        return;
      }
    }
  }

  /**
   * Issues one request and waits for it and every request before it; false (and
   * `broken` says why) if any failed.
   */
  #wait(issue: () => number): boolean {
    try {
      issue();
    } catch (e) {
      this.broken = why(e);
      return false;
    }
    this.#doneTarget = (this.#doneTarget + 1) | 0;
    return this.#drain();
  }

  /** Waits until every request issued has completed; false if one failed. */
  #drain(): boolean {
    if (!this.usable) return false;
    try {
      // awaitRemote waits for REMOTE_DONE to pass `done`, or for any error completion.
      const until = { done: (this.#doneTarget - 1) | 0, errors: this.#errors, errno: 0, desc: 0 };
      awaitRemote(until, REMOTE_MS, READ_SPIN_US);
      return true;
    } catch (e) {
      this.broken = why(e);
      return false;
    }
  }
}

/** What a failed remote access says, for `broken`. */
function why(e: unknown): string {
  return e instanceof SysError ? `${e.code}${e.detail ? `: ${e.detail}` : ""}` : String(e);
}
