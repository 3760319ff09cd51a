/**
 * A disk driver for tests/disk_test.ts, one scenario per run (args[0]), built only
 * on the driver library (userland/lib/dev/disk.ts):
 *
 *   write          writes a pattern over the first 64 KiB and a string at 12288, flushes
 *   read           reads them back and reports what it found
 *   errors         provokes every command error and a scribbled ring, then a good command
 *   concurrent N   N writes in flight at once, then N reads, each checked
 *   hold           attaches, reports its device segment, and waits to be killed
 *   bystander SEG  tries to bind the driver's segment SEG and to attach disk 0
 *   attach UNIT    only attaches (reports the error code if refused)
 *   model          reports the model and the disk's size from the registers
 */

import {
  allocate,
  bind,
  diskAttach,
  DiskDriver,
  DiskOp,
  DiskReg,
  exportSegment,
  getpid,
  grant,
  read,
  SigWait,
  write,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const TEXT = new TextEncoder().encode("written before the restart");

function pattern(i: number): number {
  return (i * 7 + 3) & 0xff;
}

function writeScenario(disk: DiskDriver): void {
  const buf = allocate(64 * 1024);
  const bytes = new Uint8Array(64 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = pattern(i);
  write(buf, bytes);
  disk.write(0, buf, 64 * 1024);
  write(buf, TEXT);
  disk.write(65536 + 12288, buf, 512);
  disk.flush();
  report({ flushed: true });
}

function readScenario(disk: DiskDriver): void {
  const buf = allocate(64 * 1024);
  disk.read(0, buf, 64 * 1024);
  const got = read(buf, 64 * 1024);
  let bad = -1;
  for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== pattern(i)) bad = i;
  disk.read(65536 + 12288, buf, 512);
  const text = new TextDecoder().decode(read(buf, TEXT.length));
  report({ firstBad: bad, text });
}

function errorsScenario(disk: DiskDriver): void {
  const buf = allocate(4096);
  const code = (fn: () => void) => attempt(() => (fn(), "ok"));
  const out: Record<string, unknown> = {
    range: code(() => disk.read(disk.size, buf, 512)),
    rangeEnd: code(() => disk.write(disk.size - 512, buf, 1024)),
    misaligned: code(() => disk.read(100, buf, 512)),
    shortLength: code(() => disk.write(0, buf, 100)),
    tooLong: code(() => disk.read(0, buf, 64 * 1024 + 512)),
    unmapped: code(() => disk.read(0, 0x0000_2000, 512)),
  };
  const op = disk.wait(disk.submit(99, 0, 512, buf));
  out.unknownOp = [op.errno, op.reason];
  // The driver scribbles its own ring: SQ_TAIL far ahead of what the ring holds.
  Atomics.store(disk.words, DiskReg.SQ_TAIL, 0x4000_0000);
  disk.kick();
  const ring = disk.wait(0);
  out.ring = [ring.errno, ring.reason, disk.words[DiskReg.RING_ERRORS]];
  // The library resynchronised on the RING completion: the disk still works.
  out.after = code(() => disk.read(0, buf, 4096));
  out.grant = attempt(() => grant(disk.segment, getpid()));
  out.export = attempt(() => exportSegment(disk.segment, "disk.steal"));
  out.attachAgain = attempt(() => diskAttach(0));
  out.noDisk = attempt(() => diskAttach(7));
  report(out);
}

function concurrentScenario(disk: DiskDriver, n: number): void {
  const buf = allocate(n * 4096);
  for (let i = 0; i < n; i++) write(buf + i * 4096, new Uint8Array(4096).fill(i + 1));
  const tags: number[] = [];
  for (let i = 0; i < n; i++) {
    tags.push(disk.submit(DiskOp.WRITE, i * 8192, 4096, buf + i * 4096, { ring: false }));
  }
  disk.kick();
  const seen = new Set<number>();
  let errors = 0;
  const seqs: number[] = [];
  for (const t of tags) {
    const c = disk.wait(t);
    if (c.errno !== 0) errors++;
    seen.add(c.tag);
    seqs.push(c.seq);
  }
  write(buf, new Uint8Array(n * 4096)); // clear, then read everything back at once
  const reads = Array.from(
    { length: n },
    (_, i) => disk.submit(DiskOp.READ, i * 8192, 4096, buf + i * 4096),
  );
  for (const t of reads) if (disk.wait(t).errno !== 0) errors++;
  let wrong = 0;
  for (let i = 0; i < n; i++) if (read(buf + i * 4096 + 100, 1)[0] !== i + 1) wrong++;
  const inOrder = seqs.every((s, i) => i === 0 || s > seqs[i - 1]);
  report({ completed: seen.size, errors, wrong, inOrder, left: disk.take(12345) });
}

export default function main(args: string[]): number {
  const what = args[0];
  if (what === "bystander") {
    const seg = Number(args[1]);
    report({ bind: attempt(() => bind(seg)), attach: attempt(() => diskAttach(0)) });
    return 0;
  }
  if (what === "attach") {
    report({ attach: attempt(() => diskAttach(Number(args[1]))) });
    return 0;
  }
  const disk = DiskDriver.attach(0);
  if (what === "write") writeScenario(disk);
  else if (what === "read") readScenario(disk);
  else if (what === "errors") errorsScenario(disk);
  else if (what === "concurrent") concurrentScenario(disk, Number(args[1]));
  else if (what === "model") report({ model: disk.model, size: disk.size });
  else if (what === "hold") {
    report({ segment: disk.segment });
    for (;;) SigWait(1000);
  }
  return 0;
}
