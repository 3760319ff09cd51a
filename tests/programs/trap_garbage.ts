/**
 * Garbage in trap requests: unassigned system-call numbers, argument words out of
 * range for their kind, a forged data length, bad UTF-8 and bad spawn JSON. Each
 * must come back as EINVAL (never a kernel exception); afterwards this process keeps
 * working. Reports { cases, after } where cases maps a name to the error code (or
 * "ok <result>").
 */

import { DATA_BYTES, DATA_OFFSET, Trap } from "../../kernel/abi/layout.ts";
import { allocate, getpid, info, load32, store32, Sys } from "../../userland/lib/mod.ts";
import { trap, trapPage } from "../../userland/lib/rt/trap.ts";
import { attempt, report } from "./report.ts";

const data = new Uint8Array(trapPage().buffer, DATA_OFFSET, DATA_BYTES);

/** Puts raw bytes in the data area with a length of our choosing. */
function forge(bytes: Uint8Array | string, len?: number): void {
  const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  data.set(b);
  trapPage()[Trap.DATA_LEN] = len ?? b.length;
}

function tryTrap(sysno: number, ...args: number[]): string {
  const r = attempt(() => trap(sysno, ...args));
  return typeof r === "number" ? `ok ${r}` : r;
}

export default function main(): number {
  const c: Record<string, string> = {};
  // System-call numbers never assigned.
  c.sysno9999 = tryTrap(9999);
  c.sysnoMinus1 = tryTrap(-1);
  c.sysnoPastTable = tryTrap(Sys.info + 1);
  c.sysnoHuge = tryTrap(0x7fff_ffff);
  c.sysnoMinInt = tryTrap(-0x8000_0000);

  // Argument words out of range for their kind.
  c.lenNegative = tryTrap(Sys.create_segment, -4096, 0, 0, 0);
  c.lenZero = tryTrap(Sys.create_segment, 0, 0, 0, 0);
  c.modeBad = tryTrap(Sys.create_segment, 4096, 3, 0, 0);
  c.modeNegative = tryTrap(Sys.create_segment, 4096, -1, 0, 0);
  c.unitBad = tryTrap(Sys.create_segment, 4096, 0, 2, 0);
  c.policyBad = tryTrap(Sys.create_segment, 4096, 0, 0, 3);
  c.rightsZero = tryTrap(Sys.bind, 1, 0, 0);
  c.rightsHighBit = tryTrap(Sys.bind, 1, 0, 0x11);
  c.pidZero = tryTrap(Sys.kill, 0, 15);
  c.pidNegative = tryTrap(Sys.kill, -5, 15);
  c.signoZero = tryTrap(Sys.kill, getpid(), 0);
  c.signo999 = tryTrap(Sys.kill, getpid(), 999);
  c.signo64 = tryTrap(Sys.kill, getpid(), 64);
  c.waitPidZero = tryTrap(Sys.wait, 0, 0);
  c.waitPidMinus2 = tryTrap(Sys.wait, -2, 0);
  c.timeoutMinus2 = tryTrap(Sys.wait, -1, -2);
  c.timeoutMinInt = tryTrap(Sys.wait, -1, -0x8000_0000);
  c.infoKindBad = tryTrap(Sys.info, 99, 0);
  c.exitStatus256 = tryTrap(Sys.exit, 256);
  c.exitStatusNegative = tryTrap(Sys.exit, -1);
  forge("x");
  c.fdZero = tryTrap(Sys.print, 0);
  c.fdThree = tryTrap(Sys.print, 3);
  c.fdNegative = tryTrap(Sys.print, -1);
  c.signalInReservedRegion = tryTrap(Sys.signal, 0xffff_0004);
  c.pageFaultBadAccess = tryTrap(Sys.page_fault, 0x1000, 0);

  // A forged data length beyond the data area, or negative; and invalid UTF-8.
  forge("hello\n", 1e6);
  c.dataLenHuge = tryTrap(Sys.print, 1);
  forge("hello\n", DATA_BYTES + 1);
  c.dataLenJustOver = tryTrap(Sys.print, 1);
  forge("hello\n", -1);
  c.dataLenNegative = tryTrap(Sys.print, 1);
  forge(new Uint8Array([0x68, 0xff, 0xfe, 0x0a]));
  c.dataNotUtf8 = tryTrap(Sys.print, 1);
  forge("garbage\n", 1e6);
  c.exitDataLenHuge = tryTrap(Sys.exit, 0);
  // The data area in full is allowed.
  forge(new Uint8Array(DATA_BYTES).fill(0x2e)); // "...."
  c.dataLenExact = tryTrap(Sys.print, 1);
  forge("\n");
  trap(Sys.print, 1);

  // Garbage spawn requests.
  const spawnWith = (text: string, len?: number) => {
    forge(text, len);
    return tryTrap(Sys.spawn);
  };
  c.spawnNotJson = spawnWith("{module: nope");
  c.spawnTruncated = spawnWith('{"module":"exit_with","args":["1"]}', 20);
  c.spawnEmpty = spawnWith("");
  c.spawnNull = spawnWith("null");
  c.spawnArray = spawnWith("[1,2]");
  c.spawnModuleNumber = spawnWith('{"module":5}');
  c.spawnModuleEmpty = spawnWith('{"module":""}');
  c.spawnArgsNotStrings = spawnWith('{"module":"exit_with","args":[1]}');
  c.spawnArgsNotArray = spawnWith('{"module":"exit_with","args":"1"}');
  c.spawnShareBad = spawnWith('{"module":"exit_with","share":[{"segment":"x","rights":3}]}');
  c.spawnShareRightsZero = spawnWith('{"module":"exit_with","share":[{"segment":1,"rights":0}]}');
  c.spawnDataLenHuge = spawnWith('{"module":"exit_with"}', 1e6);
  c.spawnBadUtf8 = (() => {
    forge(new Uint8Array([0x7b, 0xff, 0x7d]));
    return tryTrap(Sys.spawn);
  })();
  // Not garbage, for contrast: a well-formed request naming no program.
  c.spawnNoSuchModule = spawnWith('{"module":"/no/such/program.ts"}');

  // The same process still works: traps, memory, info.
  const at = allocate(4096);
  store32(at, 0x600d);
  const self = info("self");
  const after = {
    getpid: trap(Sys.getpid),
    pid: getpid(),
    nullTrap: trap(Sys.null),
    load: load32(at),
    selfPid: self.pid,
  };
  report({ cases: c, after });
  return 0;
}
