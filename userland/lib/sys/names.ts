/**
 * The name service for clients, `waitForName`; and its memory layouts, for the name
 * clerk (servers/names/) and for tools that read registries: the same table the
 * kernel uses (kernel/abi/names.ts).
 */

import { SysError } from "../../../kernel/abi/errors.ts";
import { SigWait } from "../rt/signals.ts";
import { type ImportOptions, importSegment } from "./remote.ts";

export {
  Answer,
  ANSWER_BYTES,
  Ask,
  CHANNEL_SLOT_BYTES,
  CHANNEL_SLOTS,
  Entry,
  ENTRY_BYTES,
  EntryState,
  LookupFlag,
  MAILBOX_BYTES,
  MAILBOX_SLOT_BYTES,
  MAX_NAME_BYTES,
  nameHash,
  NameOp,
  NO_HINT,
  NOTICE_OFFSET,
  NOTICE_SLOTS,
  REGISTRY_BYTES,
  REGISTRY_ENTRIES,
  Slot,
  SlotState,
  WellKnown,
} from "../../../kernel/abi/names.ts";

/**
 * Imports `name` as soon as a server has exported it, waiting up to `deadlineMs`:
 * the one way a client waits for a server that may still be starting (a server is
 * ready when it has exported its name). While the node's name clerk is itself
 * starting, the kernel holds the request (up to its clerk wait) rather than failing
 * it; a name not exported yet (ENOENT), a clerk that went away (EIO, init starts
 * another), or a name whose server just died (ESTALE: init starts it again, and it
 * exports the name anew) is asked again after a pause that doubles from 1 ms up to 32 ms, until
 * the deadline, after which the last error is thrown. Any other error is thrown at
 * once. Signals are handled during the pauses (SigWait).
 *
 * @example
 * ```ts
 * const { desc } = waitForName(execName(1), 5_000, { hint: 1 });
 * ```
 */
export function waitForName(
  name: string,
  deadlineMs = 5_000,
  opts: ImportOptions = {},
): { desc: number; size: number } {
  const deadline = performance.now() + deadlineMs;
  for (let pause = 1;; pause = Math.min(pause * 2, 32)) {
    try {
      return importSegment(name, opts);
    } catch (e) {
      const starting = e instanceof SysError &&
        (e.code === "ENOENT" || e.code === "EIO" || e.code === "ESTALE");
      const left = deadline - performance.now();
      if (!starting || left <= 0) throw e;
      SigWait(Math.min(pause, Math.ceil(left)));
    }
  }
}
