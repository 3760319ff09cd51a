/**
 * The process's MMU: every load and store translates its virtual address through a
 * software TLB filled from the page table the kernel keeps.
 *
 * The TLB is direct-mapped with TLB_SIZE entries indexed by the low bits of the
 * virtual page number. An entry is valid for reads when `tagR[i] === vpn` and for
 * stores when `tagW[i] === vpn`; a store entry is only made once the page's dirty
 * bit is set, so the first store to a page always goes through `fill`, which sets D
 * (A is set on every fill). A miss that the page table cannot satisfy (not present,
 * or a store to a read-only page) is a page-fault trap; the kernel maps the page
 * (zero-filling it on first touch) or reports a protection fault.
 *
 * The kernel bumps the trap page's TLB_EPOCH whenever one of this process's
 * mappings loses a right; every access compares it with the epoch the TLB was
 * filled under and flushes on a change (the shootdown), acknowledging it in
 * TLB_SEEN. A fill sets A (and D) with a compare-and-swap on the entry, so an entry
 * the kernel made not present meanwhile is walked again, never installed.
 *
 * Aligned 32-bit loads and stores are atomic (Atomics.load/store), so they are
 * atomic with respect to other processes and, later, remote accesses.
 *
 * Message pages (001 §3.2–3.3; the PTE's MESSAGE bit) take a second path, the
 * emulated cache controller. With the 32-byte line as the unit, stores to a line
 * are held in this process's write-back buffer (its "cache": up to OPEN_LINES lines,
 * filled from memory on the first store) and reach memory only when a store writes
 * the line's last byte: the whole line is then written at once, so a reader never
 * sees part of a message line, and the unit is complete. With the page as the unit,
 * stores go to memory and the store that writes the page's last byte completes it.
 * A completed unit is handed to signals.ts' `completeUnit` (automatic
 * signal-on-write, and the network for a segment bound on other nodes). The
 * process's own loads see its buffered lines. A line pushed out of a full buffer is
 * written back without completing (no signal, no datagram); the open lines of a
 * segment being unbound or released are discarded.
 */

import { Errno, SysError } from "../../../kernel/abi/errors.ts";
import {
  Access,
  accessName,
  PAGE_FAULT_OWN,
  PAGE_MASK,
  PAGE_SHIFT,
  PAGE_SIZE,
  Pte,
  Trap,
} from "../../../kernel/abi/layout.ts";
import { Sys } from "../../../kernel/abi/syscalls.ts";
import { walkPageTable } from "../../../kernel/memory/page_table.ts";
import { runtime, stopIfEnded } from "./runtime.ts";
import { boundCount, completeUnit, runFaultHandler } from "./signals.ts";
import { lastResult2, ownPager, safePoint, slotBuffer, slotSegment, trapWith2 } from "./trap.ts";

const TLB_BITS = 8;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;

/** A memory access the process cannot make and no handler repaired. */
export class MemoryFault extends Error {
  readonly vaddr: number;
  readonly access: number;
  constructor(vaddr: number, access: number) {
    super(`Unrepaired fault: ${accessName(access)} at ${hex(vaddr)}`);
    this.name = "MemoryFault";
    this.vaddr = vaddr >>> 0;
    this.access = access;
  }
}

const PT: Int32Array = runtime ? runtime.pageTable : new Int32Array(1024);
const TRAP: Int32Array = runtime ? runtime.trap : new Int32Array(64);
let epoch = Atomics.load(TRAP, Trap.TLB_EPOCH);
Atomics.store(TRAP, Trap.TLB_SEEN, epoch);
const tagR = new Int32Array(TLB_SIZE).fill(-1);
const tagW = new Int32Array(TLB_SIZE).fill(-1);
/** Byte offset of the page within its segment buffer. */
const base = new Int32Array(TLB_SIZE);
const u8: Uint8Array[] = new Array(TLB_SIZE);
const i32: Int32Array[] = new Array(TLB_SIZE);
const dv: DataView[] = new Array(TLB_SIZE);
/** Per entry: 0 for an ordinary page, else MSG with SIGNALLING and PAGE_UNIT as set. */
const kind = new Uint8Array(TLB_SIZE);
/** Per entry: the binding slot of the page (for message pages' completions). */
const slotOf = new Int32Array(TLB_SIZE);
const MSG = 1, SIGNALLING = 2, PAGE_UNIT = 4;
const LINE = 32;
/** Views per slot, made once per segment buffer. */
const views: { u8: Uint8Array; i32: Int32Array; dv: DataView }[] = [];
let misses = 0;

safePoint.epoch = (e) => {
  if (e !== epoch) flushTlb(e);
};

/**
 * Empties the TLB (a shootdown). The kernel shoots down the TLB of a process it
 * ends, so every memory access after that comes here and stops the worker.
 *
 * The flush is acknowledged in TLB_SEEN: an Atomics store, so every store this
 * process made through its old entries happens before the kernel reads the epoch
 * there, and a page the kernel evicts once it has read it cannot lose one of them
 * (kernel/memory/pager_table.ts, evict).
 */
export function flushTlb(newEpoch = Atomics.load(TRAP, Trap.TLB_EPOCH)): void {
  stopIfEnded();
  tagR.fill(-1);
  tagW.fill(-1);
  epoch = newEpoch;
  Atomics.store(TRAP, Trap.TLB_SEEN, newEpoch);
}

/** TLB misses so far (for `stats` and the tests). */
export function tlbMisses(): number {
  return misses;
}

function hex(va: number): string {
  return "0x" + (va >>> 0).toString(16).padStart(8, "0");
}

function viewsFor(slot: number) {
  let v = views[slot];
  if (!v) {
    const buf = slotBuffer(slot);
    if (!buf) throw new Error(`kernel mapped slot ${slot} but never handed its buffer`);
    v = { u8: new Uint8Array(buf), i32: new Int32Array(buf), dv: new DataView(buf) };
    views[slot] = v;
  }
  return v;
}

/** Returns the TLB index for a load from `va`, filling it on a miss. */
function forRead(va: number): number {
  const vpn = va >>> PAGE_SHIFT;
  const i = vpn & TLB_MASK;
  if (tagR[i] === vpn && Atomics.load(TRAP, Trap.TLB_EPOCH) === epoch) return i;
  return fill(va, Access.READ);
}

/** Returns the TLB index for a store to `va`, filling it on a miss. */
function forWrite(va: number): number {
  const vpn = va >>> PAGE_SHIFT;
  const i = vpn & TLB_MASK;
  if (tagW[i] === vpn && Atomics.load(TRAP, Trap.TLB_EPOCH) === epoch) return i;
  return fill(va, Access.WRITE);
}

/** Walks the page table for `va`, faulting until the access is allowed. */
function fill(va: number, access: number): number {
  const e = Atomics.load(TRAP, Trap.TLB_EPOCH);
  if (e !== epoch) flushTlb(e);
  misses++;
  const vpn = va >>> PAGE_SHIFT;
  const need = access === Access.WRITE ? Pte.PRESENT | Pte.WRITABLE : Pte.PRESENT;
  let handled = false;
  for (let tries = 0;; tries++) {
    if (tries > 4) throw new Error(`MMU: page fault at ${hex(va)} was answered but never mapped`);
    const at = walkPageTable(PT, vpn);
    const pte = at < 0 ? 0 : Atomics.load(PT, at);
    if ((pte & need) === need) {
      const mark = access === Access.WRITE ? Pte.ACCESSED | Pte.DIRTY : Pte.ACCESSED;
      // A compare-and-swap, not an OR: an entry the kernel made not present since it
      // was read (an eviction) must not be installed. A lost race walks again.
      if ((pte & mark) !== mark && Atomics.compareExchange(PT, at, pte, pte | mark) !== pte) {
        tries--;
        continue;
      }
      return install(vpn, pte | mark, PT[at + 1], access === Access.WRITE);
    }
    try {
      const r = trapWith2(Sys.page_fault, va, access);
      if ((r & 3) === PAGE_FAULT_OWN) answerOwn(va, r >>> 2, lastResult2(), tries);
    } catch (err) {
      if (!(err instanceof SysError) || err.code !== "EFAULT") throw err;
      // The kernel found a real fault and we have a handler at FAULT_ADDRESS: run it,
      // then retry once (it may have remapped); a second fault is not repaired.
      if (handled) throw new MemoryFault(va, access);
      handled = true;
      runFaultHandler(va >>> 0, access);
    }
  }
}

/**
 * The fault is on a segment this process pages itself (PAGE_FAULT_OWN): its
 * `onPageFault` handler answers it here, in the faulting thread, and the access is
 * walked again. A fault inside the handler on such memory cannot be answered.
 */
function answerOwn(va: number, segment: number, info: number, tries: number): void {
  const handler = ownPager.handler;
  const where = `page fault at ${hex(va)} on segment ${segment}, which this process pages itself`;
  if (!handler) throw new Error(`${where}: it has no onPageFault handler`);
  if (ownPager.busy) throw new Error(`${where}, inside its own onPageFault handler`);
  if (tries >= 4) throw new Error(`${where}: its onPageFault handler did not answer`);
  ownPager.busy = true;
  try {
    handler(segment, info);
  } finally {
    ownPager.busy = false;
  }
}

function install(vpn: number, pte: number, slot: number, write: boolean): number {
  const i = vpn & TLB_MASK;
  const v = viewsFor(slot);
  base[i] = (pte >>> PAGE_SHIFT) << PAGE_SHIFT;
  u8[i] = v.u8;
  i32[i] = v.i32;
  dv[i] = v.dv;
  tagR[i] = vpn;
  tagW[i] = write || (pte & (Pte.WRITABLE | Pte.DIRTY)) === (Pte.WRITABLE | Pte.DIRTY) ? vpn : -1;
  slotOf[i] = slot;
  kind[i] = pte & Pte.MESSAGE
    ? MSG | (pte & Pte.SIGNAL_ON_WRITE ? SIGNALLING : 0) | (pte & Pte.UNIT_PAGE ? PAGE_UNIT : 0)
    : 0;
  return i;
}

// ---------------------------------------------------------------------------
// Message pages: the write-back line buffer and unit completion.

const OPEN_LINES = 8;
/**
 * Each buffered line is named physically, by binding slot and byte offset in the
 * segment, never by virtual address: a line left open when its segment is unbound
 * can never land in whatever is bound there next, and two bindings of one segment
 * share their buffered lines. A free entry has slot -1.
 */
const openSlot = new Int32Array(OPEN_LINES).fill(-1);
const openPhys = new Int32Array(OPEN_LINES);
const lines = new Uint8Array(OPEN_LINES * LINE);
let openCount = 0;
let victim = 0;
/** Little-endian bytes of a scalar on its way to or from a message page. */
const scratch = new Uint8Array(8);
const scratchDv = new DataView(scratch.buffer);

function findLine(slot: number, phys: number): number {
  if (openCount === 0) return -1;
  for (let j = 0; j < OPEN_LINES; j++) {
    if (openSlot[j] === slot && openPhys[j] === phys) return j;
  }
  return -1;
}

/** Buffers the line at `phys` of binding slot `slot` (TLB entry `i`), filled from memory. */
function openLine(slot: number, phys: number, i: number): number {
  let j = openSlot.indexOf(-1);
  if (j < 0) {
    j = victim;
    victim = (victim + 1) % OPEN_LINES;
    writeBack(j);
  }
  lines.set(u8[i].subarray(phys, phys + LINE), j * LINE);
  openSlot[j] = slot;
  openPhys[j] = phys;
  openCount++;
  return j;
}

/** Writes buffered line `j` to its segment and frees the entry. */
function writeBack(j: number): void {
  viewsFor(openSlot[j]).u8.set(lines.subarray(j * LINE, j * LINE + LINE), openPhys[j]);
  openSlot[j] = -1;
  openCount--;
}

/**
 * Forgets, unwritten, the buffered lines of the segment bound at `vaddr` (memory.ts
 * calls this before an unbind or a release: an unfinished message is abandoned),
 * unless the segment stays bound at another address.
 */
export function discardLines(vaddr: number): void {
  if (openCount === 0) return;
  const at = walkPageTable(PT, vaddr >>> PAGE_SHIFT);
  if (at < 0) return;
  const slot = PT[at + 1];
  // Lines are the segment's, not the binding's: another binding still writes them.
  if (boundCount(slotSegment[slot]) > 1) return;
  discardWhere((s) => s === slot);
}

/** The same for every binding of segment `id`. */
export function discardSegmentLines(id: number): void {
  if (openCount !== 0) discardWhere((slot) => slotSegment[slot] === id);
}

function discardWhere(match: (slot: number) => boolean): void {
  for (let j = 0; j < OPEN_LINES; j++) {
    if (openSlot[j] >= 0 && match(openSlot[j])) {
      openSlot[j] = -1;
      openCount--;
    }
  }
}

/**
 * Stores `n` bytes of `src` from `from` at `va` on message page `i` (all in that
 * page), completing every unit whose last byte it writes.
 */
function storeMessage(i: number, va: number, src: Uint8Array, from: number, n: number): void {
  const k = kind[i];
  const signalling = (k & SIGNALLING) !== 0;
  if (k & PAGE_UNIT) {
    u8[i].set(
      from === 0 && n === src.length ? src : src.subarray(from, from + n),
      base[i] + (va & PAGE_MASK),
    );
    if (((va + n) & PAGE_MASK) === 0) {
      completeUnit((va & ~PAGE_MASK) >>> 0, signalling, slotOf[i], base[i]);
    }
    return;
  }
  if (src === scratch && (va & (LINE - 1)) + n > LINE) {
    src = scratch.slice(0, n); // a completion's handlers may store through `scratch`
    from = 0;
  }
  let done = 0;
  while (done < n) {
    const at = (va + done) >>> 0;
    const lineVa = (at & ~(LINE - 1)) >>> 0;
    const off = at & (LINE - 1);
    const m = Math.min(n - done, LINE - off);
    const t = forWrite(lineVa); // a signal handler run by the last completion may have remapped
    const slot = slotOf[t], phys = base[t] + (lineVa & PAGE_MASK);
    let j = findLine(slot, phys);
    if (j < 0 && off === 0 && m === LINE) {
      // A whole line in one store: straight to memory, complete at once.
      u8[t].set(src.subarray(from + done, from + done + LINE), phys);
      completeUnit(lineVa, signalling, slot, phys);
    } else {
      if (j < 0) j = openLine(slot, phys, t);
      lines.set(src.subarray(from + done, from + done + m), j * LINE + off);
      if (off + m === LINE) {
        writeBack(j);
        completeUnit(lineVa, signalling, slot, phys);
      }
    }
    done += m;
  }
}

/**
 * Copies this process's buffered lines over `out[outAt, outAt+len)`, which holds
 * bytes [phys, phys+len) of binding slot `slot` as read from memory.
 */
function overlayLines(out: Uint8Array, outAt: number, slot: number, phys: number, len: number) {
  for (let j = 0; j < OPEN_LINES; j++) {
    const lp = openPhys[j];
    if (openSlot[j] !== slot || lp >= phys + len || lp + LINE <= phys) continue;
    const lo = Math.max(lp, phys), hi = Math.min(lp + LINE, phys + len);
    out.set(lines.subarray(j * LINE + (lo - lp), j * LINE + (hi - lp)), outAt + (lo - phys));
  }
}

/** Loads `n` bytes (within one page) of message page `i` into `scratch`. */
function loadMessage(i: number, va: number, n: number): void {
  const at = base[i] + (va & PAGE_MASK);
  scratch.set(u8[i].subarray(at, at + n));
  overlayLines(scratch, 0, slotOf[i], at, n);
}

// ---------------------------------------------------------------------------
// Loads and stores. Values are unsigned; 64-bit values are bigints.

/** Loads one byte. */
export function load8(va: number): number {
  const i = forRead(va);
  if (kind[i] !== 0 && openCount !== 0) {
    loadMessage(i, va, 1);
    return scratch[0];
  }
  return u8[i][base[i] + (va & PAGE_MASK)];
}

/** Stores one byte. */
export function store8(va: number, value: number): void {
  const i = forWrite(va);
  if (kind[i] !== 0) {
    scratch[0] = value;
    return storeMessage(i, va, scratch, 0, 1);
  }
  u8[i][base[i] + (va & PAGE_MASK)] = value;
}

/** Loads a little-endian 16-bit value. */
export function load16(va: number): number {
  if ((va & PAGE_MASK) > PAGE_SIZE - 2) return load8(va) | (load8(va + 1) << 8);
  const i = forRead(va);
  if (kind[i] !== 0 && openCount !== 0) {
    loadMessage(i, va, 2);
    return scratchDv.getUint16(0, true);
  }
  return dv[i].getUint16(base[i] + (va & PAGE_MASK), true);
}

/** Stores a little-endian 16-bit value. */
export function store16(va: number, value: number): void {
  if ((va & PAGE_MASK) > PAGE_SIZE - 2) {
    store8(va, value & 0xff);
    store8(va + 1, (value >>> 8) & 0xff);
    return;
  }
  const i = forWrite(va);
  if (kind[i] !== 0) {
    scratchDv.setUint16(0, value, true);
    return storeMessage(i, va, scratch, 0, 2);
  }
  dv[i].setUint16(base[i] + (va & PAGE_MASK), value, true);
}

/** Loads a little-endian 32-bit value; atomic when aligned. */
export function load32(va: number): number {
  const off = va & PAGE_MASK;
  if (off > PAGE_SIZE - 4) return (load16(va) | (load16(va + 2) << 16)) >>> 0;
  const i = forRead(va);
  if (kind[i] !== 0 && openCount !== 0) {
    loadMessage(i, va, 4);
    return scratchDv.getUint32(0, true);
  }
  if ((off & 3) === 0) return Atomics.load(i32[i], (base[i] + off) >> 2) >>> 0;
  return dv[i].getUint32(base[i] + off, true);
}

/** Stores a little-endian 32-bit value; atomic when aligned. */
export function store32(va: number, value: number): void {
  const off = va & PAGE_MASK;
  if (off > PAGE_SIZE - 4) {
    store16(va, value & 0xffff);
    store16(va + 2, (value >>> 16) & 0xffff);
    return;
  }
  const i = forWrite(va);
  if (kind[i] !== 0) {
    scratchDv.setUint32(0, value >>> 0, true);
    return storeMessage(i, va, scratch, 0, 4);
  }
  if ((off & 3) === 0) Atomics.store(i32[i], (base[i] + off) >> 2, value | 0);
  else dv[i].setUint32(base[i] + off, value >>> 0, true);
}

/** Loads a little-endian 64-bit value as a bigint. */
export function load64(va: number): bigint {
  const off = va & PAGE_MASK;
  if (off > PAGE_SIZE - 8) {
    return BigInt(load32(va)) | (BigInt(load32(va + 4)) << 32n);
  }
  const i = forRead(va);
  if (kind[i] !== 0 && openCount !== 0) {
    loadMessage(i, va, 8);
    return scratchDv.getBigUint64(0, true);
  }
  return dv[i].getBigUint64(base[i] + off, true);
}

/** Stores a little-endian 64-bit value (taken modulo 2^64). */
export function store64(va: number, value: bigint): void {
  const off = va & PAGE_MASK;
  if (off > PAGE_SIZE - 8) {
    store32(va, Number(value & 0xffffffffn));
    store32(va + 4, Number((value >> 32n) & 0xffffffffn));
    return;
  }
  const i = forWrite(va);
  if (kind[i] !== 0) {
    scratchDv.setBigUint64(0, BigInt.asUintN(64, value), true);
    return storeMessage(i, va, scratch, 0, 8);
  }
  dv[i].setBigUint64(base[i] + off, BigInt.asUintN(64, value), true);
}

/** Copies `len` bytes from virtual memory into a new array, page by page. */
export function read(va: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const at = (va + done) >>> 0;
    const i = forRead(at);
    const off = at & PAGE_MASK;
    const n = Math.min(len - done, PAGE_SIZE - off);
    out.set(u8[i].subarray(base[i] + off, base[i] + off + n), done);
    if (kind[i] !== 0 && openCount !== 0) overlayLines(out, done, slotOf[i], base[i] + off, n);
    done += n;
  }
  return out;
}

/** Copies `bytes` into virtual memory at `va`, page by page. */
export function write(va: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const at = (va + done) >>> 0;
    const i = forWrite(at);
    const off = at & PAGE_MASK;
    const n = Math.min(bytes.length - done, PAGE_SIZE - off);
    if (kind[i] !== 0) storeMessage(i, at, bytes, done, n);
    else u8[i].set(bytes.subarray(done, done + n), base[i] + off);
    done += n;
  }
}

/**
 * The typed-array fast path: returns a Uint8Array aliasing [va, va+len) directly, after
 * faulting every page in (for stores too when `writable`). The range must lie in one
 * binding; accesses through the view skip the MMU, so a later `protect` or `unbind`
 * does not reach them (the view is like a pinned mapping). A writable view of a
 * message page is refused (its stores could complete no unit); a read-only one sees
 * memory, not this process's buffered lines.
 */
export function view(va: number, len: number, writable = false): Uint8Array {
  if (len <= 0) throw new SysError(Errno.EINVAL, "view", `length ${len} must be positive`);
  const from = (va & ~PAGE_MASK) >>> 0, end = (va >>> 0) + len;
  if (end > 2 ** 32) {
    throw new SysError(Errno.EINVAL, "view", `${hex(va)}+${len} wraps the address space`);
  }
  let first = -1, buf: ArrayBufferLike | null = null, start = 0;
  for (let p = from; p < end; p += PAGE_SIZE) {
    const i = writable ? forWrite(p) : forRead(p);
    if (writable && kind[i] !== 0) {
      throw new SysError(
        Errno.EINVAL,
        "view",
        `${hex(p)} is a message page: stores through a view would never complete a unit`,
      );
    }
    if (first < 0) {
      first = base[i];
      buf = u8[i].buffer;
      start = base[i] + (va & PAGE_MASK);
    } else if (u8[i].buffer !== buf || base[i] !== first + (p - from)) {
      throw new SysError(Errno.EINVAL, "view", `${hex(va)}+${len} spans more than one binding`);
    }
  }
  return new Uint8Array(buf!, start, len);
}

/** Like `view`, as 32-bit words; `va` must be 4-aligned. */
export function view32(va: number, count: number, writable = false): Int32Array {
  if (va & 3) throw new SysError(Errno.EINVAL, "view32", `${hex(va)} is not 4-aligned`);
  const bytes = view(va, count * 4, writable);
  return new Int32Array(bytes.buffer, bytes.byteOffset, count);
}
