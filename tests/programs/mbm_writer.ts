/**
 * The writer of the message-segment tests (001 §3.2–3.3). Creates a two-page message
 * segment bound at 0x10000000, starts one mbm_reader.ts per READER_VADDR (each binds
 * the segment read-only there), and completes units with ordinary stores; between
 * steps it probes the readers (each snapshots part of the segment and counts the
 * message signals it has handled, then acknowledges) so that every observation is
 * made at a known point of the writer's program.
 *
 *   mbm_writer SCENARIO READER_VADDR...
 *
 * Scenarios (the test knows the probe sequence of each):
 *   line   MESSAGE, 32-byte lines.
 *          A: 7 words of line 0, probe line 0; the 8th word, probe line 0.
 *          B: lines 1–48 in batches of 8, twice (values 0xA… then 0xB…): words 0–6 of
 *             each line of the batch round-robin, probe the batch; the last words in
 *             reverse order, probe the batch.
 *          C: lines 49–51 in one write(), line 52 by store64, line 53 by store8;
 *             probe lines 49–53.
 *   page   MESSAGE, 4 KiB pages: words 0–1022 of page 0, probe (no data); word 1023,
 *          probe; all of page 1 in one write(), probe; the last byte of page 0 again,
 *          probe.
 *   quiet  MESSAGE_QUIET, lines: 7 words of line 0, probe line 0; the 8th, probe;
 *          lines 1–8 whole, probe lines 1–8.
 */

import {
  bind,
  CreateSegment,
  load32,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
  Signal,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  store64,
  store8,
  wait,
  write,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const READER = new URL("./mbm_reader.ts", import.meta.url).href;
const SIZE = 2 * PAGE_SIZE;
const LINE = 32;
const DEADLINE_MS = 10_000;

/** The value every word of line `i` holds in round `tag` of scenario B/C. */
function lineValue(tag: number, i: number): number {
  return ((tag << 28) | i) >>> 0;
}

export default function main(args: string[]): number {
  const [scenario, ...readerArgs] = args;
  const readers = readerArgs.map(Number);
  const mode = scenario === "quiet" ? SegMode.MESSAGE_QUIET : SegMode.MESSAGE;
  const unit = scenario === "page" ? SegUnit.PAGE : SegUnit.CACHE_LINE;
  const unitBytes = scenario === "page" ? PAGE_SIZE : LINE;
  const msg = CreateSegment(SIZE, mode, unit);
  const ctlSeg = CreateSegment(2 * PAGE_SIZE);
  const base = bind(msg, 0x1000_0000);
  const ctl = bind(ctlSeg);
  let acks = 0;
  SignalHandler(ctl, PAGE_SIZE, () => acks++);
  const share = [
    { segment: msg, rights: Rights.READ | Rights.WRITE },
    { segment: ctlSeg, rights: Rights.READ | Rights.WRITE },
  ];
  const pids = readers.map((at, i) =>
    spawn(READER, [msg, SIZE, ctlSeg, at, i, unitBytes].map(String), { share })
  );
  const awaitAcks = (n: number) => {
    const end = performance.now() + DEADLINE_MS;
    while (acks < n) {
      if (performance.now() > end) throw new Error(`${acks} of ${n} acknowledgements`);
      SigWait(1_000);
    }
  };
  awaitAcks(readers.length);
  /** Every reader snapshots [from, from+len) of the message segment. */
  const probe = (from: number, len: number) => {
    store32(ctl + PAGE_SIZE + 64, from);
    store32(ctl + PAGE_SIZE + 68, len);
    const want = acks + readers.length;
    Signal(ctl + PAGE_SIZE);
    awaitAcks(want);
  };
  const line = (i: number) => base + LINE * i;
  const out: Record<string, unknown> = { scenario, base, readers: pids };

  if (scenario === "line") {
    // A: a line is complete only once its last word is written.
    for (let w = 0; w < 7; w++) store32(line(0) + 4 * w, 0xc0de_0000 + w);
    out.selfRead = Array.from({ length: 8 }, (_, w) => load32(line(0) + 4 * w));
    probe(0, LINE);
    store32(line(0) + 28, 0xc0de_0007);
    probe(0, LINE);
    // B: batches of 8 open lines, completed in reverse order; then again over them.
    for (const tag of [0xa, 0xb]) {
      for (let first = 1; first < 49; first += 8) {
        for (let w = 0; w < 7; w++) {
          for (let i = first; i < first + 8; i++) store32(line(i) + 4 * w, lineValue(tag, i));
        }
        probe(LINE * first, 8 * LINE);
        for (let i = first + 7; i >= first; i--) store32(line(i) + 28, lineValue(tag, i));
        probe(LINE * first, 8 * LINE);
      }
    }
    // C: other store widths.
    const bytes = new Uint8Array(3 * LINE);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < 3; i++) {
      for (let w = 0; w < 8; w++) dv.setUint32(LINE * i + 4 * w, lineValue(0xc, 49 + i), true);
    }
    write(line(49), bytes);
    const v = BigInt(lineValue(0xc, 52));
    for (let w = 0; w < 4; w++) store64(line(52) + 8 * w, (v << 32n) | v);
    for (let b = 0; b < LINE; b++) store8(line(53) + b, 0x5a);
    probe(LINE * 49, 5 * LINE);
  } else if (scenario === "page") {
    for (let w = 0; w < 1023; w++) store32(base + 4 * w, 0xe000_0000 + w);
    probe(0, 0);
    store32(base + 4 * 1023, 0xe000_0000 + 1023);
    probe(0, 0);
    write(base + PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(0x77));
    probe(0, 0);
    store8(base + PAGE_SIZE - 1, 0xee);
    probe(0, 0);
  } else if (scenario === "quiet") {
    for (let w = 0; w < 7; w++) store32(line(0) + 4 * w, 0xc0de_0000 + w);
    probe(0, LINE);
    store32(line(0) + 28, 0xc0de_0007);
    probe(0, LINE);
    for (let i = 1; i <= 8; i++) {
      for (let w = 0; w < 8; w++) store32(line(i) + 4 * w, lineValue(0xd, i));
    }
    probe(LINE, 8 * LINE);
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }

  // Stop the readers one at a time: their long reports must not interleave.
  out.children = pids.map((pid, i) => {
    Signal(ctl + PAGE_SIZE + 128 + 4 * i);
    return wait(pid);
  });
  report(out);
  return 0;
}
