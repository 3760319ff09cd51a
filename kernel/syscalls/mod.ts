/**
 * All system-call handlers, keyed by their name in the ABI table. Adding a system
 * call is one row in kernel/abi/syscalls.ts plus its handler in one of these files;
 * a row without a handler is a type error here (HandlerTable is keyed by every name).
 */

import type { NodeParts } from "../parts.ts";
import type { HandlerTable } from "../trap/trap_entry.ts";
import { consoleHandlers } from "./sys_console.ts";
export { flushHeldOutput } from "./sys_console.ts";
import { diskHandlers } from "./sys_disk.ts";
import { infoHandlers } from "./sys_info.ts";
import { memoryHandlers } from "./sys_memory.ts";
import { pagerHandlers } from "./sys_pager.ts";
import { procHandlers } from "./sys_proc.ts";
import { signalHandlers } from "./sys_signal.ts";
import { remoteHandlers } from "./sys_remote.ts";
import { nameHandlers } from "./sys_names.ts";
import { messageHandlers } from "./sys_message.ts";
import { tripwireHandlers } from "./sys_tripwire.ts";

export function makeHandlers(n: NodeParts): HandlerTable {
  return {
    ...procHandlers(n),
    ...memoryHandlers(n),
    ...pagerHandlers(n),
    ...signalHandlers(n),
    ...consoleHandlers(n),
    ...infoHandlers(n),
    ...remoteHandlers(n),
    ...nameHandlers(n),
    ...messageHandlers(n),
    ...tripwireHandlers(n),
    ...diskHandlers(n),
  };
}
