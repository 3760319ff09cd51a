/**
 * External pagers (ARCHITECTURE Wave 2): a process that supplies the pages of the
 * segments it took with `set_pager`. The protocol, as Zircon's page source (a
 * request returns SHOULD_WAIT; SupplyPages completes it) and Linux's userfaultfd
 * (missing and write-protect faults):
 *
 *   1. A fault on a page not present (or a store to a page its pager write-protected)
 *      finds the segment's ExternalPager. The first fault on a page makes a request;
 *      later ones join it as waiters, so a page is asked for once however many
 *      processes (or remote READs) want it. The waiter is a callback: the page-fault
 *      trap has made itself a TrapWait, a remote request has deferred its reply.
 *   2. The request is a PAGE_FAULT event in the pager's event queue: id the segment,
 *      info `pageRequestInfo(page, access, writeProtect)`. The queue is the kernel's
 *      one producer-consumer ring per process, read without a trap; a full queue
 *      fails the fault at once rather than losing the request.
 *   3. The pager answers with `pager_answer` (SUPPLY from its own memory, ZERO, FAIL)
 *      or, for a write-protect fault, `pager_protect(…, 0)`. Every waiter is told;
 *      a faulting trap then maps the page and the access is retried.
 *   4. No answer within `pagerTimeoutMs` (KernelConfig) fails the request; a pager
 *      that ends fails all of its requests at once, and every later fault on its
 *      segments fails at once with a reason naming it, until another process takes
 *      them with `set_pager`. Nothing waits forever.
 *
 * Answers are checked in reading order (seL4's decode, then perform): a segment it
 * does not page EPERM, a page out of range or an op unknown EINVAL, a page not asked
 * for ENOENT, a source not mapped readable EFAULT. A bad answer harms no one else.
 *
 * `evict(segment, page)` is the page-frame manager's hook (item 1 drives it): the
 * page becomes not present in every binding (a TLB shootdown each), and a dirty
 * page of an externally paged segment is held for its pager, announced by a
 * PAGE_OUT event, until the pager TAKEs it.
 *
 * The table is also the page frames' FrameOwner (kernel/memory/frame_table.ts): it
 * says which pages the clock may evict (a running pager's, not pinned, no request
 * outstanding), reads and clears their accessed bits in every binding, and shoots
 * down, once per sweep, each process whose bits it cleared.
 */

import { Errno } from "../abi/errors.ts";
import {
  Access,
  accessName,
  EventKind,
  PAGE_FAULT_OWN,
  PAGE_SHIFT,
  PAGE_SIZE,
  pageRequestInfo,
  PagerOp,
  Pte,
  Rights,
  SegMode,
  Trap,
  TrapState,
} from "../abi/layout.ts";
import type { Clock, TimerHandle } from "../host_interface.ts";
import { fail, KernelError } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import type { Binding } from "./binding.ts";
import type { ServiceRegistry } from "../proc/service_registry.ts";
import type { IssueTarget, RemoteMemory } from "../remote/remote_memory.ts";
import { FrameType } from "../net/wire.ts";
import { eventPage, postEvent } from "../remote/tripwires.ts";
import type { Tracer } from "../trace.ts";
import type { FrameOwner } from "./frame_table.ts";
import { checkLocal, readLocal, writeLocal } from "./user_copy.ts";
import { type Pager, type PageWaiter, type Segment, zeroFillPager } from "./segment.ts";

/** What the pager table needs of the node. */
export interface PagerHost {
  readonly clock: Clock;
  readonly tracer: Tracer;
  readonly services: ServiceRegistry;
  readonly config: { readonly pagerTimeoutMs: number; readonly swapAll?: boolean };
  readonly procs: { get(pid: number): Process | undefined };
  /** For the page-ins the kernel makes itself from where a pager located a page. */
  readonly remote: Pick<RemoteMemory, "issue">;
  nodeDown(node: number): boolean;
}

/**
 * Where a pager said a copy of a page lies in remote memory (`pager_locate`): the
 * page's place there from then on, which the kernel reads it from and writes it
 * back to.
 */
export interface PageLocation {
  readonly to: IssueTarget;
  /** The pager's descriptor for it (for traces and its errors). */
  readonly descId: number;
  readonly offset: number;
  /** The kernel's WRITEs of newer copies in flight (it is read from there only at 0). */
  writes: number;
}

/** One outstanding request: a page of a segment some faults wait for. */
interface PageRequest {
  readonly segment: Segment;
  readonly page: number;
  readonly access: number;
  /** The kernel is READing it from its located copy (not asked of the pager yet). */
  located: boolean;
  readonly writeProtect: boolean;
  readonly waiters: PageWaiter[];
  /** When it fails unanswered (clock ms; 0 while the kernel itself reads it). */
  deadline: number;
  readonly pager: ExternalPager;
  /**
   * The address of a fault of the pager itself (ownFault), mapped for it as soon as
   * the page is answered; -1 for any other request.
   */
  ownVaddr: number;
}

/** Counts of the table, for tests and `info`. */
export interface PagerCounts {
  requests: number;
  answered: number;
  failed: number;
  timedOut: number;
  evicted: number;
  /** Evictions refused ("busy"): a process free to run that maps the page had not acknowledged. */
  busy: number;
  /** Evictions of pages a process free to run maps, once it had acknowledged (or was parked). */
  acknowledged: number;
  /** Page faults held back while the swap pager had MAX_HELD pages not yet taken. */
  throttled: number;
  /** Pages pagers dropped (`pager_drop`): not present, contents discarded. */
  dropped: number;
  /** Faults the kernel served with a READ from where the pager located the page. */
  remoteIns: number;
  /** Dirty located pages the kernel wrote back to their place itself. */
  remoteOuts: number;
  /** READs and WRITEs of located pages that failed (the pool's locations were forgotten). */
  remoteFailed: number;
}

/** The Pager of every segment one pager process pages. */
export class ExternalPager implements Pager {
  readonly proc: Process;
  /** The segments it pages, by id. */
  readonly segments = new Map<number, Segment>();
  /** The node's swap pager (`swap_attach`): it pages the anonymous segments it was handed. */
  swap = false;
  /** Outstanding requests by `key(segment, page)`. */
  readonly requests = new Map<number, PageRequest>();
  /** Contents of evicted dirty pages the pager has not taken yet. */
  readonly pagedOut = new Map<number, Uint8Array>();
  /** Remote copies of pages it paged out (`pager_locate`), by key. */
  readonly located = new Map<number, PageLocation>();
  ended = false;
  readonly #table: PagerTable;

  constructor(proc: Process, table: PagerTable) {
    this.proc = proc;
    this.#table = table;
  }

  supply(
    segment: Segment,
    page: number,
    access: number,
    writeProtect: boolean,
    waiter?: PageWaiter,
  ): boolean | "wait" {
    // A swapped segment's page the swap pager never took is zeros: the kernel fills it.
    if (this.swap && !writeProtect && segment.held?.[page] !== 1) return true;
    return this.#table.request(this, { segment, page, access, writeProtect }, waiter);
  }
}

/**
 * True if `q` cannot run until this thread lets it: ended, or in a trap (posted and
 * waiting to be served, being served, or blocked). It made every store before the
 * trap with an Atomics write of its STATE, and reads TLB_EPOCH when the trap returns.
 */
function isHeld(q: Process): boolean {
  if (q.state !== "running" || q.inTrap) return true;
  const s = Atomics.load(q.trap, Trap.STATE);
  return s === TrapState.PENDING || s === TrapState.SLEEPING;
}

/**
 * True if `q`, free to run, can hold no TLB entry older than epoch `need` (the one
 * its last accessed-bit shootdown bumped to; none: never shot down): its MMU has
 * flushed to it (TLB_SEEN), or it will read TLB_EPOCH before its next access
 * because it sleeps parked (TLB_PARKED) or has not yet taken the answer of a trap
 * (STATE DONE: it reads the epoch after it sets STATE back to IDLE, before any
 * access). Only valid after the bump to `need`.
 */
function acknowledged(q: Process, need: number | undefined): boolean {
  const t = q.trap;
  const seen = Atomics.load(t, Trap.TLB_SEEN);
  if (((seen - (need ?? seen)) | 0) >= 0) return true;
  return Atomics.load(t, Trap.TLB_PARKED) === 1 || Atomics.load(t, Trap.STATE) === TrapState.DONE;
}

/**
 * Pages the swap pager may have been handed (evicted dirty) and not yet taken;
 * past that, page faults of other processes wait until it takes one (`backlogged`):
 * writeback throttling. The kernel holds each such page outside the frames, and
 * each is an event in the pager's queue of 1,024.
 */
const MAX_HELD = 256;

/**
 * The PAGE_SIZE bytes a pager's SUPPLY gives at `vaddr` (EFAULT unless readable): a view
 * of its segment when one binding maps them all and they are present (#place copies
 * them before anything else runs), else a copy made through its address space.
 */
function pageOf(p: Process, vaddr: number): Uint8Array {
  const b = p.space.find(vaddr);
  if (b && (b.rights & Rights.READ) !== 0 && vaddr + PAGE_SIZE <= b.vaddr + b.size) {
    const off = vaddr - b.vaddr, seg = b.segment;
    const first = off >>> PAGE_SHIFT, last = (off + PAGE_SIZE - 1) >>> PAGE_SHIFT;
    if (seg.present[first] === 1 && seg.present[last] === 1) {
      return seg.bytes.subarray(off, off + PAGE_SIZE);
    }
  }
  checkLocal(p.space, vaddr, PAGE_SIZE, Rights.READ);
  return readLocal(p.space, vaddr, PAGE_SIZE);
}

/** Zeros, copied over a page to clear it: faster than fill on a SharedArrayBuffer. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** A request for `page` of `segment` that `pager` owes, not yet asked of it nor timed. */
function newRequest(
  pager: ExternalPager,
  segment: Segment,
  page: number,
  access: number,
  writeProtect: boolean,
  waiter?: PageWaiter,
): PageRequest {
  return {
    segment,
    page,
    access,
    writeProtect,
    waiters: waiter ? [waiter] : [],
    deadline: 0,
    pager,
    located: false,
    ownVaddr: -1,
  };
}

/** A page's request key. */
function key(segment: Segment, page: number): number {
  return segment.id * PAGES_PER_KEY + page; // exact: ids and pages are far below 2^53
}

/** The segment id of a request key. */
function segmentOfKey(k: number): number {
  return Math.floor(k / PAGES_PER_KEY);
}

/** A segment's pages fit below this (4 GiB of 4 KiB pages): a key is id * it + page. */
const PAGES_PER_KEY = 2 ** 20;

export class PagerTable implements FrameOwner {
  readonly #host: PagerHost;
  readonly #byPid = new Map<number, ExternalPager>();
  /** The node's swap pager, or null (`swap_attach`). */
  #swap: ExternalPager | null = null;
  /** Processes whose accessed bits the clock cleared in this sweep, not yet shot down. */
  readonly #swept = new Set<Process>();
  /** Per process, the TLB epoch its last accessed-bit shootdown bumped to (#unmapAll). */
  readonly #needs = new WeakMap<Process, number>();
  /** Requests with a deadline, and the one timer that checks them (#deadline). */
  readonly #waiting = new Set<PageRequest>();
  #sweep: TimerHandle | undefined;
  /** Page faults waiting for the swap pager to catch up (`backlogged`). */
  readonly #throttled: ((ended: string) => void)[] = [];
  /** #unmapAll's scratch: the old entries of the bindings it unmapped so far. */
  readonly #olds: number[] = [];
  readonly counts: PagerCounts = {
    requests: 0,
    answered: 0,
    failed: 0,
    timedOut: 0,
    evicted: 0,
    busy: 0,
    acknowledged: 0,
    throttled: 0,
    dropped: 0,
    remoteIns: 0,
    remoteOuts: 0,
    remoteFailed: 0,
  };

  constructor(host: PagerHost) {
    this.#host = host;
  }

  /** The pager process `pid` is, or undefined. */
  pagerOf(pid: number): ExternalPager | undefined {
    return this.#byPid.get(pid);
  }

  /** `set_pager`: `p` pages `segment` from now on. */
  attach(p: Process, segment: Segment): void {
    if (segment.mode !== SegMode.NORMAL) {
      fail("EINVAL", `set_pager: segment ${segment.id} is a message segment`);
    }
    if (segment.driverOnly) fail("EPERM", `set_pager: segment ${segment.id} is a device's`);
    const old = segment.pager;
    if (old !== zeroFillPager && !(old instanceof ExternalPager && old.ended)) {
      fail("EBUSY", `set_pager: segment ${segment.id} has a pager already`);
    }
    this.#adopt(this.#pagerFor(p), segment);
  }

  /** The ExternalPager of process `p`, made on its first `set_pager` or `swap_attach`. */
  #pagerFor(p: Process): ExternalPager {
    let pager = this.#byPid.get(p.pid);
    if (!pager) {
      pager = new ExternalPager(p, this);
      this.#byPid.set(p.pid, pager);
      const it = pager;
      this.#host.services.attach(`pager.${p.pid}`, p, { detach: () => this.#ended(it) });
    }
    eventPage(p); // made and handed over now, so the first request can be posted
    return pager;
  }

  /** `pager` pages `segment` from now on. */
  #adopt(pager: ExternalPager, segment: Segment): void {
    pager.segments.set(segment.id, segment);
    segment.pager = pager;
    segment.kernelDirty ??= new Uint8Array(segment.pages);
  }

  /**
   * `swap_attach`: `p` becomes the node's swap pager (service capability, one at a
   * time). A swappable page it is handed comes to it as a PAGE_OUT when evicted
   * dirty; a page it holds is asked for as a PAGE_FAULT; a page it never took is
   * zero-filled by the kernel without asking it.
   */
  attachSwap(p: Process): void {
    this.#host.services.checkAttach("the swap pager", p);
    const pager = this.#pagerFor(p);
    pager.swap = true;
    this.#swap = pager;
    this.#host.services.attach("the swap pager", p, {
      detach: () => {
        if (this.#swap === pager) this.#swap = null;
      },
    });
  }

  /** The swap pager's pid, or 0. */
  get swapPager(): number {
    return this.#swap?.proc.pid ?? 0;
  }

  /**
   * True if the swap pager may page `segment` out: an anonymous NORMAL segment not
   * made by the swap pager itself (it must never wait for itself), paged by no one
   * else, that opted in or was not kept out of the node's default.
   */
  #swappable(segment: Segment): boolean {
    const s = this.#swap, cur = segment.pager;
    if (!s || s.ended || !segment.anonymous || segment.creator === s.proc.pid) return false;
    // An ended swap pager's segments pass to the next one (the pages it held are lost).
    if (cur !== zeroFillPager && !(cur instanceof ExternalPager && cur.swap)) return false;
    return segment.swap ?? this.#host.config.swapAll ?? true;
  }

  /** A fault wants a page of a segment `pager` pages (ExternalPager.supply). */
  request(
    pager: ExternalPager,
    r: { segment: Segment; page: number; access: number; writeProtect: boolean },
    waiter?: PageWaiter,
  ): boolean | "wait" {
    const k = key(r.segment, r.page);
    const known = pager.requests.get(k);
    if (known) {
      if (!waiter) return "wait";
      known.waiters.push(waiter);
      // An own fault's request has no deadline until another process waits on it.
      if (known.ownVaddr !== -1 && known.deadline === 0) this.#deadline(known);
      return "wait";
    }
    if (pager.ended) return false;
    const req = newRequest(pager, r.segment, r.page, r.access, r.writeProtect, waiter);
    let at = pager.located.get(k);
    if (at && this.#host.nodeDown(at.to.node)) {
      this.#forgetPool(pager, at);
      at = undefined;
    }
    // Not while the kernel's WRITE of a newer copy is on its way (the pager has it).
    if (at && at.writes === 0 && !r.writeProtect && !pager.pagedOut.has(k)) {
      pager.requests.set(k, req);
      this.#readLocated(pager, req, at);
      return "wait";
    }
    if (!this.#ask(pager, req)) return false;
    pager.requests.set(k, req);
    return "wait";
  }

  /**
   * A page the pager located (`pager_locate`): the kernel READs it from there and
   * places it as a SUPPLY would, with no control transfer to the pager. A READ that
   * fails (the memory server's node down, its export gone, a lost frame) forgets the
   * location and asks the pager after all, which has the disk copy.
   */
  #readLocated(pager: ExternalPager, req: PageRequest, at: PageLocation): void {
    const k = key(req.segment, req.page);
    this.counts.remoteIns++;
    req.located = true;
    const done = (errno: number, payload: Uint8Array | null) => {
      if (pager.requests.get(k) !== req) return; // ended meanwhile
      if (errno === 0 && payload !== null && payload.length === PAGE_SIZE) {
        try {
          this.#place(pager, req, payload);
        } catch (e) {
          if (!(e instanceof KernelError)) throw e; // #place failed the request
        }
        return;
      }
      this.counts.remoteFailed++;
      req.located = false;
      this.#forgetPool(pager, at); // it failed as a whole: its node, its export
      if (!this.#ask(pager, req)) this.#finish(pager, req, Errno.EIO, "could not be asked");
    };
    this.#atLocation(FrameType.READ, at, null, (errno, f) => done(errno, f?.payload ?? null));
  }

  /**
   * The kernel's own READ or WRITE of a page at its location, completing through
   * `done` (an error at issue too: the node down, too many outstanding).
   */
  #atLocation(
    type: number,
    at: PageLocation,
    payload: Uint8Array | null,
    done: (errno: number, f: { payload: Uint8Array } | null) => void,
  ): void {
    try {
      this.#host.remote.issue(
        type,
        at.to,
        { offset: at.offset, count: PAGE_SIZE, notify: false },
        { proc: null, descId: at.descId, local: null, localOffset: 0, notify: false, done },
        payload ?? undefined,
      );
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      done(e.errno, null);
    }
  }

  /**
   * True if a page fault of `p` must wait for the swap pager to catch up: it has
   * MAX_HELD pages handed to it and not taken (the pager itself never waits).
   */
  backlogged(p: Process): boolean {
    const s = this.#swap;
    if (!s || s.ended || s.proc === p || s.pagedOut.size < MAX_HELD) return false;
    this.counts.throttled++;
    return true;
  }

  /**
   * Runs `then("")` once the swap pager takes a page, or `then(why)` if it ends
   * (the faults it held back owe it their failure).
   */
  afterTake(then: (ended: string) => void): void {
    this.#throttled.push(then);
  }

  /** The swap pager took a page or ended: the faults held back go on (and may wait again). */
  #caughtUp(ended = ""): void {
    if (this.#throttled.length === 0) return;
    const waiting = this.#throttled.splice(0);
    for (const then of waiting) then(ended);
  }

  /**
   * A located page was evicted dirty: the kernel WRITEs the new copy to its place
   * itself, so the location holds (the pager still gets the page, for its disk
   * copy). Until the WRITE completes the page's faults go to the pager; if it
   * fails, the pool's locations are forgotten.
   */
  #writeLocated(pager: ExternalPager, k: number, bytes: Uint8Array): void {
    const at = pager.located.get(k);
    if (!at) return;
    if (this.#host.nodeDown(at.to.node)) return this.#forgetPool(pager, at);
    at.writes++;
    this.counts.remoteOuts++;
    const done = (errno: number) => {
      at.writes--;
      if (errno !== 0) {
        this.counts.remoteFailed++;
        this.#forgetPool(pager, at);
      }
    };
    this.#atLocation(FrameType.WRITE, at, bytes, done);
  }

  /** True while the kernel READs `page` of `segment` from where its pager located it. */
  readingLocated(segment: Segment, page: number): boolean {
    const pager = segment.pager;
    if (!(pager instanceof ExternalPager)) return false;
    return pager.requests.get(key(segment, page))?.located === true;
  }

  /** Forgets every location the pager gave in the remote segment `at` is in. */
  #forgetPool(pager: ExternalPager, at: PageLocation): void {
    const { node, exportId } = at.to;
    for (const [k, l] of pager.located) {
      if (l.to.node === node && l.to.exportId === exportId) pager.located.delete(k);
    }
  }

  /**
   * Tells the pager of a request (a PAGE_FAULT event) and starts its deadline;
   * false if its event queue is full.
   */
  #ask(pager: ExternalPager, req: PageRequest): boolean {
    const k = key(req.segment, req.page);
    const info = pageRequestInfo(req.page, req.access, req.writeProtect, pager.pagedOut.has(k));
    if (!postEvent(eventPage(pager.proc), EventKind.PAGE_FAULT, req.segment.id, info)) {
      this.#host.tracer.trace("faults", `pager pid ${pager.proc.pid}: event queue full`);
      return false;
    }
    this.counts.requests++;
    this.#deadline(req);
    this.#host.tracer.trace(
      "faults",
      `pager pid ${pager.proc.pid} asked for page ${req.page} of segment ${req.segment.id} ` +
        `(${accessName(req.access)}${req.writeProtect ? ", write-protected" : ""})`,
    );
    return true;
  }

  /**
   * Fails `req` if its pager has not answered within pagerTimeoutMs. One timer
   * serves every request (a host timer each cost more than the rest of a fault):
   * it fires at the earliest deadline and fails those that have passed.
   */
  #deadline(req: PageRequest): void {
    const ms = this.#host.config.pagerTimeoutMs;
    req.deadline = this.#host.clock.now() + ms;
    this.#waiting.add(req);
    if (this.#sweep === undefined) this.#armSweep(ms);
  }

  #armSweep(ms: number): void {
    this.#sweep = this.#host.clock.setTimeout(() => {
      this.#sweep = undefined;
      const now = this.#host.clock.now();
      let next = Infinity;
      for (const req of this.#waiting) {
        if (req.deadline <= now) {
          this.counts.timedOut++;
          const t = this.#host.config.pagerTimeoutMs;
          this.#finish(req.pager, req, Errno.ETIMEDOUT, `did not answer within ${t} ms`);
        } else next = Math.min(next, req.deadline);
      }
      if (next !== Infinity) this.#armSweep(Math.max(1, next - now));
    }, ms);
  }

  /**
   * A page fault of `p` at `vaddr` on a segment `p` pages itself, which its pager
   * (itself) must answer: the request is made (or joined) with no event and no
   * waiter, and the trap answers at once with what it is (PAGE_FAULT_OWN): the
   * process answers it in its own thread and touches again. No deadline, as its
   * faulting thread is its pager (the MMU gives up after a few unanswered tries),
   * until another process waits for the page too (request). Null for any other
   * fault (the ordinary path handles it: mapped, protection, another pager).
   */
  ownFault(p: Process, vaddr: number, access: number): { result: number; result2: number } | null {
    const b = p.space.find(vaddr);
    if (!b) return null;
    const segment = b.segment, pager = segment.pager;
    if (!(pager instanceof ExternalPager) || pager.proc !== p || pager.ended) return null;
    const page = (vaddr - b.vaddr) >>> PAGE_SHIFT;
    if (!(b.pageRights[page] & (access === Access.WRITE ? Rights.WRITE : Rights.READ))) return null;
    const wp = access === Access.WRITE && segment.present[page] === 1 &&
      segment.writeProtected !== null && segment.writeProtected[page] === 1;
    if (segment.present[page] === 1 && !wp) return null;
    const k = key(segment, page);
    if (!pager.requests.has(k)) {
      const req = newRequest(pager, segment, page, access, wp);
      req.ownVaddr = vaddr;
      pager.requests.set(k, req);
      this.counts.requests++;
    }
    const info = pageRequestInfo(page, access, wp, pager.pagedOut.has(k));
    return { result: (segment.id << 2) | PAGE_FAULT_OWN, result2: info };
  }

  /**
   * `pager_locate`: a copy of `page` of segment `id` lies at `at` (null: forget it).
   * The pager says so once that copy is complete there (its WRITE's completion);
   * from then on the kernel writes each newer copy there itself when it evicts the
   * page dirty, and forgets the place when a READ or WRITE there fails or the
   * segment goes: a located copy is never older than the page.
   */
  locate(p: Process, id: number, page: number, at: PageLocation | null): number {
    const { pager, segment } = this.#check(p, id, page);
    const k = key(segment, page);
    if (at) pager.located.set(k, at);
    else pager.located.delete(k);
    return 0;
  }

  /** The request of `p` (a pager) for `page` of segment `id`, checked; or fails. */
  #check(p: Process, id: number, page: number): { pager: ExternalPager; segment: Segment } {
    const pager = this.#byPid.get(p.pid);
    const segment = pager?.segments.get(id);
    if (!pager || !segment || segment.freed) {
      fail("EPERM", `pid ${p.pid} does not page segment ${id}`);
    }
    if (page >= segment.pages) {
      fail("EINVAL", `page ${page} is outside segment ${id} (${segment.pages} pages)`);
    }
    return { pager, segment };
  }

  /** `pager_answer`: SUPPLY, ZERO, FAIL or TAKE (see PagerOp). */
  answer(p: Process, id: number, page: number, op: number, vaddr: number): number {
    const { pager, segment } = this.#check(p, id, page);
    const k = key(segment, page);
    if (op === PagerOp.TAKE) {
      const held = pager.pagedOut.get(k);
      if (!held) fail("ENOENT", `page ${page} of segment ${id} was not paged out`);
      writeLocal(p.space, vaddr, held);
      pager.pagedOut.delete(k);
      if (pager === this.#swap) this.#caughtUp();
      return 0;
    }
    if (op !== PagerOp.SUPPLY && op !== PagerOp.ZERO && op !== PagerOp.FAIL) {
      fail("EINVAL", `pager_answer: op ${op}`);
    }
    const req = pager.requests.get(k);
    if (!req) fail("ENOENT", `page ${page} of segment ${id} was not asked for`);
    if (op === PagerOp.FAIL) {
      this.counts.failed++;
      this.#finish(pager, req, Errno.EFAULT, "failed the fault");
      return 0;
    }
    if (req.writeProtect) {
      fail("EINVAL", `page ${page} of segment ${id} is present: unprotect it or FAIL`);
    }
    this.#place(pager, req, op === PagerOp.SUPPLY ? pageOf(p, vaddr) : null);
    return 0;
  }

  /**
   * Gives the answered page a frame and its bytes (null: zeros) and tells every
   * waiter. Without a frame the request fails, and so does the answer; while every
   * frame is held by pages whose shootdowns are not yet acknowledged (EAGAIN) the
   * answer is accepted and placed a millisecond later, again until the request's
   * own deadline ends it.
   */
  #place(pager: ExternalPager, req: PageRequest, bytes: Uint8Array | null, later = false): void {
    if (pager.requests.get(key(req.segment, req.page)) !== req) return; // ended meanwhile
    const { segment, page } = req;
    try {
      segment.frames?.take(segment, page);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      if (e.errno === Errno.EAGAIN) {
        const kept = bytes && !later ? bytes.slice() : bytes; // it may be a view of the pager's page
        this.#host.clock.setTimeout(() => this.#place(pager, req, kept, true), 1);
        return;
      }
      this.counts.failed++;
      this.#finish(pager, req, e.errno, `could not place the page: ${e.message}`);
      if (later) return;
      throw e;
    }
    const at = page * PAGE_SIZE;
    // Not present anywhere: no process can see the page being filled, so a plain copy.
    if (bytes) segment.bytes.set(bytes, at);
    else segment.bytes.set(ZERO_PAGE, at);
    segment.kernelDirty![page] = 0; // the pager's copy is the page
    segment.present[page] = 1;
    segment.zeroFills++;
    this.counts.answered++;
    // Its own fault: mapped now, so the access it makes again needs no second trap.
    if (req.ownVaddr !== -1) pager.proc.space.fault(req.ownVaddr, req.access, undefined, true);
    this.#finish(pager, req, 0, "");
  }

  /** `pager_protect`: write-protects (or unprotects) [page, page+count) of segment `id`. */
  protect(p: Process, id: number, page: number, count: number, on: number): number {
    const { pager, segment } = this.#check(p, id, page);
    if (count === 0 || page + count > segment.pages) {
      fail("EINVAL", `pages ${page}+${count} are outside segment ${id}`);
    }
    if (on !== 0 && on !== 1) fail("EINVAL", `pager_protect: on is ${on} (0 or 1)`);
    const wp = segment.writeProtected ??= new Uint8Array(segment.pages);
    for (let i = page; i < page + count; i++) wp[i] = on;
    this.#remap(segment, page, count, true);
    if (on === 0) {
      for (let i = page; i < page + count; i++) {
        const req = pager.requests.get(key(segment, i));
        if (req?.writeProtect) {
          this.counts.answered++;
          this.#finish(pager, req, 0, "");
        }
      }
    }
    return 0;
  }

  /**
   * `pager_drop`: pages [page, page+count) of segment `id` that are present become
   * not present in every binding (the eviction's shootdown, #unmapAll), their
   * contents discarded and cleared, not paged out, and any location forgotten: the
   * next touch of each is a fault to the pager (a DSM's invalidation; a pager's
   * MADV_DONTNEED). Checked first: a pinned page, or one with a write-protect fault
   * waiting, is EBUSY. A page a process free to run maps and has not acknowledged
   * the shootdown for is EAGAIN, with the pages before it dropped (call again).
   * Returns how many pages were present.
   */
  drop(p: Process, id: number, page: number, count: number): number {
    const { pager, segment } = this.#check(p, id, page);
    if (count === 0 || page + count > segment.pages) {
      fail("EINVAL", `pages ${page}+${count} are outside segment ${id}`);
    }
    for (let i = page; i < page + count; i++) {
      if (segment.present[i] !== 1) continue;
      if (segment.pins[i] > 0) fail("EBUSY", `page ${i} of segment ${id} is pinned`);
      if (pager.requests.has(key(segment, i))) {
        fail("EBUSY", `page ${i} of segment ${id} has a write-protect fault waiting: answer it`);
      }
    }
    let dropped = 0;
    for (let i = page; i < page + count; i++) {
      if (segment.present[i] !== 1) continue;
      if (this.#unmapAll(segment, i) < 0) {
        fail(
          "EAGAIN",
          `page ${i} of segment ${id}: a process that maps it has not ` +
            `acknowledged a TLB shootdown yet (pages before it were dropped)`,
        );
      }
      segment.present[i] = 0;
      segment.frames?.release(segment, i);
      segment.kernelDirty![i] = 0;
      pager.located.delete(key(segment, i));
      segment.bytes.set(ZERO_PAGE, i * PAGE_SIZE);
      dropped++;
    }
    this.counts.dropped += dropped;
    return dropped;
  }

  /**
   * The page-frame manager's hook: makes `page` of `segment` not present in every
   * binding, once no process can store to it through its TLB any more (#unmapAll).
   * A dirty page of an externally paged segment is held for its pager (a PAGE_OUT
   * event; `PagerOp.TAKE` fetches it) and the frame is cleared. Returns what the
   * page was; "pinned" pages stay, and so does a "busy" one: a process that maps it
   * has not acknowledged a shootdown yet, or filled its TLB with it meanwhile.
   */
  evict(segment: Segment, page: number): "absent" | "pinned" | "busy" | "clean" | "dirty" {
    if (!segment.present[page]) return "absent";
    if (segment.pins[page] > 0) return "pinned";
    const flags = this.#unmapAll(segment, page);
    if (flags < 0) {
      this.counts.busy++;
      return "busy";
    }
    if (segment.pager !== this.#swap && this.#swappable(segment)) {
      this.#adopt(this.#swap!, segment);
      segment.held ??= new Uint8Array(segment.pages);
    }
    segment.present[page] = 0;
    segment.frames?.release(segment, page);
    this.counts.evicted++;
    for (const b of segment.bindings) {
      const q = this.#host.procs.get(b.pid);
      if (q) q.counters.evictions++;
    }
    const at = page * PAGE_SIZE;
    const pager = segment.pager instanceof ExternalPager ? segment.pager : null;
    const kd = segment.kernelDirty;
    const dirty = (flags & Pte.DIRTY) !== 0 || (kd !== null && kd[page] === 1);
    if (kd) kd[page] = 0;
    if (pager && !pager.ended && dirty) {
      const bytes = segment.bytes.slice(at, at + PAGE_SIZE);
      pager.pagedOut.set(key(segment, page), bytes);
      this.#writeLocated(pager, key(segment, page), bytes);
      if (segment.held) segment.held[page] = 1;
      if (!postEvent(eventPage(pager.proc), EventKind.PAGE_OUT, segment.id, page)) {
        // Its queue is full: the kernel keeps the bytes for a TAKE when it is asked for the page.
        this.#host.tracer.trace("faults", `pager pid ${pager.proc.pid}: event queue full`);
      }
    }
    if (pager) segment.bytes.set(ZERO_PAGE, at); // (a copy: fill is 5x slower on shared memory)
    return dirty ? "dirty" : "clean";
  }

  /**
   * The eviction's TLB shootdown, made synchronous (README, Page frames). A process
   * that maps the page is either held by the kernel (ended, or in a trap: posted,
   * being served or blocked; it runs again only when this thread completes the trap,
   * after a shootdown) or free to run. A free one may have a TLB entry for the page
   * and store through it at any instant; it is safe only once it has flushed its TLB
   * since its accessed bits were last cleared (TLB_SEEN at least the epoch that
   * clearing was shot down under, or it reads the epoch before its next access:
   * `acknowledged`) and the page's accessed bit is still clear: the MMU sets that
   * bit, with a compare-and-swap, before it installs an entry, so a clear bit means
   * no entry since that flush. The clock's pass that cleared the bits is thus also
   * the wait for the acknowledgement. The free ones' entries are made not present
   * with a compare-and-swap that fails if the bit was set meanwhile (every entry is
   * then put back: -1, busy); the held ones' are exchanged and their TLBs shot down.
   * Returns the old flags or'ed: every DIRTY bit set up to the exchange.
   */
  #unmapAll(segment: Segment, page: number): number {
    if (segment.bindings.size === 1) {
      // The common case, one binding of a process in a trap: no lists to build.
      const b: Binding = segment.bindings.values().next().value!, q = this.#host.procs.get(b.pid);
      if (!q) return 0;
      if (isHeld(q)) {
        const old = q.space.unmap(b, page, false);
        Atomics.add(q.trap, Trap.TLB_EPOCH, 1);
        return old;
      }
    }
    const held: [Process, Binding][] = [], free: [Process, Binding][] = [];
    for (const b of segment.bindings) {
      const q = this.#host.procs.get(b.pid);
      if (!q) continue;
      if (isHeld(q)) {
        held.push([q, b]);
        continue;
      }
      // A bit the clock cleared in this sweep, or one set since: shoot it down now,
      // before TLB_PARKED is read, so a process that wakes sees the new epoch.
      const vpn = b.vaddr / PAGE_SIZE + page;
      if (q.space.pageTable.clearAccessed(vpn) || this.#swept.has(q)) this.#shootdown(q);
      if (!acknowledged(q, this.#needs.get(q))) return -1;
      free.push([q, b]);
    }
    let flags = 0;
    for (let i = 0; i < free.length; i++) {
      const [q, b] = free[i];
      const old = q.space.unmap(b, page, true);
      if (old === -1) {
        for (let j = 0; j < i; j++) free[j][0].space.restore(free[j][1], page, this.#olds[j]);
        return -1;
      }
      this.#olds[i] = old;
      flags |= old;
    }
    for (const [q, b] of held) {
      flags |= q.space.unmap(b, page, false);
      Atomics.add(q.trap, Trap.TLB_EPOCH, 1);
    }
    if (free.length > 0) this.counts.acknowledged++;
    return flags;
  }

  /** A shootdown of `q`'s accessed bits: its TLB must be flushed to the new epoch. */
  #shootdown(q: Process): void {
    this.#needs.set(q, (Atomics.add(q.trap, Trap.TLB_EPOCH, 1) + 1) | 0);
    this.#swept.delete(q);
  }

  /**
   * FrameOwner: present, not pinned, not being asked for, and paged by a running
   * pager (or swappable: the swap pager takes it on its first eviction).
   */
  evictable(segment: Segment, page: number): boolean {
    if (segment.present[page] !== 1 || segment.pins[page] !== 0) return false;
    const pager = segment.pager;
    if (pager === zeroFillPager) return this.#swappable(segment);
    if (!(pager instanceof ExternalPager)) return false;
    if (pager.swap ? !this.#swappable(segment) : pager.ended) return false;
    return pager.requests.size === 0 || !pager.requests.has(key(segment, page));
  }

  /**
   * FrameOwner: `segment` was freed. Its pager forgets it (a SEGMENT_FREED event, so
   * the swap pager frees its copies), its kept pages go, its requests fail.
   */
  segmentFreed(segment: Segment): void {
    const pager = segment.pager;
    if (!(pager instanceof ExternalPager) || pager.segments.get(segment.id) !== segment) return;
    pager.segments.delete(segment.id);
    for (const map of [pager.pagedOut, pager.located]) {
      for (const k of [...map.keys()]) if (segmentOfKey(k) === segment.id) map.delete(k);
    }
    for (const req of [...pager.requests.values()]) {
      if (req.segment === segment) this.#finish(pager, req, Errno.EFAULT, "lost its segment");
    }
    if (!pager.ended) postEvent(eventPage(pager.proc), EventKind.SEGMENT_FREED, segment.id, 0);
  }

  /** FrameOwner: clears the page's accessed bit in every binding; true if one was set. */
  referenced(segment: Segment, page: number): boolean {
    let any = false;
    for (const b of segment.bindings) {
      const q = this.#host.procs.get(b.pid);
      if (!q || !q.space.pageTable.clearAccessed((b.vaddr / PAGE_SIZE) + page)) continue;
      any = true;
      this.#swept.add(q);
    }
    return any;
  }

  /** FrameOwner: one shootdown per process whose bits the sweep cleared (and not since). */
  sweepDone(): void {
    for (const q of this.#swept) this.#shootdown(q);
  }

  /** Rewrites pages' entries in every binding and shoots down; returns their flags or'ed. */
  #remap(segment: Segment, page: number, count: number, present: boolean): number {
    let flags = 0;
    for (const b of segment.bindings) {
      const q = this.#host.procs.get(b.pid);
      if (!q) continue;
      for (let i = page; i < page + count; i++) flags |= q.space.refresh(b, i, present);
      Atomics.add(q.trap, Trap.TLB_EPOCH, 1);
    }
    return flags;
  }

  /** Ends a request: its timer stops, every waiter is told (0, or why it failed). */
  #finish(pager: ExternalPager, req: PageRequest, errno: number, why: string): void {
    if (pager.requests.get(key(req.segment, req.page)) !== req) return;
    pager.requests.delete(key(req.segment, req.page));
    req.deadline = 0;
    this.#waiting.delete(req);
    const reason = errno === 0
      ? ""
      : `pager pid ${pager.proc.pid} ${why} (page ${req.page} of segment ${req.segment.id})`;
    for (const w of req.waiters) w(errno, reason);
  }

  /** The pager process ended: its requests fail now, and so does every later fault. */
  #ended(pager: ExternalPager): void {
    pager.ended = true;
    this.#byPid.delete(pager.proc.pid);
    pager.pagedOut.clear();
    pager.located.clear();
    if (pager === this.#swap) this.#caughtUp(`swap pager pid ${pager.proc.pid} ended`);
    for (const req of [...pager.requests.values()]) {
      this.counts.failed++;
      this.#finish(pager, req, Errno.EFAULT, "ended");
    }
    if (this.#waiting.size === 0 && this.#sweep !== undefined) {
      this.#host.clock.clearTimeout(this.#sweep); // nothing left to time out
      this.#sweep = undefined;
    }
  }
}
