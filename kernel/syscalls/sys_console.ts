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

/**
 * The most of one print call the kernel holds back while its pieces arrive: a
 * longer text goes out in parts of this size (and may then interleave).
 */
export const PRINT_HOLD_MAX = 256 * 1024;

/** Writes `text` to console stream `fd` for `p`, labelled if `p`'s output is. */
function emit(n: NodeParts, p: Process, fd: number, text: string): void {
  if (text === "") return;
  n.console.write(fd, p.labelOutput ? labelled(p, text, `[node ${n.nodeId} pid ${p.pid}] `) : text);
}

/** Writes out what `p` has held back (a print call cut short by its end). */
export function flushHeldOutput(n: NodeParts, p: Process): void {
  const held = p.heldOutput;
  p.heldOutput = null;
  if (held) emit(n, p, held.fd, held.text);
}

export function consoleHandlers(n: NodeParts): Handlers<"print" | "console_read"> {
  return {
    // One print call longer than the data area comes as several traps, all but the
    // last with `more` set: the kernel holds the pieces and writes the text at once,
    // so other processes' output never lands inside it.
    print: (p, [fd, more]) => {
      if (more > 1) fail("EINVAL", `print: more is ${more} (0 or 1)`);
      const text = readDataString(p.trap);
      if (p.heldOutput && p.heldOutput.fd !== fd) flushHeldOutput(n, p);
      if (more === 0 && !p.heldOutput) {
        emit(n, p, fd, text);
        return 0;
      }
      const held = p.heldOutput ??= { fd, text: "" };
      held.text += text;
      if (more === 0 || held.text.length >= PRINT_HOLD_MAX) flushHeldOutput(n, p);
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
