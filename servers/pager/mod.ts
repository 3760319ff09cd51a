/**
 * The swap pager (issue 13 items 4 and 5): the node's default pager for anonymous
 * memory. Init starts it on a node that has a swap disk (`--swap`); it takes the
 * disk as its driver and becomes the swap pager (`swapAttach`). Then:
 *
 *   - a PAGE_OUT (the kernel evicted a swappable page dirty) is taken into one of
 *     its buffers, given a slot in its page-location table (servers/pager/slots.ts),
 *     written to the memory server's pool if the node has one (servers/memory/,
 *     `--memory-server NODE`: a remote block WRITE) and, in the background, to the
 *     swap disk at the slot. The buffer is kept until the disk write completes, so
 *     the page is in memory or on the disk at every moment: a memory server that
 *     crashes or fills up loses nothing.
 *   - once a page's first WRITE to the memory server completes, the pager tells
 *     the kernel where it lies (`locatePage`): from then on the kernel READs the
 *     page from there itself on a fault (no request reaches the pager, no process
 *     switch is paid) and WRITEs each newer copy there when it evicts the page
 *     dirty. The pager still takes every page-out, for the disk copy. A remote
 *     access that fails makes the kernel forget the pool, and the pager serves.
 *   - a PAGE_FAULT (a page it took is wanted) is answered from its buffer if the
 *     page is still there, else from the disk (a READ command; many in flight).
 *     Pages it never took are zero-filled by the kernel without asking it.
 *   - a SEGMENT_FREED frees the segment's slots.
 *
 * Everything comes through one event queue: page requests, and the disk's
 * completion interrupts (its completion ring registered with `signalEvents`).
 * Its own memory (buffers, tables) is never swapped: the kernel does not page a
 * segment the swap pager made.
 *
 *   servers/pager/mod.ts [--buffers N]      (started by init from servers/table.ts)
 */

import { parseArgs } from "node:util";
import {
  args,
  bind,
  CreateSegment,
  type DiskCompletion,
  DiskDriver,
  diskError,
  DiskOp,
  EventKind,
  failPage,
  info,
  locatePage,
  nextEvent,
  nodeId,
  nodeSpins,
  PAGE_SIZE,
  type PageRequest,
  pageRequestOf,
  pin,
  println,
  type QueuedEvent,
  supplyPage,
  swapAttach,
  SysError,
  takePage,
  waitEvent,
} from "../../userland/lib/mod.ts";
import { RemotePool } from "./remote_pool.ts";
import { SlotTable } from "./slots.ts";

/** The SIGNAL event tag of the disk's completion interrupts. */
const DISK_TAG = 1;
/** How long an event wait spins while a page read is in flight, µs. */
const READ_SPIN_US = 200;
/** False on a block-only node: nothing spins there. */
const SPINS = nodeSpins();
/** How long the pager waits for the memory server's name when the node has one. */
const MEMORY_SERVER_WAIT_MS = 10_000;

/** A page the pager holds in a buffer: until its disk write completes, the only copy. */
interface Cached {
  buf: number;
  /** The tag of its disk write in flight, or 0 once it is on the disk. */
  writing: number;
  /** A newer copy taken while `writing` was in flight: written when that completes. */
  next: number;
}

class SwapPager {
  readonly disk: DiskDriver;
  readonly slots: SlotTable;
  readonly pool: RemotePool | null;
  readonly #bufSeg: number;
  readonly #bufBase: number;
  readonly #freeBufs: number[] = [];
  /** Pages in buffers, by "segment:page". */
  readonly #cache = new Map<string, Cached>();
  /** What each disk command in flight is for. */
  readonly #inFlight = new Map<number, (c: DiskCompletion) => void>();
  /** Page reads from the disk in flight (processes wait for each). */
  #readsInFlight = 0;
  #saidBroken = false;
  /** Pool WRITEs in flight, by their COMPLETION tag. */
  readonly #poolWrites = new Map<
    number,
    { k: string; segment: number; page: number; slot: number }
  >();
  /** Per page, the tag of its newest copy's pool WRITE in flight (the one to locate). */
  readonly #newest = new Map<string, number>();
  /** Pages located in the pool: the kernel writes their newer copies there itself. */
  readonly #located = new Set<string>();
  /**
   * Events taken and not yet served: page requests first (a process waits for each),
   * page-outs after (the kernel holds their bytes until taken; a fault on one is
   * served by taking it then).
   */
  readonly #faults: QueuedEvent[] = [];
  readonly #outs: QueuedEvent[] = [];
  /**
   * Pages taken ahead of their PAGE_OUT (a fault on a page the kernel held): each
   * key's next PAGE_OUT is that one, already served, and is skipped.
   */
  readonly #takenEarly = new Set<string>();
  readonly counts = {
    outs: 0,
    ins: 0,
    taken: 0,
    fromCache: 0,
    fromPool: 0,
    fromDisk: 0,
    failed: 0,
    /** Pages located in the pool (locatePage): the kernel pages them in itself. */
    located: 0,
  };

  constructor(disk: DiskDriver, buffers: number, pool: RemotePool | null, bufSeg: number) {
    this.disk = disk;
    this.slots = new SlotTable(Math.floor(disk.size / PAGE_SIZE));
    this.pool = pool;
    this.#bufSeg = bufSeg;
    this.#bufBase = bind(bufSeg);
    // Resident from the start: a buffer's first use must not need a frame (and evict
    // a page of a process that is running) at the moment a page-out needs the buffer.
    pin(this.#bufBase, buffers * PAGE_SIZE);
    for (let i = buffers - 1; i >= 0; i--) this.#freeBufs.push(i);
    disk.onComplete = (c) => {
      const done = this.#inFlight.get(c.tag);
      this.#inFlight.delete(c.tag);
      done?.(c);
    };
  }

  #addr(buf: number): number {
    return this.#bufBase + buf * PAGE_SIZE;
  }

  /** A free buffer, waiting for disk completions (and keeping other events) if none is. */
  #buffer(): number {
    while (this.#freeBufs.length === 0) {
      this.disk.poll();
      if (this.#freeBufs.length > 0) break;
      const e = waitEvent(1_000);
      if (e) this.#sort(e);
    }
    return this.#freeBufs.pop()!;
  }

  #release(buf: number): void {
    this.#freeBufs.push(buf);
  }

  /** Files an event: the disk's interrupt is served at once, page requests queued. */
  #sort(e: QueuedEvent): void {
    if (e.kind === EventKind.SIGNAL && e.id === DISK_TAG) this.disk.poll();
    else if (e.kind === EventKind.COMPLETION) this.#written(e.id, e.info);
    else if (e.kind === EventKind.PAGE_FAULT) this.#faults.push(e);
    else if (e.kind === EventKind.PAGE_OUT || e.kind === EventKind.SEGMENT_FREED) {
      this.#outs.push(e); // in order: a segment freed after its pages' page-outs
    }
  }

  /**
   * Takes every event there is (waiting up to `timeoutMs` for one if none is), then
   * serves one: a page request before any page-out.
   */
  step(timeoutMs: number): void {
    if (this.#faults.length === 0 && this.#outs.length === 0) {
      // A page read from the disk arrives in tens of µs: spin for it (a process
      // waits on it) rather than pay a wake-up as long; else the queue's own spin.
      const e = waitEvent(timeoutMs, this.#readsInFlight > 0 && SPINS ? READ_SPIN_US : undefined);
      if (e) this.#sort(e);
      else this.disk.poll(); // a lost interrupt cannot strand a completion
    }
    for (let e; (e = nextEvent());) this.#sort(e);
    const e = this.#faults.shift() ?? this.#outs.shift();
    const r = e && pageRequestOf(e);
    if (!r) return;
    if (r.freed) this.#freed(r.segment);
    else if (r.pagedOut) {
      if (!this.#takenEarly.delete(`${r.segment}:${r.page}`)) this.#pageOut(r);
    } else this.#pageIn(r);
  }

  /** Takes a paged-out page into a buffer, the pool and the disk; false if it was not held. */
  #pageOut(r: PageRequest): boolean {
    const k = `${r.segment}:${r.page}`;
    const buf = this.#buffer();
    try {
      takePage(r.segment, r.page, this.#addr(buf));
    } catch (e) {
      // ENOENT: taken already (a fault came first), or its segment went; EPERM likewise.
      this.#release(buf);
      if (!(e instanceof SysError)) throw e;
      return false;
    }
    this.counts.outs++;
    const slot = this.slots.place(r.segment, r.page);
    const c = this.#cache.get(k);
    if (c && c.writing !== 0) {
      if (c.next >= 0) this.#release(c.next);
      c.next = buf; // written once the older copy's write completes
      this.#remoteCopy(k, r, slot, buf);
      return true;
    }
    if (c) this.#release(c.buf);
    const entry: Cached = { buf, writing: 0, next: -1 };
    this.#cache.set(k, entry);
    this.#remoteCopy(k, r, slot, buf);
    if (slot >= 0) this.#writeBack(k, slot, entry); // else the disk is full: it stays here
    return true;
  }

  /**
   * The memory server's copy, written before the disk's. Once its WRITE completes
   * the page is located there (#written), and the kernel serves its next fault
   * from the pool itself.
   */
  #remoteCopy(k: string, r: PageRequest, slot: number, buf: number): void {
    this.#newest.delete(k); // an older copy in flight must not be located now
    if (slot < 0 || !this.pool || this.#located.has(k)) return; // located: the kernel wrote it
    if (!this.pool.usable) {
      if (!this.#saidBroken) {
        println(`pager: the memory server is not used from now on: ${this.pool.broken}`);
      }
      this.#saidBroken = true;
      return;
    }
    const tag = this.pool.write(slot, this.#addr(buf));
    if (tag === 0) return;
    this.#newest.set(k, tag);
    this.#poolWrites.set(tag, { k, segment: r.segment, page: r.page, slot });
  }

  /** A pool WRITE completed (a COMPLETION event): locate its page there if it is the newest. */
  #written(tag: number, errno: number): void {
    const w = this.#poolWrites.get(tag);
    if (!w) return;
    this.#poolWrites.delete(tag);
    if (this.#newest.get(w.k) !== tag) return;
    this.#newest.delete(w.k);
    if (errno !== 0 || !this.pool!.usable) return;
    try {
      locatePage(w.segment, w.page, this.pool!.desc, this.pool!.offsetOf(w.slot));
      this.#located.add(w.k);
      this.counts.located++;
    } catch (e) {
      // EPERM: its segment went meanwhile; EHOSTDOWN: the pool's node is down.
      if (!(e instanceof SysError)) throw e;
    }
  }

  /** Writes a cached page to its slot; the buffer is freed when the write completes. */
  #writeBack(k: string, slot: number, entry: Cached): void {
    const tag = this.disk.submit(DiskOp.WRITE, slot * PAGE_SIZE, PAGE_SIZE, this.#addr(entry.buf));
    entry.writing = tag;
    this.#inFlight.set(tag, (c) => {
      const err = diskError(this.disk.unit, c);
      if (err) println(`pager: page ${k} stays in memory: ${err.message}`);
      entry.writing = 0;
      if (entry.next >= 0) {
        // A newer copy came while this one was being written: write it in turn.
        if (!err) this.#release(entry.buf);
        entry.buf = entry.next;
        entry.next = -1;
        this.#writeBack(k, slot, entry);
      } else if (!err && this.#cache.get(k) === entry) {
        this.#cache.delete(k);
        this.#release(entry.buf);
      }
    });
  }

  #pageIn(r: PageRequest): void {
    const k = `${r.segment}:${r.page}`;
    if (r.writeProtect) {
      failPage(r.segment, r.page); // the swap pager never write-protects
      return;
    }
    // The kernel held the newest contents when it asked: take them, unless this
    // pager has taken them since (while it waited for a buffer), as the cache knows.
    if (r.held && this.#pageOut({ ...r, pagedOut: true })) {
      this.counts.taken++;
      this.#takenEarly.add(k);
    }
    if (this.#fromCache(r, k)) return;
    const slot = this.slots.find(r.segment, r.page);
    if (slot < 0) return this.#orphan(r);
    // Not from the pool: a page whose copy there is complete is located, and the
    // kernel reads it from there itself; the disk has every page the pager took.
    this.#diskRead(r, slot, this.#buffer());
  }

  /** Reads `r`'s page from `slot` of the disk into `buf`, and answers it when it completes. */
  #diskRead(r: PageRequest, slot: number, buf: number): void {
    const k = `${r.segment}:${r.page}`;
    const tag = this.disk.submit(DiskOp.READ, slot * PAGE_SIZE, PAGE_SIZE, this.#addr(buf));
    this.#readsInFlight++;
    this.#inFlight.set(tag, (done) => {
      this.#readsInFlight--;
      const err = diskError(this.disk.unit, done);
      if (err) {
        println(`pager: cannot read page ${k} back: ${err.message}`);
        this.#fail(r);
      } else {
        this.counts.ins++;
        this.counts.fromDisk++;
        this.#answer(r, buf);
      }
      this.#release(buf);
    });
  }

  /**
   * A request for a page it has no record of: its PAGE_OUT could not be queued (the
   * event queue was full), so the kernel may hold it still. It is taken as a
   * page-out is and answered from that copy; if the kernel does not hold it either,
   * it is lost.
   */
  #orphan(r: PageRequest): void {
    if (this.#pageOut({ ...r, pagedOut: true }) && this.#fromCache(r, `${r.segment}:${r.page}`)) {
      return;
    }
    println(`pager: asked for page ${r.page} of segment ${r.segment}, which it never took`);
    this.#fail(r);
  }

  /** Answers from the page's newest copy in a buffer; false if no buffer holds it. */
  #fromCache(r: PageRequest, k: string): boolean {
    const c = this.#cache.get(k);
    if (!c) return false;
    this.counts.ins++;
    this.counts.fromCache++;
    this.#answer(r, c.next >= 0 ? c.next : c.buf);
    return true;
  }

  #answer(r: PageRequest, buf: number): void {
    try {
      supplyPage(r.segment, r.page, this.#addr(buf));
    } catch (e) {
      // ENOENT: the fault timed out or its process went; ENOMEM: no frame for it.
      if (!(e instanceof SysError)) throw e;
    }
  }

  #fail(r: PageRequest): void {
    this.counts.failed++;
    try {
      failPage(r.segment, r.page);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
    }
  }

  #freed(segment: number): void {
    this.slots.dropSegment(segment);
    for (const k of this.#takenEarly) if (k.startsWith(`${segment}:`)) this.#takenEarly.delete(k);
    for (const k of this.#newest.keys()) if (k.startsWith(`${segment}:`)) this.#newest.delete(k);
    for (const k of this.#located) if (k.startsWith(`${segment}:`)) this.#located.delete(k);
    for (const [k, c] of this.#cache) {
      if (!k.startsWith(`${segment}:`) || c.writing !== 0) continue;
      this.#cache.delete(k);
      this.#release(c.buf);
    }
  }
}

export default function main(): number {
  const { values } = parseArgs({
    args: [...args()],
    options: { buffers: { type: "string", default: "64" } },
  });
  const buffers = Number(values.buffers);
  if (!Number.isInteger(buffers) || buffers < 2 || buffers > 4096) {
    throw new Error(`pager: --buffers must be 2 to 4096, not ${values.buffers}`);
  }
  const stats = info("stats");
  if (stats.swapDisk < 0) throw new Error(`pager: node ${nodeId()} has no swap disk (--swap)`);
  const bufSeg = CreateSegment(buffers * PAGE_SIZE);
  const scratchSeg = CreateSegment(PAGE_SIZE);
  let pool: RemotePool | null = null;
  const server = stats.memoryServerNode;
  if (server >= 0 && server !== nodeId()) {
    try {
      pool = RemotePool.open(server, scratchSeg, bind(scratchSeg), MEMORY_SERVER_WAIT_MS);
    } catch (e) {
      println(`pager: no memory server on node ${server}, the disk alone: ${e}`);
    }
  }
  const disk = DiskDriver.attach(stats.swapDisk);
  disk.interruptsAsEvents(DISK_TAG);
  const pager = new SwapPager(disk, buffers, pool, bufSeg);
  swapAttach(); // ready: from now on the node's swappable pages come here
  for (;;) pager.step(1_000);
}
