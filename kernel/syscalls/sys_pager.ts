/**
 * External pagers' system calls (kernel/memory/pager_table.ts owns the protocol):
 * take a segment to page, answer its page requests, write-protect its pages; become
 * the node's swap pager, and let a segment be swapped or keep it from being.
 */

import { PAGE_SIZE, Rights } from "../abi/layout.ts";
import type { NodeParts } from "../parts.ts";
import { fail } from "../panic.ts";
import { usableDescriptor } from "../remote/descriptor_table.ts";
import type { Handlers } from "../trap/trap_entry.ts";

export function pagerHandlers(
  n: NodeParts,
): Handlers<
  | "set_pager"
  | "pager_answer"
  | "pager_protect"
  | "swap_attach"
  | "set_swap"
  | "pager_locate"
  | "pager_drop"
> {
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
    pager_drop: (p, [id, page, count]) => n.pagers.drop(p, id, page, count),
    pager_locate: (p, [id, page, desc, offset]) => {
      if (desc === -1) return n.pagers.locate(p, id, page, null);
      const nodeDown = (node: number) => n.nodeDown(node);
      const d = usableDescriptor(p.descriptors, nodeDown, desc, Rights.READ, offset, PAGE_SIZE);
      return n.pagers.locate(p, id, page, { to: d, descId: desc, offset, writes: 0 });
    },
    swap_attach: (p) => {
      n.pagers.attachSwap(p);
      return 0;
    },
    set_swap: (p, [id, on]) => {
      const seg = n.segments.get(id);
      if (!seg) fail("EBADF", `no segment ${id}`);
      if (!seg.holders.has(p.pid)) fail("EPERM", `pid ${p.pid} does not hold segment ${id}`);
      if (on !== 0 && on !== 1) fail("EINVAL", `set_swap: on is ${on} (0 or 1)`);
      if (!seg.anonymous) fail("EINVAL", `set_swap: segment ${id} is not anonymous memory`);
      seg.swap = on === 1;
      return 0;
    },
  };
}
