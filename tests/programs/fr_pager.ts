/**
 * Page frames (kernel/memory/frame_table.ts) under pressure (tests/frames_test.ts).
 * Each role reports one RESULT.
 *
 * Modes (args[0]):
 *   keep N PINNED   a pager of an N-page segment that keeps every page it TAKEs in its
 *                   own (JavaScript) memory and supplies it back; one client writes
 *                   every page (pinning the first PINNED after writing them), then
 *                   reads every page back
 *                   (an answer that fails is reported, e.g. ENOMEM: no frame for it)
 *   lose N          the same, but the pager never takes a paged-out page and answers
 *                   every fault with ZERO: a pager that loses pages
 *   hog N catch|die touches N anonymous pages; "catch" reports the error the first
 *                   one without a frame raised, "die" lets it end the process
 *   hello           reports that it ran
 *   client SEG N PINNED  the client side
 */

import {
  allocate,
  bind,
  CreateSegment,
  info,
  nextPageRequest,
  PAGE_SIZE,
  pin,
  read,
  Rights,
  setPager,
  spawn,
  store8,
  supplyPage,
  SysError,
  takePage,
  wait,
  write,
  zeroPage,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const RW = Rights.READ | Rights.WRITE;

/** The byte page i holds at offset j once the client has written it. */
const pattern = (i: number, j: number) => (i * 31 + j * 7 + 3) & 255;

function pageOf(i: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  for (let j = 0; j < PAGE_SIZE; j++) b[j] = pattern(i, j);
  return b;
}

function pager(keep: boolean, n: number, pinned: number): number {
  const seg = CreateSegment(n * PAGE_SIZE);
  setPager(seg);
  const staging = allocate(PAGE_SIZE); // one page of its own to copy through
  store8(staging, 0);
  const store = new Map<number, Uint8Array>();
  const faults = new Array(n).fill(0), outs = new Array(n).fill(0);
  let supplied = 0, zeroed = 0;
  const refused: { page: number; error: string }[] = [];
  const pid = spawn(import.meta.url, ["client", String(seg), String(n), String(pinned)], {
    share: [{ segment: seg, rights: RW }],
  });
  let end: { status: number; reason: string } | null = null;
  while (!end) {
    const r = nextPageRequest(100);
    if (!r) {
      const st = attempt(() => wait(pid, 0));
      if (typeof st !== "string") end = { status: st.status, reason: st.reason };
      continue;
    }
    if (r.pagedOut) {
      outs[r.page]++;
      if (!keep) continue; // loses it: never takes it
      takePage(seg, r.page, staging);
      store.set(r.page, read(staging, PAGE_SIZE));
      continue;
    }
    faults[r.page]++;
    const held = keep ? store.get(r.page) : undefined;
    const answer = held
      ? attempt(() => (write(staging, held), supplyPage(seg, r.page, staging)))
      : attempt(() => zeroPage(seg, r.page));
    if (typeof answer === "string") refused.push({ page: r.page, error: answer });
    else if (held) supplied++;
    else zeroed++;
  }
  report({ who: "pager", faults, outs, supplied, zeroed, refused, end });
  return 0;
}

function client(seg: number, n: number, pinned: number): number {
  const base = bind(seg, 0, RW);
  for (let i = 0; i < n; i++) {
    write(base + i * PAGE_SIZE, pageOf(i));
    if (i < pinned) pin(base + i * PAGE_SIZE, PAGE_SIZE);
  }
  const badPages: number[] = [];
  let zeroPages = 0;
  for (let i = 0; i < n; i++) {
    const got = read(base + i * PAGE_SIZE, PAGE_SIZE), want = pageOf(i);
    if (got.some((v, j) => v !== want[j])) badPages.push(i);
    if (got.every((v) => v === 0)) zeroPages++;
  }
  const self = info("self");
  const me = info("ps").find((p: any) => p.pid === self.pid);
  report({ who: "client", badPages, zeroPages, self, ps: me, stats: info("stats") });
  return 0;
}

function hog(n: number, how: string): number {
  const at = allocate(n * PAGE_SIZE);
  let touched = 0;
  const touch = () => {
    for (; touched < n; touched++) store8(at + touched * PAGE_SIZE, 1);
  };
  if (how === "die") touch();
  let error: unknown = null;
  try {
    touch();
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    error = { code: e.code, message: e.message };
  }
  report({ who: "hog", touched, error, stats: info("stats") });
  return 0;
}

export default function main(args: string[]): number {
  const [mode, a = "0", b = "0", c = "0"] = args;
  switch (mode) {
    case "keep":
    case "lose":
      return pager(mode === "keep", Number(a), Number(b));
    case "client":
      return client(Number(a), Number(b), Number(c));
    case "hog":
      return hog(Number(a), b);
    case "hello":
      report({ who: "hello", stats: info("stats") });
      return 0;
    default:
      throw new Error(`fr_pager: unknown mode ${mode}`);
  }
}
