/**
 * Resources at exit. Modes (args[0]):
 *   plain     creates three segments, binds two (one twice), touches them, exits
 *             without releasing anything; reports ids and the node's memoryUsed
 *   fault     like plain, then dies of a protection fault
 *   parent    creates `mine` and `shared`, spawns a "child" holding `shared`, reports,
 *             and exits while the child still runs
 *   child     binds `shared` and polls its first word until the test sets it
 */

import {
  bind,
  CreateSegment,
  info,
  load32,
  PAGE_SIZE,
  Rights,
  spawn,
  store32,
  write,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

function makeSegments(): { ids: number[]; memoryUsed: number; bindings: number } {
  const a = CreateSegment(3 * PAGE_SIZE);
  const b = CreateSegment(PAGE_SIZE);
  const c = CreateSegment(5 * PAGE_SIZE);
  const at = bind(a);
  bind(a); // the same segment twice
  const bt = bind(b, 0x2000_0000, Rights.READ);
  write(at, new Uint8Array(3 * PAGE_SIZE).fill(1));
  load32(bt);
  const self = info("ps").find((p: { pid: number }) => p.pid === info("self").pid);
  return { ids: [a, b, c], memoryUsed: info("stats").memoryUsed, bindings: self.bindings };
}

export default function main(args: string[]): number {
  switch (args[0]) {
    case "fault": {
      report(makeSegments());
      store32(0x2000_0000, 1); // b is bound READ-only
      return 0;
    }
    case "parent": {
      const mine = CreateSegment(2 * PAGE_SIZE);
      bind(mine);
      const shared = CreateSegment(4 * PAGE_SIZE);
      store32(bind(shared), 5);
      const child = spawn(import.meta.url, ["child", String(shared)], {
        share: [{ segment: shared, rights: Rights.READ | Rights.WRITE }],
      });
      report({ mine, shared, child });
      return 0;
    }
    case "child": {
      const at = bind(Number(args[1]));
      const end = performance.now() + 10_000;
      while (load32(at) === 5) if (performance.now() > end) return 1;
      return load32(at) === 6 ? 0 : 2;
    }
    default:
      report(makeSegments());
      return 0;
  }
}
