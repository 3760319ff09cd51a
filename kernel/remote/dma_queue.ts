/**
 * The DMA queue (002 §3.4), the kernel's side: a process fills a ring of WRITE
 * requests in memory it shares with its kernel, and the kernel takes them with no
 * trap per request. The trap service polls every running process's queue while it
 * is awake and takes a bounded batch from each in turn (the paper's round-robin
 * among non-empty queues); a process that finds the kernel asleep rings the
 * doorbell, as for a trap. Before the kernel serves any trap of a process it takes
 * everything in that process's queue, so requests leave in the order they were
 * made, queued or trapped.
 *
 * An entry is a WRITE with a completion, or (POSTED) without one, as a PIO store
 * to remote memory: the owner answers a posted WRITE only if it refuses it.
 * An entry is checked exactly as a trapped WRITE is (descriptor, staleness, node,
 * rights, bounds, size); one that fails completes with that error in the
 * process's completion counters (and as a COMPLETION event if it asked for one)
 * instead of failing a trap. Nothing in the ring is trusted: a TAIL more than the
 * ring's size ahead of HEAD is refused as a whole, with one EINVAL completion.
 *
 * Back-pressure: while a process has MAX_OUTSTANDING requests unanswered, its ring
 * waits, and so does any trap it makes (its requests must leave first); the first
 * answer to come back wakes the trap service to go on. A ring also waits while
 * the link to its next request's destination is more than DMA_BACKLOG_BYTES
 * behind (looked at again on the service's next pass).
 */

import {
  DMA_CAPACITY,
  DMA_ENTRY_WORDS,
  DMA_INLINE_BYTES,
  DMA_QUEUE_BYTES,
  DmaEntry,
  DmaFlag,
  DmaOp,
  DmaQueue,
  Rights,
  Trap,
} from "../abi/layout.ts";
import { Errno } from "../abi/errors.ts";
import { readLocal } from "../memory/user_copy.ts";
import { MAX_PAYLOAD } from "./memory_frames.ts";
import { KernelError } from "../panic.ts";
import type { Process } from "../proc/process.ts";
import { usableDescriptor } from "./descriptor_table.ts";
import type { RemoteMemory } from "./remote_memory.ts";
import { eventPage } from "./tripwires.ts";

/** What the DMA queue needs of its node. */
export interface DmaHost {
  readonly nodeId: number;
  readonly remote: RemoteMemory;
  nodeDown(node: number): boolean;
  /** Bytes for `node` that have not left yet (the network interface's backlog). */
  backlog(node: number): number;
}
/**
 * Rings wait while more than this many bytes for the destination have not left
 * yet (a slow link, a socket behind): posted WRITEs never wait for answers, and
 * TCP drops a peer whose output queue passes 16 MiB.
 */
export const DMA_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * The process's DMA queue, made and handed over on first use, with its event page
 * (where COMPLETION events go), so the process can wait for one at once.
 */
export function dmaQueue(p: Process): Int32Array {
  if (!p.dma) {
    eventPage(p);
    const buffer = new SharedArrayBuffer(DMA_QUEUE_BYTES);
    p.dma = new Int32Array(buffer);
    p.dmaHead = 0;
    p.handle!.grant({ kind: "dma", buffer });
    Atomics.add(p.trap, Trap.GRANTS, 1);
  }
  return p.dma;
}

/**
 * Takes up to `budget` entries from `p`'s queue; returns how many. Stops early
 * while `p` has as many requests outstanding as it may (they wait in the ring).
 */
export function drainDma(k: DmaHost, p: Process, budget: number): number {
  const q = p.dma;
  if (!q) return 0;
  let head = p.dmaHead;
  const tail = Atomics.load(q, DmaQueue.TAIL);
  const queued = (tail - head) | 0;
  if (queued === 0) return 0;
  if (queued < 0 || queued > DMA_CAPACITY) {
    // TAIL is the process's word and it is garbage: drop what it claims, once.
    p.dmaHead = tail;
    Atomics.store(q, DmaQueue.HEAD, tail);
    k.remote.refuse(p, 0, k.nodeId, Errno.EINVAL);
    return 1;
  }
  let n = 0;
  // HEAD moves past an entry once it is read and before its request goes out: an
  // in-process link may deliver its completion at once, and a process that sees
  // the completion sees the entry taken.
  const advance = () => {
    head = (head + 1) | 0;
    p.dmaHead = head;
    Atomics.store(q, DmaQueue.HEAD, head);
  };
  for (; head !== tail && n < budget; n++) {
    if (!k.remote.canIssue(p)) break;
    const at = DmaQueue.ENTRIES + ((head >>> 0) % DMA_CAPACITY) * DMA_ENTRY_WORDS;
    if (!take(k, p, q, at, advance)) break;
  }
  return n;
}

/**
 * Issues the WRITE one entry asks for, or completes it with the error it earns;
 * false, leaving it in the ring, while the link to its destination is too far behind.
 */
function take(k: DmaHost, p: Process, q: Int32Array, at: number, advance: () => void): boolean {
  const opWord = q[at + DmaEntry.OP];
  const id = q[at + DmaEntry.DESC];
  const off = q[at + DmaEntry.OFFSET] >>> 0;
  const count = q[at + DmaEntry.COUNT] >>> 0;
  const tag = q[at + DmaEntry.TAG];
  const op = opWord & 0xff;
  let advanced = false;
  try {
    if ((opWord & ~(0xff | DmaFlag.NOTIFY | DmaFlag.POSTED)) !== 0) {
      throw new KernelError("EINVAL", `DMA entry flags ${opWord}`);
    }
    const posted = (opWord & DmaFlag.POSTED) !== 0;
    if (posted && tag !== 0) throw new KernelError("EINVAL", "a posted WRITE has no completion");
    if (op === DmaOp.WRITE) {
      if (count === 0 || count > DMA_INLINE_BYTES) {
        throw new KernelError("EINVAL", `DMA WRITE of ${count} bytes (1..${DMA_INLINE_BYTES})`);
      }
    } else if (op === DmaOp.WRITE_BLOCK) {
      if (count === 0 || count > MAX_PAYLOAD) {
        throw new KernelError("EINVAL", `DMA block of ${count} bytes (1..${MAX_PAYLOAD})`);
      }
    } else {
      throw new KernelError("EINVAL", `no DMA operation ${op}`);
    }
    // The destination is checked before any source byte is read, as for a trap.
    const d = usableDescriptor(p.descriptors, k.nodeDown, id, Rights.WRITE, off, count);
    // Posted WRITEs have no answers to hold them back: the link's backlog does.
    if (k.backlog(d.node) > DMA_BACKLOG_BYTES) return false;
    const data = op === DmaOp.WRITE
      ? new Uint8Array(q.buffer, (at + DmaEntry.DATA) * 4, count).slice()
      : readLocal(p.space, q[at + DmaEntry.VADDR] >>> 0, count);
    const notify = (opWord & DmaFlag.NOTIFY) !== 0;
    advanced = true;
    advance();
    if (posted) k.remote.post(p, d, off, notify, data);
    else k.remote.write(p, d, off, notify, data, tag);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    const node = p.descriptors.get(id)?.node ?? k.nodeId;
    if (!advanced) advance();
    k.remote.refuse(p, id, node, e.errno, tag);
  }
  return true;
}
