/**
 * A remote READ of pages an external pager on another node has not supplied yet
 * (tests/pager_test.ts): imports args[0] from node args[1], READs 16 bytes across
 * the boundary of its pages 0 and 1, and reports the bytes that arrived; then
 * WRITEs a word into page 2 (not present either) and READs it back.
 */

import {
  awaitRemote,
  bind,
  CreateSegment,
  load8,
  PAGE_SIZE,
  READ,
  remoteCounters,
  waitForName,
  WRITE32,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const { desc } = waitForName(args[0], 10_000, { hint: Number(args[1]) });
  const local = CreateSegment(PAGE_SIZE);
  const at = bind(local);
  const before = remoteCounters();
  const t0 = performance.now();
  READ(desc, PAGE_SIZE - 8, 16, local, 0);
  awaitRemote(before, 10_000);
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) bytes.push(load8(at + i));
  const ms = Math.round(performance.now() - t0);
  let b = remoteCounters();
  WRITE32(desc, 2 * PAGE_SIZE + 4, 0x01234567);
  awaitRemote(b, 10_000);
  b = remoteCounters();
  READ(desc, 2 * PAGE_SIZE, 8, local, 0);
  awaitRemote(b, 10_000);
  const written: number[] = [];
  for (let i = 0; i < 8; i++) written.push(load8(at + i));
  report({ who: "reader", bytes, ms, written });
  return 0;
}
