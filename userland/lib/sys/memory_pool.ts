/**
 * The memory server's pool (003 §4.2; servers/memory/), as its clients (the swap
 * pagers, servers/pager/) see it through remote memory.
 * One exported segment, `memoryName(node)`: page 0 is the header, the rest are data
 * pages. A client takes extents of pages with a remote CAS on the header's cursor
 * (no message to the server, no server thread in the path: the kernel serves every
 * access), then pages out with block WRITEs and in with block READs. Extents are
 * never given back: the pool fills up, and then a client keeps its new pages on
 * its own disk only (servers/pager/).
 *
 *   word 0  MAGIC
 *   word 1  the pool's size in pages, header included
 *   word 2  NEXT: the first page no client has taken (starts at 1)
 */

import { PAGE_SIZE } from "../../../kernel/abi/layout.ts";

export const POOL_MAGIC = 0x4d454d31; // "MEM1"
export const PoolWord = { MAGIC: 0, PAGES: 1, NEXT: 2 } as const;

/** Byte offsets of the header's words. */
export const POOL_NEXT_OFFSET = PoolWord.NEXT * 4;

/** The pages a client takes at a time (1 MiB). */
export const POOL_EXTENT_PAGES = 256;

/** The memory server's pool by default, in MiB (`servers/memory/mod.ts --mib N`). */
export const DEFAULT_POOL_MIB = 64;

/** The name the memory server of node `node` exports its pool under. */
export function memoryName(node: number): string {
  return `memory.${node}`;
}

/** The byte offset of data page `page` of the pool. */
export function poolOffset(page: number): number {
  return page * PAGE_SIZE;
}
