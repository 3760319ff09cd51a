/**
 * Console system calls: output goes through the kernel to the node's console
 * (never through a worker's own `console`); input lines are handed to readers in
 * the order they asked.
 */

import { Trap } from "../abi/layout.ts";
import { BLOCKED, type Handler } from "../trap/dispatch.ts";
import type { Kernel } from "../kernel.ts";
import type { Process } from "../proc/process.ts";
import { readDataString, writeDataPrefix } from "./data.ts";

export function consoleHandlers(k: Kernel): Record<string, Handler> {
  const readers: Process[] = [];
  const lines: (string | null)[] = [];
  let pumping = false;

  const hand = () => {
    while (readers.length && lines.length) {
      const p = readers.shift()!;
      const line = lines[0];
      if (line === null) {
        // End of input stays: every later reader sees it too.
        p.trap[Trap.DATA_LEN] = 0;
        k.completeBlocked(p, 0, 0, 1);
        continue;
      }
      // A line longer than the data area goes in pieces, each flagged "more follows".
      const { written, read } = writeDataPrefix(p.trap, line);
      if (read < line.length) lines[0] = line.slice(read);
      else lines.shift();
      k.completeBlocked(p, written, 0, read < line.length ? 2 : 0);
    }
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    while (readers.length && lines[0] !== null) {
      const line = await k.console.readLine();
      lines.push(line);
      hand();
    }
    pumping = false;
  };

  return {
    print: (p, [fd]) => {
      k.console.write(fd, readDataString(p.trap));
      return 0;
    },

    console_read: (p) => {
      readers.push(p);
      p.blocked = {
        sysno: p.trap[Trap.SYSNO],
        cancel: () => readers.splice(readers.indexOf(p), 1),
      };
      hand();
      if (p.blocked) pump();
      return BLOCKED;
    },
  };
}
