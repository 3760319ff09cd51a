/**
 * Protection faults. Without a handler the faulting access ends the process (the
 * test checks its status and reason); with `onFault` the handler sees the address
 * and access and may repair the mapping or throw.
 *
 * Modes (args[0]):
 *   ro-bind-store  store to a segment bound READ-only          (dies)
 *   protect-store  store to a page protected down to READ       (dies)
 *   unmapped-load  load from an address nothing is bound at     (dies)
 *   handlers       the onFault cases, reported as one RESULT
 */

import {
  Access,
  bind,
  CreateSegment,
  load32,
  MemoryFault,
  onFault,
  PAGE_SIZE,
  protect,
  Rights,
  store32,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const BASE = 0x2000_0000;
const UNMAPPED = 0x5000_0abc;

function roBindStore(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const at = bind(seg, BASE, Rights.READ);
  report({ load: load32(at + PAGE_SIZE + 0x10) });
  store32(at + PAGE_SIZE + 0x10, 1);
  report({ survived: true });
  return 0;
}

function protectStore(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const at = bind(seg, BASE);
  store32(at + 0x24, 5);
  protect(at, PAGE_SIZE, Rights.READ);
  report({ load: load32(at + 0x24) });
  store32(at + 0x24, 6);
  report({ survived: true });
  return 0;
}

function unmappedLoad(): number {
  report({ loading: UNMAPPED });
  const v = load32(UNMAPPED);
  report({ survived: true, v });
  return 0;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function handlers(): number {
  const seg = CreateSegment(2 * PAGE_SIZE);
  const at = bind(seg, BASE);
  store32(at + 0x100, 41);
  protect(at, PAGE_SIZE, Rights.READ);

  // 1. A handler that repairs the mapping: the retried store succeeds.
  const calls: [number, number][] = [];
  onFault((va, access) => {
    calls.push([va, access]);
    protect(at, PAGE_SIZE, Rights.READ | Rights.WRITE);
  });
  store32(at + 0x104, 42);
  const fixed = { calls: [...calls], value: load32(at + 0x104), before: load32(at + 0x100) };

  // 2. A handler that throws: the store throws that error and memory is unchanged.
  calls.length = 0;
  protect(at, PAGE_SIZE, Rights.READ);
  onFault((va, access) => {
    calls.push([va, access]);
    throw new RangeError(`refused ${access === Access.WRITE ? "write" : "read"}`);
  });
  let storeError = "none";
  try {
    store32(at + 0x108, 43);
  } catch (e) {
    storeError = describe(e);
  }
  let loadError = "none";
  try {
    load32(UNMAPPED);
  } catch (e) {
    loadError = describe(e);
  }
  const thrown = {
    calls: [...calls],
    storeError,
    loadError,
    unchanged: load32(at + 0x108),
  };

  // 3. A handler that returns without repairing: the retry faults again and the
  // access throws MemoryFault (a fault is repaired at most once).
  calls.length = 0;
  onFault((va, access) => {
    calls.push([va, access]);
  });
  let unrepaired = "none";
  let faultVaddr = -1;
  try {
    store32(at + 0x10c, 44);
  } catch (e) {
    unrepaired = describe(e);
    if (e instanceof MemoryFault) faultVaddr = e.vaddr;
  }
  report({
    fixed,
    thrown,
    unrepaired: { calls: [...calls], error: unrepaired, faultVaddr },
    alive: load32(at + 0x100),
  });
  return 0;
}

export default function main(args: string[]): number {
  switch (args[0]) {
    case "ro-bind-store":
      return roBindStore();
    case "protect-store":
      return protectStore();
    case "unmapped-load":
      return unmappedLoad();
    default:
      return handlers();
  }
}
