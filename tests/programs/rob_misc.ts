/**
 * Small robustness probes, one per mode:
 *
 *   rob_misc view-high      view() on a binding at 0x90000000: reads and writes alias memory
 *   rob_misc idle           waits forever (SigWait)
 *   rob_misc close          calls self.close(), then stays in its event loop
 *   rob_misc deno-exit      calls Deno.exit(3)
 *   rob_misc exits          spawns "close" and "deno-exit" and reports both waits
 *   rob_misc wait-timeout   wait(pid, 50) on an idle child: reports the error
 *   rob_misc ps PID         reports the arguments info("ps") shows for PID
 *   rob_misc remove-handler a handler removed while a signal for it is queued
 */

import {
  allocate,
  bind,
  CreateSegment,
  info,
  kill,
  load32,
  load8,
  PAGE_SIZE,
  removeSignalHandler,
  Sig,
  Signal,
  signalCounters,
  SignalHandler,
  SigWait,
  spawn,
  store32,
  SysError,
  view,
  wait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

function viewHigh(): number {
  const at = bind(CreateSegment(2 * PAGE_SIZE), 0x9000_0000);
  store32(at, 0x0403_0201);
  store32(at + PAGE_SIZE, 0x0807_0605);
  const read = [...view(at, 4)];
  const w = view(at + PAGE_SIZE - 2, 4, true); // across the page boundary
  w.set([0xaa, 0xbb, 0xcc, 0xdd]);
  report({
    at,
    read,
    across: [...view(at + PAGE_SIZE - 2, 4)],
    low: load8(at + PAGE_SIZE - 1),
    high: load32(at + PAGE_SIZE) >>> 0,
  });
  return 0;
}

function idle(): number {
  for (;;) SigWait(60_000);
}

function close(): Promise<number> {
  (globalThis as unknown as { close(): void }).close();
  return new Promise<number>(() => {}); // the event loop only: the worker would just end
}

function denoExit(): number {
  Deno.exit(3);
}

function exits(): number {
  const waits: Record<string, unknown> = {};
  for (const mode of ["close", "deno-exit"]) {
    waits[mode] = attempt(() => wait(spawn(import.meta.url, [mode]), 5000));
  }
  report(waits);
  return 0;
}

function waitTimeout(): number {
  const pid = spawn(import.meta.url, ["idle"]);
  let error: unknown = null;
  const t0 = performance.now();
  try {
    wait(pid, 50);
  } catch (e) {
    error = e instanceof SysError ? { code: e.code, message: e.message } : String(e);
  }
  const el = performance.now() - t0;
  kill(pid, Sig.SIGKILL);
  report({ pid, error, el, end: attempt(() => wait(pid, 5000)) });
  return 0;
}

function ps(pid: number): number {
  const table = info("ps");
  report({ args: table.find((p: { pid: number }) => p.pid === pid)?.args ?? null });
  return 0;
}

function removeHandler(): number {
  const at = allocate(PAGE_SIZE);
  const ranRemoved: number[] = [];
  let queued = -1, removed = -1;
  SignalHandler(at, 64, (a: number) => ranRemoved.push(a - at));
  SignalHandler(at + 128, 64, () => {
    // Handlers never nest: this signal stays queued until this handler returns.
    queued = Signal(at + 4);
    removed = removeSignalHandler(at, 64);
  });
  const before = signalCounters().handled;
  Signal(at + 128);
  const deadline = performance.now() + 5000;
  while (signalCounters().handled - before < 2 && performance.now() < deadline) {
    SigWait(deadline - performance.now());
  }
  report({ queued, removed, ranRemoved, handled: signalCounters().handled - before });
  return 0;
}

export default function main(args: string[]): number | Promise<number> {
  switch (args[0]) {
    case "view-high":
      return viewHigh();
    case "idle":
      return idle();
    case "close":
      return close();
    case "deno-exit":
      return denoExit();
    case "exits":
      return exits();
    case "wait-timeout":
      return waitTimeout();
    case "ps":
      return ps(Number(args[1]));
    case "remove-handler":
      return removeHandler();
  }
  throw new Error(`unknown mode ${args[0]}`);
}
