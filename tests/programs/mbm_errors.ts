/**
 * The errors of the message-segment calls, each caught and reported by code; the
 * process goes on to complete a line afterwards, so it survived them all.
 *
 *   unit_complete(vaddr, what)   what 0, 4, 0xffffffff; a NORMAL segment; an
 *                                unmapped address; a read-only binding; then valid
 *                                calls (signal, send, on a quiet segment)
 *   attach(descriptor)           a descriptor that does not exist
 *   view(…, writable)            of a message page (SysError EINVAL); read-only is fine
 */

import {
  allocate,
  attach,
  bind,
  CreateSegment,
  load32,
  PAGE_SIZE,
  Rights,
  SegMode,
  SegUnit,
  SignalHandler,
  SigWait,
  store32,
  Sys,
  trap,
  view,
  view32,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(): number {
  const msg = CreateSegment(2 * PAGE_SIZE, SegMode.MESSAGE, SegUnit.CACHE_LINE);
  const base = bind(msg, 0x1000_0000);
  const ro = bind(msg, 0x2000_0000, Rights.READ);
  const quiet = bind(CreateSegment(PAGE_SIZE, SegMode.MESSAGE_QUIET, SegUnit.CACHE_LINE));
  const normal = allocate(PAGE_SIZE);
  const got: number[] = [];
  const quietGot: number[] = [];
  SignalHandler(base, 2 * PAGE_SIZE, (addr: number) => got.push(addr));
  SignalHandler(quiet, PAGE_SIZE, (addr: number) => quietGot.push(addr));
  const complete = (va: number, what: number) => attempt(() => trap(Sys.unit_complete, va, what));

  const r: Record<string, unknown> = { base, quiet };
  r.unitComplete = {
    what0: complete(base, 0),
    what4: complete(base, 4),
    whatAll: complete(base, 0xffff_ffff),
    normal: complete(normal, 1),
    unmapped: complete(0x7000_0000, 1),
    readOnly: complete(ro + 32, 1),
    readOnlySend: complete(ro + 32, 2),
    signal: complete(base + 32 + 5, 1), // the line's first byte is the signal's address
    send: complete(base + 64, 2), // bound on no other node: nothing to send
    quiet: complete(quiet, 1 | 2),
  };
  SigWait(0);
  r.got = [...got];
  r.quietGot = [...quietGot];
  r.attach = { missing: attempt(() => attach(123_456)) };
  r.view = {
    writable: attempt(() => view(base, 64, true)),
    writable32: attempt(() => view32(base + PAGE_SIZE, 8, true)),
    readOnly: attempt(() => view(base, 32).length),
  };
  // Still alive and working: one more line completes and signals.
  const before = got.length;
  for (let w = 0; w < 8; w++) store32(base + 96 + 4 * w, 0x600d_0000 + w);
  SigWait(0);
  r.after = { got: got.slice(before), word: load32(ro + 96 + 28) };
  report(r);
  return 0;
}
