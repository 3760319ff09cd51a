/**
 * The memory server (003 §4.2: "a remote memory layer whose latency lies somewhere
 * between local memory and disk"): it exports a large segment of its node's memory
 * as backing store for other nodes' swap pagers and then has nothing to do. Every
 * page-out and page-in is a remote WRITE or READ its kernel serves; extents are
 * taken with a remote CAS on the pool's header (servers/memory/protocol.ts).
 *
 *   servers/memory/mod.ts [--mib N]     (started by init on the node `--memory-server`
 *                                        names; 64 MiB by default, at most 256)
 *
 * Its pool is kept out of its own node's swap (a backing store paged to disk would
 * be a disk). Pages of the pool take frames on this node as they are first written.
 */

import { parseArgs } from "node:util";
import {
  args,
  bind,
  CreateSegment,
  DEFAULT_POOL_MIB,
  exportSegment,
  memoryName,
  nodeId,
  PAGE_SIZE,
  POOL_MAGIC,
  PoolWord,
  Rights,
  setSwap,
  SigWait,
  store32,
} from "../../userland/lib/mod.ts";

export default function main(): number {
  const { values } = parseArgs({
    args: [...args()],
    options: { mib: { type: "string", default: String(DEFAULT_POOL_MIB) } },
  });
  const mib = Number(values.mib);
  const bytes = mib * 1024 * 1024;
  if (!Number.isInteger(mib) || mib < 1) {
    throw new Error(`memory server: --mib must be a whole number of MiB, not ${values.mib}`);
  }
  const pool = CreateSegment(bytes);
  setSwap(pool, false);
  const base = bind(pool);
  store32(base + PoolWord.PAGES * 4, bytes / PAGE_SIZE);
  store32(base + PoolWord.NEXT * 4, 1);
  store32(base + PoolWord.MAGIC * 4, POOL_MAGIC);
  exportSegment(pool, memoryName(nodeId()), Rights.READ | Rights.WRITE | Rights.CAS);
  for (;;) SigWait(60_000); // the kernel serves every access; nothing comes here
}
