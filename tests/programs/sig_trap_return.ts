/**
 * When handlers run (001 §3.1): on the return of a trap, before the trap returns to
 * the program, and never nested inside another handler (a signal arriving during a
 * handler waits in the FIFO and runs after it).
 *
 *   sig_trap_return           runs the three checks below and reports their logs
 *   sig_trap_return --poke S  (child) binds S, signals word 8, then raises the flag
 */

import {
  allocate,
  bind,
  CreateSegment,
  getpid,
  getppid,
  kill,
  load32,
  nullTrap,
  PAGE_SIZE,
  Rights,
  Sig,
  Signal,
  signalAddress,
  signalCounters,
  SignalHandler,
  spawn,
  store32,
  wait,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const FLAG = 128;
const hex = (v: number) => "0x" + (v >>> 0).toString(16);

/** A handler that signals this process again: the second handler runs after it ends. */
function nesting(): string[] {
  const base = allocate(PAGE_SIZE);
  const log: string[] = [];
  SignalHandler(base, 64, (addr: number) => {
    log.push(`A:${addr - base}`);
    log.push(`A-sent:${Signal(base + 64)}`);
    log.push(`A-end:pending=${signalCounters().pending}`);
  });
  SignalHandler(base + 64, 64, (addr: number) => log.push(`B:${addr - base}`));
  log.push("before");
  const n = Signal(base);
  nullTrap(); // a safe point even if Signal itself did not trap (the hardware path)
  log.push(`after:${n}`);
  return log;
}

/** A signal queued while the process computes runs at its next trap's return. */
function busy(): string[] {
  const segment = CreateSegment(PAGE_SIZE);
  const base = bind(segment, 0x4000_0000);
  store32(base + FLAG, 0); // fault in now: the loop below makes no trap
  const log: string[] = [];
  const h0 = signalCounters().handled;
  SignalHandler(base, 64, (addr: number) => log.push(`handler:${hex(addr)}`));
  const child = spawn(import.meta.url, ["--poke", String(segment)], {
    share: [{ segment, rights: Rights.READ | Rights.WRITE }],
  });
  let spins = 0;
  while (load32(base + FLAG) === 0) spins++;
  const c = signalCounters();
  log.push(`loop-done:pending=${c.pending}:handled=${c.handled - h0}`);
  getppid(); // any trap
  log.push(`after-trap:handled=${signalCounters().handled - h0}`);
  const st = wait(child).status;
  log.push(`child:${st}`);
  return log;
}

/** kill() of oneself with a SIGTERM handler: the handler runs before kill returns. */
function selfKill(): number[] {
  let terms = 0;
  SignalHandler(signalAddress(Sig.SIGTERM), 4, () => terms++);
  const seen: number[] = [];
  for (let i = 0; i < 20; i++) {
    kill(getpid(), Sig.SIGTERM);
    seen.push(terms);
  }
  return seen;
}

export default function main(args: string[]): number {
  if (args[0] === "--poke") {
    const base = bind(Number(args[1]), 0x2000_0000);
    const n = Signal(base + 8); // queued before the flag goes up
    store32(base + FLAG, 1);
    return n === 1 ? 0 : 1;
  }
  report({ nesting: nesting(), busy: busy(), selfKill: selfKill() });
  return 0;
}
