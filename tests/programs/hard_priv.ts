/**
 * Privileged name-service calls from an ordinary program (tests/hardening_test.ts).
 *
 *   hard_priv.ts import NODE     importWellKnown(NODE, MAILBOX) and (NODE, REGISTRY)
 *                                → {mailbox, registry} (a descriptor or an error code)
 *   hard_priv.ts attach          spawns itself as "attach-child" and waits for it
 *                                → {child, status}
 *   hard_priv.ts attach-child    creates a registry and a mailbox of the right sizes and
 *                                calls clerkAttach → {ppid, attach} (a channel id or a code)
 */
import {
  clerkAttach,
  CreateSegment,
  getppid,
  importWellKnown,
  spawn,
  wait,
} from "../../userland/lib/mod.ts";
import { MAILBOX_BYTES, REGISTRY_BYTES, WellKnown } from "../../userland/lib/sys/names.ts";
import { attempt, report } from "./report.ts";

export default function main(args: string[]): number {
  const mode = args[0];
  if (mode === "import") {
    const node = Number(args[1]);
    report({
      mailbox: attempt(() => importWellKnown(node, WellKnown.MAILBOX)),
      registry: attempt(() => importWellKnown(node, WellKnown.REGISTRY)),
    });
    return 0;
  }
  if (mode === "attach") {
    const child = spawn(new URL(import.meta.url).href, ["attach-child"]);
    const st = wait(child, 10_000);
    report({ child, status: st.status });
    return 0;
  }
  const registry = CreateSegment(REGISTRY_BYTES);
  const mailbox = CreateSegment(MAILBOX_BYTES);
  report({ ppid: getppid(), attach: attempt(() => clerkAttach(registry, mailbox)) });
  return 0;
}
