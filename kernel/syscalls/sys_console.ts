/**
 * Console system calls: output goes through the kernel to the node's console
 * (never through a worker's own `console`); input comes from the console's input
 * device (kernel/dev/console_input.ts), in the order readers asked.
 */

import type { NodeParts } from "../parts.ts";
import { readDataString } from "../trap/data_area.ts";
import { BLOCKED } from "../trap/dispatch.ts";
import type { Handlers } from "../trap/trap_entry.ts";

export function consoleHandlers(n: NodeParts): Handlers<"print" | "console_read"> {
  return {
    print: (p, [fd]) => {
      n.console.write(fd, readDataString(p.trap));
      return 0;
    },

    console_read: (p) => {
      const w = n.traps.block(p, { onCancel: () => n.input.cancel(w) });
      n.input.read(w);
      return BLOCKED;
    },
  };
}
