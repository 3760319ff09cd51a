/** Pins and unpins pages; reports resident counts and the errors of bad calls. */
import { bind, CreateSegment, info, pin, unpin } from "../../userland/lib/mod.ts";
import { attempt, report } from "./report.ts";

export default function main(): number {
  const seg = CreateSegment(4 * 4096);
  const at = bind(seg);
  const resident = () => info("segs").find((s: any) => s.id === seg).resident;
  const before = resident();
  const pinned = pin(at + 4096, 2 * 4096);
  const after = resident();
  report({
    before,
    pinned,
    after,
    unpin: attempt(() => unpin(at + 4096, 2 * 4096)),
    unpinAgain: attempt(() => unpin(at + 4096, 4096)),
    beyond: attempt(() => pin(at, 5 * 4096)),
    unmapped: attempt(() => pin(0x7000_0000, 4096)),
  });
  return 0;
}
