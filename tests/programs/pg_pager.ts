/**
 * An external pager (userland/lib/sys/pager.ts) and the clients it pages for
 * (tests/pager_test.ts). The pager makes a segment, takes it with setPager, shares
 * it with its clients and answers their faults; each role reports one RESULT.
 *
 * Modes (args[0]):
 *   supply N K    K clients read N pages; answers come only once K faults are in flight
 *   zero          a client reads a zero-filled page
 *   fail-handler  the page is failed; the client's onFault handler sees it
 *   fail-die      the page is failed; the client has no handler and dies
 *   silent        the pager never answers (the test's pagerTimeoutMs fails it)
 *   die           the pager exits with a fault outstanding
 *   garbage       every bad answer, then a good one
 *   wp            a store to a page the pager write-protected waits for it to unprotect
 *   export NAME   pages a segment exported as NAME for remote READs (pg_remote.ts)
 *   evict         takes a dirty page the test evicts, and supplies it back
 *   client MODE SEG START  the client side
 */

import {
  Access,
  allocate,
  bind,
  CreateSegment,
  exit,
  exportSegment,
  failPage,
  getpid,
  load32,
  load8,
  nextPageRequest,
  onFault,
  PAGE_SIZE,
  type PageRequest,
  PagerOp,
  protectForPager,
  Rights,
  SegMode,
  setPager,
  spawn,
  store32,
  store8,
  supplyPage,
  Sys,
  takePage,
  trap,
  wait,
  zeroPage,
} from "../../userland/lib/mod.ts";
import { attempt, report, signalGate } from "./report.ts";

const RW = Rights.READ | Rights.WRITE;
const DEADLINE_MS = 20_000;

/** The byte a supplied page holds at offset j of page i. */
const pattern = (i: number, j: number) => (i * 7 + j * 13 + 1) & 255;

/** The pager's own memory holding what it supplies: `pages` pages of the pattern. */
function source(pages: number): number {
  const at = allocate(pages * PAGE_SIZE);
  for (let i = 0; i < pages; i++) {
    for (let j = 0; j < PAGE_SIZE; j++) store8(at + i * PAGE_SIZE + j, pattern(i, j));
  }
  return at;
}

function startClients(seg: number, mode: string, k: number, pages: number): number[] {
  const pids: number[] = [];
  for (let c = 0; c < k; c++) {
    const start = Math.floor((c * pages) / k);
    pids.push(spawn(import.meta.url, ["client", mode, String(seg), String(start), String(pages)], {
      share: [{ segment: seg, rights: RW }],
    }));
  }
  return pids;
}

function nextOrThrow(ms = DEADLINE_MS): PageRequest {
  const r = nextPageRequest(ms);
  if (!r) throw new Error(`no page request in ${ms} ms`);
  return r;
}

function reap(pids: number[]): { status: number; reason: string }[] {
  return pids.map((pid) => {
    const st = wait(pid, DEADLINE_MS);
    return { status: st.status, reason: st.reason };
  });
}

function supply(pages: number, k: number): number {
  const seg = CreateSegment(pages * PAGE_SIZE);
  setPager(seg);
  const src = source(pages);
  const pids = startClients(seg, "read", k, pages);
  const seen = new Map<number, number>();
  let requests = 0, inFlight = 0;
  const held: PageRequest[] = [];
  // Hold the answers until every client has a fault waiting: K faults in flight.
  while (held.length < k) {
    const r = nextOrThrow();
    requests++;
    seen.set(r.page, (seen.get(r.page) ?? 0) + 1);
    held.push(r);
  }
  inFlight = held.length;
  for (const r of held) supplyPage(r.segment, r.page, src + r.page * PAGE_SIZE);
  while (seen.size < pages) {
    const r = nextOrThrow();
    requests++;
    seen.set(r.page, (seen.get(r.page) ?? 0) + 1);
    supplyPage(r.segment, r.page, src + r.page * PAGE_SIZE);
  }
  const ends = reap(pids);
  const repeated = [...seen.values()].filter((n) => n !== 1).length;
  report({ who: "pager", requests, distinct: seen.size, repeated, inFlight, ends });
  return 0;
}

/** One client fault answered by `answer`; the client's status and reason reported. */
function single(mode: string, answer: (r: PageRequest) => void): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  setPager(seg);
  const [pid] = startClients(seg, mode, 1, 2);
  const r = nextOrThrow();
  answer(r);
  const [end] = reap([pid]);
  report({ who: "pager", request: r, end });
  return 0;
}

function silent(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  setPager(seg);
  const [pid] = startClients(seg, "handler", 1, 2);
  const r = nextOrThrow();
  const [end] = reap([pid]); // the kernel fails the fault at the deadline
  const late = attempt(() => zeroPage(r.segment, r.page));
  report({ who: "pager", request: r, end, late });
  return 0;
}

function die(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  setPager(seg);
  spawn(import.meta.url, ["client", "handler", String(seg), "1", "2"], {
    share: [{ segment: seg, rights: RW }],
  });
  const r = nextOrThrow();
  report({ who: "pager", request: r, dying: true });
  exit(7, "pager gives up");
  return 7;
}

function garbage(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const other = CreateSegment(PAGE_SIZE);
  const msg = CreateSegment(PAGE_SIZE, SegMode.MESSAGE);
  setPager(seg);
  const src = source(2);
  const errors: Record<string, unknown> = {
    unrequested: attempt(() => supplyPage(seg, 0, src)),
    notPaged: attempt(() => supplyPage(other, 0, src)),
    noSuchSegment: attempt(() => zeroPage(999_999, 0)),
    pageOutOfRange: attempt(() => supplyPage(seg, 99, src)),
    badOp: attempt(() => trap(Sys.pager_answer, seg, 0, 99, src)),
    takeNothing: attempt(() => trap(Sys.pager_answer, seg, 0, PagerOp.TAKE, src)),
    protectZero: attempt(() => protectForPager(seg, 0, 0)),
    protectPast: attempt(() => protectForPager(seg, 1, 5)),
    protectOn: attempt(() => trap(Sys.pager_protect, seg, 0, 1, 7)),
    twice: attempt(() => setPager(seg)),
    message: attempt(() => setPager(msg)),
    notHeld: attempt(() => setPager(999_999)),
  };
  const [pid] = startClients(seg, "read", 1, 2);
  const r = nextOrThrow();
  errors.badVaddr = attempt(() => supplyPage(r.segment, r.page, 0x5000_0000));
  errors.shortSource = attempt(() => supplyPage(r.segment, r.page, src + 2 * PAGE_SIZE - 8));
  supplyPage(r.segment, r.page, src + r.page * PAGE_SIZE);
  for (let n = 1; n < 2; n++) {
    const q = nextOrThrow();
    supplyPage(q.segment, q.page, src + q.page * PAGE_SIZE);
  }
  const [end] = reap([pid]);
  report({ who: "pager", errors, end });
  return 0;
}

function wp(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  setPager(seg);
  const mine = bind(seg, 0, Rights.READ);
  const [pid] = startClients(seg, "wp", 1, 2);
  const first = nextOrThrow(); // page 0, written by the client
  zeroPage(first.segment, first.page);
  const second = nextOrThrow(); // page 1: the client has written page 0
  protectForPager(seg, 0, 1, true);
  zeroPage(second.segment, second.page);
  const fault = nextOrThrow(); // the client's second store to page 0
  const before = load32(mine);
  protectForPager(seg, 0, 1, false);
  const [end] = reap([pid]);
  report({ who: "pager", first, second, fault, before, after: load32(mine), end });
  return 0;
}

function evict(): number {
  const seg = CreateSegment(PAGE_SIZE);
  setPager(seg);
  const buf = allocate(PAGE_SIZE);
  const [pid] = startClients(seg, "evict", 1, 1);
  const first = nextOrThrow();
  zeroPage(first.segment, first.page);
  report({ who: "pager", segment: seg, ready: true });
  const out = nextOrThrow(); // the test evicted the client's dirty page
  takePage(out.segment, out.page, buf);
  const word = load32(buf + 16);
  const twice = attempt(() => takePage(out.segment, out.page, buf));
  const again = nextOrThrow(); // the client reads it again
  supplyPage(again.segment, again.page, buf);
  const [end] = reap([pid]);
  report({ who: "pager", out, word, twice, again, end });
  return 0;
}

function exporter(name: string): number {
  const pages = 4;
  const seg = CreateSegment(pages * PAGE_SIZE);
  setPager(seg);
  const src = source(pages);
  exportSegment(seg, name);
  report({ who: "pager", exported: name, pid: getpid() });
  const answered: number[] = [];
  while (answered.length < 3) {
    const r = nextOrThrow();
    supplyPage(r.segment, r.page, src + r.page * PAGE_SIZE);
    answered.push(r.page);
  }
  report({ who: "pager", answered });
  nextPageRequest(60_000); // stay until the test ends
  return 0;
}

// ---------------------------------------------------------------------------

function client(mode: string, seg: number, start: number, pages: number): number {
  const at = bind(seg, 0, RW);
  if (mode === "read") {
    let bad = 0;
    for (let n = 0; n < pages; n++) {
      const i = (start + n) % pages;
      for (let j = 0; j < PAGE_SIZE; j += 251) {
        if (load8(at + i * PAGE_SIZE + j) !== pattern(i, j)) bad++;
      }
    }
    report({ who: "client", pid: getpid(), bad });
    return 0;
  }
  if (mode === "zero") {
    report({ who: "client", word: load32(at + 8), second: load32(at + PAGE_SIZE - 4) });
    return 0;
  }
  if (mode === "handler") {
    let seen: { vaddr: number; access: number } | null = null;
    onFault((vaddr, access) => {
      seen = { vaddr: vaddr - at, access };
    });
    const t0 = performance.now();
    const r = attempt(() => load32(at + 0x44));
    const ms = Math.round(performance.now() - t0);
    // After its pager has ended, a holder may take the segment over.
    const retake = start === 1
      ? attempt(() => {
        setPager(seg);
        return "ok";
      })
      : null;
    report({ who: "client", r, seen, ms, retake });
    return 0;
  }
  if (mode === "die") {
    load32(at + 0x44);
    report({ who: "client", survived: true });
    return 0;
  }
  if (mode === "evict") {
    const gate = signalGate();
    store32(at + 16, 0xabc123);
    report({ who: "client", pid: getpid(), at, written: true });
    gate();
    report({ who: "client", value: load32(at + 16) });
    return 0;
  }
  if (mode === "wp") {
    store32(at, 1);
    store32(at + PAGE_SIZE, 5);
    store32(at, 2);
    report({ who: "client", value: load32(at), access: Access.WRITE });
    return 0;
  }
  throw new Error(`client mode ${mode}`);
}

export default function main(args: string[]): number {
  const [mode, a, b, c, d] = args;
  switch (mode) {
    case "supply":
      return supply(Number(a), Number(b));
    case "zero":
      return single("zero", (r) => zeroPage(r.segment, r.page));
    case "fail-handler":
      return single("handler", (r) => failPage(r.segment, r.page));
    case "fail-die":
      return single("die", (r) => failPage(r.segment, r.page));
    case "silent":
      return silent();
    case "die":
      return die();
    case "garbage":
      return garbage();
    case "wp":
      return wp();
    case "evict":
      return evict();
    case "export":
      return exporter(a);
    case "client":
      return client(a, Number(b), Number(c), Number(d));
  }
  throw new Error(`mode ${mode}`);
}
