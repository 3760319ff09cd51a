/**
 * All system-call handlers, keyed by their name in the ABI table. Adding a system
 * call is one row in kernel/abi/syscalls.ts plus its handler in one of these files;
 * the check below fails at boot if a row has no handler.
 */

import { SYSCALLS } from "../abi/syscalls.ts";
import type { Kernel } from "../kernel.ts";
import { panic } from "../panic.ts";
import type { Handler } from "../trap/dispatch.ts";
import { consoleHandlers } from "./sys_console.ts";
import { infoHandlers } from "./sys_info.ts";
import { memoryHandlers } from "./sys_memory.ts";
import { procHandlers } from "./sys_proc.ts";
import { signalHandlers } from "./sys_signal.ts";
import { remoteHandlers } from "./sys_remote.ts";
import { nameHandlers } from "./sys_names.ts";
import { messageHandlers } from "./sys_message.ts";
import { tripwireHandlers } from "./sys_tripwire.ts";

export function makeHandlers(k: Kernel): Record<string, Handler> {
  const all: Record<string, Handler> = {
    ...procHandlers(k),
    ...memoryHandlers(k),
    ...signalHandlers(k),
    ...consoleHandlers(k),
    ...infoHandlers(k),
    ...remoteHandlers(k),
    ...nameHandlers(k),
    ...messageHandlers(k),
    ...tripwireHandlers(k),
  };
  for (const s of SYSCALLS) {
    if (!all[s.name]) panic("makeHandlers", `system call ${s.name} has no handler`);
  }
  return all;
}
