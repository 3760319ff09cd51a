/**
 * A process's descriptor table (000 §3.1.1: descriptors are kept by the co-processor
 * and privileged software, never by the process). A descriptor names a remote
 * segment: node, export id, generation, the rights its import granted, and size.
 * Numbers only grow, so a stale handle can never alias a new one.
 */

import { fail } from "../panic.ts";

export interface Descriptor {
  readonly id: number;
  readonly name: string;
  readonly node: number;
  readonly exportId: number;
  readonly genHi: number;
  readonly genLo: number;
  readonly rights: number;
  readonly size: number;
  /** Set when the name clerk found the export gone: operations fail with ESTALE. */
  stale: boolean;
  /**
   * The pid of the process that exported it, once the kernel knows (a local export's
   * owner; a remote one's from the owner's answer to an attach): `export`'s `peer`
   * option exports a segment to that process alone.
   */
  owner?: number;
}

/** How many descriptors one table may hold, and the node's count shared by all. */
export interface DescriptorQuota {
  readonly perProcess: number;
  readonly node: { open: number; readonly max: number };
}

const UNLIMITED: DescriptorQuota = { perProcess: Infinity, node: { open: 0, max: Infinity } };

export class DescriptorTable {
  readonly #byId = new Map<number, Descriptor>();
  readonly #quota: DescriptorQuota;
  #next = 1;

  constructor(quota: DescriptorQuota = UNLIMITED) {
    this.#quota = quota;
  }

  /** Opens a descriptor; EMFILE past the process's limit, ENFILE past the node's. */
  add(d: Omit<Descriptor, "id" | "stale">): Descriptor {
    const q = this.#quota;
    if (this.#byId.size >= q.perProcess) {
      fail("EMFILE", `${this.#byId.size} descriptors open, the most a process may have`);
    }
    if (q.node.open >= q.node.max) {
      fail("ENFILE", `${q.node.open} descriptors open on the node, the most it may have`);
    }
    const full: Descriptor = { ...d, id: this.#next++, stale: false };
    this.#byId.set(full.id, full);
    q.node.open++;
    return full;
  }

  get(id: number): Descriptor | undefined {
    return this.#byId.get(id);
  }

  all(): Descriptor[] {
    return [...this.#byId.values()];
  }

  /** Closes descriptor `id`; false if there is none. */
  close(id: number): boolean {
    if (!this.#byId.delete(id)) return false;
    this.#quota.node.open--;
    return true;
  }

  /** Closes every descriptor (the process exited). */
  clear(): void {
    this.#quota.node.open -= this.#byId.size;
    this.#byId.clear();
  }

  /** How many are open. */
  get size(): number {
    return this.#byId.size;
  }
}

/**
 * The descriptor `id` of a process's table if it can be used for `need` at
 * [off, off+count): it exists, is not stale, its node is up, it has the right and
 * the range is inside the segment. Throws the KernelError a trap returns.
 */
export function usableDescriptor(
  table: DescriptorTable,
  nodeDown: (node: number) => boolean,
  id: number,
  need: number,
  off: number,
  count: number,
): Descriptor {
  const d = table.get(id);
  if (!d) fail("EBADF", `no descriptor ${id}`);
  if (d.stale) fail("ESTALE", `descriptor ${id} (${d.name}) was revoked`);
  if (nodeDown(d.node)) fail("EHOSTDOWN", `node ${d.node} is down`);
  if (!(d.rights & need)) fail("EPERM", `descriptor ${id} lacks the right ${need}`);
  if (off + count > d.size) {
    fail("EINVAL", `offset ${off}+${count} is outside the ${d.size}-byte segment`);
  }
  return d;
}
