/**
 * Console system calls: output goes through the kernel to the node's console
 * (never through a worker's own `console`); input comes from the console's input
 * device (kernel/dev/console_input.ts), in the order readers asked. An
 * interruptible read fails with EINTR at once if a signal is already queued for
 * the reader, and when the kernel queues one while it waits (trap_wait.ts).
 */

import { CONSOLE_READ_FLAGS_ALL, ConsoleReadFlag } from "../abi/syscalls.ts";
import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { readDataString } from "../trap/data_area.ts";
import { BLOCKED } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";

/** `text` with `label` at the start of each line `p` begins (kept across prints). */
function labelled(p: Process, text: string, label: string): string {
  let out = "";
  for (const line of text.split(/(?<=\n)/)) {
    out += (p.atLineStart ? label : "") + line;
    p.atLineStart = line.endsWith("\n");
  }
  return out;
}

export function consoleHandlers(n: NodeParts): Handlers<"print" | "console_read"> {
  return {
    print: (p, [fd]) => {
      const text = readDataString(p.trap);
      n.console.write(
        fd,
        p.labelOutput ? labelled(p, text, `[node ${n.nodeId} pid ${p.pid}] `) : text,
      );
      return 0;
    },

    console_read: (p, [flags]) => {
      if ((flags & ~CONSOLE_READ_FLAGS_ALL) !== 0) {
        fail("EINVAL", `console_read: flags ${flags} (a mask of ConsoleReadFlag)`);
      }
      const interruptible = (flags & ConsoleReadFlag.INTERRUPTIBLE) !== 0;
      if (interruptible && p.fifo.pending() > 0) {
        fail("EINTR", "a signal is waiting to be handled");
      }
      const w = n.traps.block(p, { interruptible, onCancel: () => n.input.cancel(w) });
      n.input.read(w, flags);
      return BLOCKED;
    },
  };
}
