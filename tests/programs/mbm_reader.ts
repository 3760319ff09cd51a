/**
 * A receiver on a message segment (001 §3.2–3.3), driven by mbm_writer.ts. Binds the
 * message segment read-only at the address it is given and records, for every
 * address-valued signal on it, the address and the unit's contents as read inside
 * the handler. The writer paces it through a NORMAL control segment:
 *
 *   control page 0   the writer's handlers: the reader signals word INDEX to say it
 *                    is ready and to acknowledge each probe
 *   control +4096    probe: snapshot LEN bytes of the message segment from FROM
 *                    (control words at +4160 and +4164) with the number of message
 *                    signals handled so far, then acknowledge
 *   control +4224    stop (+4 per INDEX): report everything and exit; the writer
 *                    stops the readers one at a time, so their reports never interleave
 *
 *   mbm_reader MSG_SEGMENT MSG_BYTES CTL_SEGMENT VADDR INDEX UNIT_BYTES
 *
 * A line signal's record is the line's 8 words; a page signal's is the page's first
 * and last words.
 */

import {
  bind,
  getpid,
  load32,
  PAGE_SIZE,
  Rights,
  Signal,
  signalCounters,
  SignalHandler,
  SigWait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const PROBE = PAGE_SIZE;
const STOP = PAGE_SIZE + 128;
const PROBE_FROM = PAGE_SIZE + 64;
const PROBE_LEN = PAGE_SIZE + 68;
const DEADLINE_MS = 20_000;

function words(at: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(load32(at + 4 * i));
  return out;
}

export default function main(args: string[]): number {
  const [msg, size, ctlSeg, at, index, unitBytes] = args.map(Number);
  const base = bind(msg, at, Rights.READ);
  const ctl = bind(ctlSeg);
  const got: number[] = [];
  const units: number[][] = [];
  const probes: { signals: number; words: number[] }[] = [];
  let stop = false;
  SignalHandler(base, size, (addr: number) => {
    got.push(addr);
    units.push(
      unitBytes === PAGE_SIZE ? [load32(addr), load32(addr + PAGE_SIZE - 4)] : words(addr, 8),
    );
  });
  SignalHandler(ctl + PROBE, 4, () => {
    probes.push({
      signals: got.length,
      words: words(base + load32(ctl + PROBE_FROM), load32(ctl + PROBE_LEN) / 4),
    });
    Signal(ctl + 4 * index);
  });
  SignalHandler(ctl + STOP + 4 * index, 4, () => stop = true);
  Signal(ctl + 4 * index); // ready
  const end = performance.now() + DEADLINE_MS;
  while (!stop && performance.now() < end) SigWait(1_000);
  report({ reader: index, pid: getpid(), base, got, units, probes, counters: signalCounters() });
  return stop ? 0 : 1;
}
