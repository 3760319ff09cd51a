/**
 * One side of a two-node TCP check (tests/hardening_test.ts): exports a segment as
 * "peerME" (word 100 = 0x1000 + ME), imports "peerOTHER" from node OTHER, retrying
 * while it is not exported or reachable yet, READs its word 100 and reports
 * {me, attempts, size, value} (or {me, attempts, error} after 15 s); then serves until
 * killed, so that the other side can read it too.
 *
 *   hard_tcp_peer.ts ME OTHER
 */
import {
  awaitRemote,
  bind,
  CreateSegment,
  exportSegment,
  importSegment,
  load32,
  READ,
  remoteCounters,
  SigWait,
  store32,
  SysError,
} from "../../userland/lib/mod.ts";
import { report } from "./report.ts";

export default function main(args: string[]): number {
  const [me, other] = [Number(args[0]), Number(args[1])];
  const mine = CreateSegment(4096);
  store32(bind(mine) + 100, 0x1000 + me);
  exportSegment(mine, `peer${me}`);
  const local = CreateSegment(4096);
  const base = bind(local);
  const deadline = performance.now() + 15_000;
  for (let attempts = 1;; attempts++) {
    try {
      const { desc, size } = importSegment(`peer${other}`, { hint: other, forceRemote: true });
      const before = remoteCounters();
      READ(desc, 100, 4, local, 0);
      awaitRemote(before);
      report({ me, attempts, size, value: load32(base) });
      break;
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      if (performance.now() > deadline) {
        report({ me, attempts, error: e.code });
        break;
      }
      SigWait(20);
    }
  }
  for (;;) SigWait(60_000);
}
