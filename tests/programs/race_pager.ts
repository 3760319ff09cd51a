/**
 * Eviction against concurrent stores (tests/evict_race_test.ts): a pager of an
 * N-page segment that keeps every page it TAKEs in its own (JavaScript) memory and
 * supplies it back, and two processes sharing the segment while the node has fewer
 * frames than the segment has pages, so the clock evicts pages they map while they
 * run. Each role reports one RESULT.
 *
 * Modes (args[0]):
 *   pager N R          the pager; spawns the writer and the reader and serves them
 *   writer SEG FLAG N R  R rounds: each page's counter word is checked to hold the
 *                      round before (a lost store shows as an older value), then
 *                      stored; the last round read back; FLAG set when done
 *   reader SEG FLAG N  reads every page's counter round and round until FLAG is
 *                      set: a counter never goes down (a lost store would)
 */

import {
  allocate,
  bind,
  CreateSegment,
  info,
  load32,
  nextPageRequest,
  PAGE_SIZE,
  read,
  Rights,
  setPager,
  spawn,
  store32,
  supplyPage,
  takePage,
  wait,
  write,
  zeroPage,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const RW = Rights.READ | Rights.WRITE;
/** Where in each page the counter lives (not at 0: a zeroed page reads 0 there too, as round 0). */
const WORD = 1000;
const DEADLINE_MS = 60_000;

function pager(n: number, rounds: number): number {
  const seg = CreateSegment(n * PAGE_SIZE);
  setPager(seg);
  const flagSeg = CreateSegment(PAGE_SIZE); // anonymous: never evicted (no swap)
  const staging = allocate(PAGE_SIZE);
  store32(staging, 0);
  const store = new Map<number, Uint8Array>();
  let faults = 0, outs = 0, supplied = 0;
  const refused: string[] = [];
  const share = [{ segment: seg, rights: RW }, { segment: flagSeg, rights: RW }];
  const args = [String(seg), String(flagSeg), String(n)];
  const pids = [
    spawn(import.meta.url, ["writer", ...args, String(rounds)], { share }),
    spawn(import.meta.url, ["reader", ...args], { share }),
  ];
  const ends: ({ status: number; reason: string } | null)[] = [null, null];
  const end = performance.now() + DEADLINE_MS;
  while (ends.some((e) => e === null) && performance.now() < end) {
    const r = nextPageRequest(50);
    if (!r) {
      for (let i = 0; i < pids.length; i++) {
        if (ends[i]) continue;
        const st = attempt(() => wait(pids[i], 0));
        if (typeof st !== "string") ends[i] = { status: st.status, reason: st.reason };
      }
      continue;
    }
    if (r.pagedOut) {
      outs++;
      takePage(seg, r.page, staging);
      store.set(r.page, read(staging, PAGE_SIZE));
      continue;
    }
    faults++;
    const held = store.get(r.page);
    const answer = held
      ? attempt(() => (write(staging, held), supplyPage(seg, r.page, staging)))
      : attempt(() => zeroPage(seg, r.page));
    if (typeof answer === "string") refused.push(`page ${r.page}: ${answer}`);
    else if (held) supplied++;
  }
  report({ who: "pager", faults, outs, supplied, refused, ends });
  return 0;
}

function writer(seg: number, flagSeg: number, n: number, rounds: number): number {
  const at = bind(seg, 0, RW);
  const flag = bind(flagSeg, 0, RW);
  const bad: string[] = [];
  const words = new Uint32Array(PAGE_SIZE / 4);
  for (let r = 1; r <= rounds; r++) {
    words.fill(r);
    const bytes = new Uint8Array(words.buffer);
    for (let p = 0; p < n; p++) {
      const va = at + p * PAGE_SIZE;
      // The whole page: one TLB lookup, then 4 KiB stored through the entry.
      const got = new Uint32Array(read(va, PAGE_SIZE).buffer);
      const wrong = got.findIndex((v) => v !== r - 1);
      if (wrong >= 0 && bad.length < 10) {
        bad.push(`round ${r} page ${p} word ${wrong}: ${got[wrong]}`);
      }
      write(va, bytes);
    }
  }
  const last: number[] = [];
  for (let p = 0; p < n; p++) last.push(load32(at + p * PAGE_SIZE + WORD));
  store32(flag, 1);
  report({ who: "writer", bad, last, evictions: info("self").evictions });
  return 0;
}

function reader(seg: number, flagSeg: number, n: number): number {
  const at = bind(seg, 0, RW);
  const flag = bind(flagSeg, 0, RW);
  const seen = new Array(n).fill(0);
  const bad: string[] = [];
  let reads = 0;
  const end = performance.now() + DEADLINE_MS;
  // From the last page down, so it meets the writer rather than following it.
  for (let p = n - 1; load32(flag) === 0 && performance.now() < end; p = (p + n - 1) % n) {
    const v = load32(at + p * PAGE_SIZE + WORD);
    reads++;
    if (v < seen[p] && bad.length < 10) bad.push(`page ${p}: ${v} after ${seen[p]}`);
    seen[p] = Math.max(seen[p], v);
  }
  report({ who: "reader", bad, reads, done: load32(flag), evictions: info("self").evictions });
  return 0;
}

export default function main(args: string[]): number {
  const [mode, a = "0", b = "0", c = "0", d = "0"] = args;
  switch (mode) {
    case "pager":
      return pager(Number(a), Number(b));
    case "writer":
      return writer(Number(a), Number(b), Number(c), Number(d));
    case "reader":
      return reader(Number(a), Number(b), Number(c));
  }
  throw new Error(`mode ${mode}`);
}
