/**
 * A process's descriptor table (000 §3.1.1: descriptors are kept by the co-processor
 * and privileged software, never by the process). A descriptor names a remote
 * segment: node, export id, generation, the rights its import granted, and size.
 * Numbers only grow, so a stale handle can never alias a new one.
 */

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
}

export class DescriptorTable {
  readonly #byId = new Map<number, Descriptor>();
  #next = 1;

  add(d: Omit<Descriptor, "id" | "stale">): Descriptor {
    const full: Descriptor = { ...d, id: this.#next++, stale: false };
    this.#byId.set(full.id, full);
    return full;
  }

  get(id: number): Descriptor | undefined {
    return this.#byId.get(id);
  }

  all(): Descriptor[] {
    return [...this.#byId.values()];
  }
}
