/**
 * TLB shootdown: after `unbind` or `protect` down, an address whose translation is in
 * the TLB must fault, not hit the stale entry.
 *
 * Modes (args[0]):
 *   unbind-load    touch a page, unbind, load it again           (dies)
 *   protect-store  store (TLB write entry), protect READ, store  (dies)
 *   handled        both cases with a recording fault handler, and rebinding
 */

import {
  Access,
  bind,
  CreateSegment,
  load32,
  onFault,
  PAGE_SIZE,
  protect,
  Rights,
  store32,
  tlbMisses,
  unbind,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

const BASE = 0x2000_0000;
const OTHER = 0x3000_0000;

function unbindLoad(): number {
  const seg = CreateSegment(PAGE_SIZE);
  const at = bind(seg, BASE);
  store32(at + 0x40, 9);
  const first = load32(at + 0x40);
  const second = load32(at + 0x40); // a TLB hit
  unbind(at);
  report({ first, second });
  const stale = load32(at + 0x40);
  report({ survived: true, stale });
  return 0;
}

function protectStore(): number {
  const seg = CreateSegment(PAGE_SIZE);
  const at = bind(seg, BASE);
  store32(at + 0x80, 1);
  store32(at + 0x80, 2); // a TLB hit for stores
  protect(at, PAGE_SIZE, Rights.READ);
  report({ load: load32(at + 0x80) });
  store32(at + 0x80, 3);
  report({ survived: true });
  return 0;
}

function handled(): number {
  const faults: [number, number][] = [];
  onFault((va, access) => {
    faults.push([va, access]);
    throw new Error("fault");
  });
  const attempt = (fn: () => unknown): string => {
    try {
      return `ok ${fn()}`;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  };
  const seg = CreateSegment(2 * PAGE_SIZE);
  const at = bind(seg, BASE);
  store32(at + 0x1000, 0x1234);
  const warm = load32(at + 0x1000);
  const missesWarm = tlbMisses();
  const hit = load32(at + 0x1000);
  const hitMissed = tlbMisses() - missesWarm;

  // Protect page 1 down to READ: loads still hit, stores fault.
  protect(at + PAGE_SIZE, PAGE_SIZE, Rights.READ);
  const loadAfterProtect = attempt(() => load32(at + 0x1000));
  const storeAfterProtect = attempt(() => store32(at + 0x1000, 1));
  // Page 0 was not protected: it still takes stores.
  const storeOtherPage = attempt(() => store32(at + 0x10, 7));
  // Protect to no access: loads fault too.
  protect(at + PAGE_SIZE, PAGE_SIZE, 0);
  const loadAfterNone = attempt(() => load32(at + 0x1000));
  protect(at + PAGE_SIZE, PAGE_SIZE, Rights.READ | Rights.WRITE);
  const loadRestored = attempt(() => load32(at + 0x1000));

  // Unbind: both pages fault, for loads and stores.
  unbind(at);
  const loadAfterUnbind = attempt(() => load32(at + 0x1000));
  const storeAfterUnbind = attempt(() => store32(at + 0x10, 8));
  // Rebound elsewhere, the same memory appears at the new address only.
  const again = bind(seg, OTHER);
  const rebound = attempt(() => load32(again + 0x1000));
  const oldStillFaults = attempt(() => load32(at + 0x1000));
  // Another segment bound at the old address: its (zero) memory, not the stale page.
  const other = CreateSegment(2 * PAGE_SIZE);
  bind(other, at);
  const newSegmentAtOldAddress = attempt(() => load32(at + 0x1000));
  report({
    warm,
    hit,
    hitMissed,
    loadAfterProtect,
    storeAfterProtect,
    storeOtherPage,
    loadAfterNone,
    loadRestored,
    loadAfterUnbind,
    storeAfterUnbind,
    rebound,
    oldStillFaults,
    newSegmentAtOldAddress,
    faults,
    read: Access.READ,
    write: Access.WRITE,
  });
  return 0;
}

export default function main(args: string[]): number {
  switch (args[0]) {
    case "unbind-load":
      return unbindLoad();
    case "protect-store":
      return protectStore();
    default:
      return handled();
  }
}
