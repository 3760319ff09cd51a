/**
 * External pagers' system calls (kernel/memory/pager_table.ts owns the protocol):
 * take a segment to page, answer its page requests, write-protect its pages.
 */

import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import type { Handlers } from "../trap/trap_entry.ts";

export function pagerHandlers(
  n: NodeParts,
): Handlers<"set_pager" | "pager_answer" | "pager_protect"> {
  return {
    set_pager: (p, [id]) => {
      const seg = n.segments.get(id);
      if (!seg) fail("EBADF", `no segment ${id}`);
      if (!seg.holders.has(p.pid)) fail("EPERM", `pid ${p.pid} does not hold segment ${id}`);
      n.pagers.attach(p, seg);
      return 0;
    },
    pager_answer: (p, [id, page, op, vaddr]) => n.pagers.answer(p, id, page, op, vaddr),
    pager_protect: (p, [id, page, count, on]) => n.pagers.protect(p, id, page, count, on),
  };
}
