/**
 * Watches a remote word over one link (tests/tcp_test.ts): imports NAME from node
 * HINT, reports {imported}, then READs word OFF every 20 ms, counting failed READs,
 * until it is nonzero; reports {value, reads, errors} (or {error} after 20 s).
 *
 *   rm_watch.ts NAME HINT OFF
 */
import {
  awaitRemote,
  bind,
  CreateSegment,
  importSegment,
  load32,
  READ,
  remoteCounters,
  SigWait,
  SysError,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const [name, hint, off] = [args[0], Number(args[1]), Number(args[2])];
  const local = CreateSegment(4096);
  const base = bind(local);
  const { desc } = importSegment(name, { hint });
  report({ imported: desc });
  const deadline = performance.now() + 20_000;
  let reads = 0, errors = 0;
  for (;;) {
    try {
      const before = remoteCounters();
      READ(desc, off, 4, local, 0);
      awaitRemote(before);
      reads++;
      if (load32(base) !== 0) {
        report({ value: load32(base), reads, errors });
        return 0;
      }
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      errors++;
    }
    if (performance.now() > deadline) {
      report({ error: "timed out", reads, errors });
      return 1;
    }
    SigWait(20);
  }
}
