/**
 * Follows an export across its owner's restarts (tests/tcp_test.ts). Each round it
 * imports NAME from node HINT and reads word 100, retrying both while either fails
 * (the owner may be coming back), waits until this node sees HINT up with an incarnation other
 * than last round's, and reports {round, value, incarnation, old}: `old` is the code
 * a READ through the previous round's descriptor fails with (null in round 0). Then,
 * but for the last round, it READs every 20 ms until a READ fails (the owner went
 * away) and reports {round, lost: code}.
 *
 *   rm_follow.ts NAME HINT ROUNDS
 */
import {
  awaitRemote,
  bind,
  CreateSegment,
  importSegment,
  info,
  load32,
  READ,
  remoteCounters,
  SigWait,
} from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

const WAIT_MS = 20_000;

/** Calls `fn` every 20 ms until it returns something; throws after WAIT_MS. */
function poll<T>(what: string, fn: () => T | undefined): T {
  const deadline = performance.now() + WAIT_MS;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`rm_follow: no ${what} in ${WAIT_MS} ms`);
    SigWait(20);
  }
}

export default function main(args: string[]): number {
  const [name, hint, rounds] = [args[0], Number(args[1]), Number(args[2])];
  const local = CreateSegment(4096);
  const base = bind(local);
  /** READs word 100 of `desc`: its value, or the error code. */
  const read100 = (desc: number) =>
    attempt(() => {
      const before = remoteCounters();
      READ(desc, 100, 4, local, 0);
      awaitRemote(before, 10_000);
      return load32(base);
    });
  const peer = () => info("nodes").find((n: any) => n.node === hint);
  let desc = 0, incarnation = 0;
  for (let round = 0; round < rounds; round++) {
    // A name cached from the old incarnation imports, but its READ fails: again.
    const [imported, value] = poll("import and READ", () => {
      const d = attempt(() => importSegment(name, { hint }).desc);
      const v = typeof d === "number" ? read100(d) : d;
      return typeof v === "number" ? [d as number, v] : undefined;
    });
    const now = poll("new incarnation", () => {
      const p = peer();
      return p?.up && p.incarnation !== 0 && p.incarnation !== incarnation
        ? p.incarnation as number
        : undefined;
    });
    const old = round === 0 ? null : read100(desc);
    [desc, incarnation] = [imported, now];
    report({ round, value, incarnation, old });
    if (round === rounds - 1) break;
    const lost = poll("failed READ", () => {
      const r = read100(desc);
      return typeof r === "string" ? r : undefined;
    });
    report({ round, lost });
  }
  return 0;
}
