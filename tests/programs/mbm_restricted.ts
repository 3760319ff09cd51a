/**
 * Export restrictions hold for attach as for every remote access (000 §3.1.1):
 *
 *   mbm_restricted owner NAME PIDS_JSON NODES_JSON [inhibit]
 *       creates a MESSAGE segment, exports it as NAME for those pids and nodes (JSON
 *       lists, or null), write-inhibits it if asked, and reports {ready}; then waits
 *       for SIGINT and reports {word0} (what its own memory holds at offset 0)
 *   mbm_restricted user NAME HINT
 *       imports NAME (looking on node HINT), tries attach, bind and a completing
 *       store at offset 0; reports {attach, bind, store} (a value or an errno name)
 */

import {
  attach,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  load32,
  Rights,
  SegMode,
  SegUnit,
  Sig,
  signalAddress,
  SignalHandler,
  SigWait,
  store32,
  writeInhibit,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const [role, name] = args;
  if (role === "owner") {
    const seg = CreateSegment(4096, SegMode.MESSAGE, SegUnit.CACHE_LINE);
    const base = bind(seg);
    const id = exportSegment(seg, name, Rights.READ | Rights.WRITE, {
      pids: JSON.parse(args[2]) ?? undefined,
      nodes: JSON.parse(args[3]) ?? undefined,
    });
    if (args[4] === "inhibit") writeInhibit(id, true);
    let done = false;
    SignalHandler(signalAddress(Sig.SIGINT), 4, () => done = true);
    report({ role, ready: true });
    while (!done) SigWait(1000);
    report({ role, word0: load32(base) });
    return 0;
  }
  const { desc } = importSegment(name, { hint: Number(args[2]) });
  const seg = attempt(() => attach(desc));
  const at = typeof seg === "number"
    ? attempt(() => bind(seg, 0, Rights.READ | Rights.WRITE))
    : null;
  let store: string | number | null = null;
  if (typeof at === "number") {
    store = attempt(() => {
      for (let i = 0; i < 8; i++) store32(at + 4 * i, 0x5eed);
      return 1;
    }) as string | number;
  }
  report({ role, attach: typeof seg === "number" ? "ok" : seg, bind: at, store });
  return 0;
}
