/**
 * READs to a node whose answers the test forges (tests/hardening_test.ts).
 *
 *   hard_forge_reply.ts NODE
 *
 * Imports NODE's well-known registry and issues three 8-byte READs into a local
 * segment pre-filled with 0xAA, each deposited at offset 16, waiting for each
 * completion. Reports {reads: [{error?, errno, local}]}: `error` is the code
 * awaitRemote threw, `errno` what remoteStatus() said, `local` the first 128 bytes
 * of the deposit segment after the completion.
 */
import {
  awaitRemote,
  bind,
  CreateSegment,
  importWellKnown,
  READ,
  read,
  remoteCounters,
  remoteStatus,
  SysError,
  write,
} from "../../userland/lib/mod.ts";
import { WellKnown } from "../../userland/lib/sys/names.ts";
import { report } from "./report.ts";

const SENTINEL = 0xaa;

export default function main(args: string[]): number {
  const node = Number(args[0]);
  const seg = CreateSegment(4096);
  const base = bind(seg);
  const desc = importWellKnown(node, WellKnown.REGISTRY);
  const reads: Record<string, unknown>[] = [];
  for (const offset of [0, 64, 128]) {
    write(base, new Uint8Array(128).fill(SENTINEL));
    const before = remoteCounters();
    let error: string | undefined;
    try {
      READ(desc, offset, 8, seg, 16);
      awaitRemote(before, 8_000);
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      error = e.code;
    }
    reads.push({ offset, error, errno: remoteStatus().errno, local: [...read(base, 128)] });
  }
  report({ reads });
  return 0;
}
