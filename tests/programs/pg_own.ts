/**
 * A process that pages a segment itself (pager_test.ts): its page faults run its
 * onPageFault handler in the faulting thread, with no event and no other process.
 *
 *   pg_own own PAGES     read PAGES pages (each supplied by the handler with its
 *                        pattern), store into each, then a store to a page it
 *                        write-protected: the handler unprotects; report
 *   pg_own nohandler     touch such a page with no handler (the process ends)
 *   pg_own nested        a handler that touches such a page itself (it ends)
 *   pg_own locate        locatePage's refusals: a descriptor it does not hold, a
 *                        segment it does not page, a page past the segment; report
 *   pg_own drop          4 pages supplied with generation 0, a store to page 1,
 *                        dropPages(0, 3): pages 0-2 fault again (generation 1, the
 *                        store gone), page 3 does not; then its refusals; report
 */

import {
  allocate,
  bind,
  CreateSegment,
  dropPages,
  load32,
  locatePage,
  nextEvent,
  onPageFault,
  PAGE_SIZE,
  type PageRequest,
  pin,
  protectForPager,
  setPager,
  store32,
  supplyPage,
  unpin,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const [mode, n] = args;
  const pages = Number(n ?? 1);
  const seg = CreateSegment(pages * PAGE_SIZE);
  setPager(seg);
  const base = bind(seg);
  const store = allocate(PAGE_SIZE); // anonymous memory of its own, not self-paged
  const seen: PageRequest[] = [];
  if (mode === "locate") {
    const other = CreateSegment(PAGE_SIZE); // its own, but paged by no one
    report({
      who: "locate",
      noDesc: attempt(() => locatePage(seg, 0, 999, 0)),
      notPaged: attempt(() => locatePage(other, 0, -1, 0)),
      pastEnd: attempt(() => locatePage(seg, pages, -1, 0)),
      forget: attempt(() => locatePage(seg, 0, -1, 0)) ?? "ok",
    });
    return 0;
  }
  if (mode === "drop") return drop(seg, base, store);
  if (mode === "nohandler") {
    load32(base);
    return 0;
  }
  if (mode === "nested") {
    onPageFault(() => load32(base + PAGE_SIZE));
    load32(base);
    return 0;
  }
  onPageFault((r) => {
    seen.push(r);
    if (r.writeProtect) return protectForPager(r.segment, r.page, 1, false);
    for (let w = 0; w < 8; w++) store32(store + w * 4, r.page * 100 + w);
    supplyPage(r.segment, r.page, store);
  });
  let bad = -1;
  for (let p = 0; p < pages && bad < 0; p++) {
    for (let w = 0; w < 8; w++) if (load32(base + p * PAGE_SIZE + w * 4) !== p * 100 + w) bad = p;
    store32(base + p * PAGE_SIZE + 64, p);
  }
  protectForPager(seg, 0, 1, true);
  store32(base + 128, 77); // faults: write-protected; the handler unprotects
  report({
    who: "own",
    bad,
    faults: seen.filter((r) => !r.writeProtect).map((r) => r.page),
    wp: seen.filter((r) => r.writeProtect).map((r) => [r.page, r.access]),
    stored: [load32(base + 128), load32(base + (pages - 1) * PAGE_SIZE + 64)],
    events: nextEvent() === null ? 0 : 1,
  });
  return 0;
}

/** `pg_own drop`: what dropPages discards, what it keeps, and what it refuses. */
function drop(seg: number, base: number, store: number): number {
  let generation = 0;
  const faults: number[] = [];
  onPageFault((r) => {
    faults.push(r.page);
    store32(store, generation * 1000 + r.page);
    supplyPage(r.segment, r.page, store);
  });
  const read = () => [0, 1, 2, 3].map((p) => load32(base + p * PAGE_SIZE));
  const first = read();
  store32(base + PAGE_SIZE, 55); // page 1 dirty: dropped all the same, not paged out
  const stored = load32(base + PAGE_SIZE);
  dropPages(seg, 0, 3);
  generation = 1;
  const after = read();
  dropPages(seg, 0, 3); // again: nothing present is dropped twice
  dropPages(seg, 0, 3);
  const other = CreateSegment(PAGE_SIZE); // its own, paged by no one
  pin(base + 3 * PAGE_SIZE, PAGE_SIZE);
  const pinned = attempt(() => dropPages(seg, 3, 1));
  unpin(base + 3 * PAGE_SIZE, PAGE_SIZE);
  report({
    who: "drop",
    first,
    stored,
    after,
    faults,
    refused: {
      none: attempt(() => dropPages(seg, 0, 0)),
      pastEnd: attempt(() => dropPages(seg, 3, 2)),
      notPaged: attempt(() => dropPages(other, 0, 1)),
      pinned,
    },
    again: load32(base + 3 * PAGE_SIZE), // page 3 was never dropped: no fault
    events: nextEvent() === null ? 0 : 1,
  });
  return 0;
}
