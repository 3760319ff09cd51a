/**
 * A node's exported segments (000 §4.1): each export has a name, the rights it
 * grants (optionally only to given nodes or pids), write inhibit, and a generation.
 *
 * Generations are two 32-bit words: the node's incarnation (drawn at boot, so a
 * node that comes back issues generations no one has seen) and a counter that only
 * grows. A request carrying any other generation is stale (ESTALE).
 */

import type { Segment } from "../memory/segment.ts";
import { FIRST_EXPORT_ID, WELL_KNOWN_EXPORTS } from "../abi/names.ts";

export interface Export {
  readonly id: number;
  readonly name: string;
  readonly segment: Segment;
  readonly owner: number;
  readonly rights: number;
  /** Nodes allowed to use it, or null for any. */
  readonly nodes: readonly number[] | null;
  /** Remote pids allowed to use it, or null for any. */
  readonly pids: readonly number[] | null;
  readonly genHi: number;
  readonly genLo: number;
  inhibited: boolean;
  readonly wellKnown: boolean;
  /** If set, node n may write only bytes [n·slot, (n+1)·slot) (a clerk's mailbox). */
  readonly slotPerNode?: number;
}

export type ExportOptions = Pick<Export, "nodes" | "pids">;

export class ExportTable {
  readonly incarnation: number;
  readonly #byId = new Map<number, Export>();
  /**
   * Names a system server (a process with Cap.SERVICE) has exported on this node:
   * from then on only such a server may export them, so while one is restarted no
   * program can take its name (`exec.N`). Kept for the node's life; a handful.
   */
  readonly #serviceNames = new Set<string>();
  #nextId = FIRST_EXPORT_ID;
  #counter = 0;

  constructor(incarnation: number) {
    this.incarnation = incarnation >>> 0;
  }

  /** Adds an export with a fresh id and generation. */
  add(segment: Segment, owner: number, name: string, rights: number, o: ExportOptions): Export {
    return this.#put(this.#nextId++, segment, owner, name, rights, o, false);
  }

  /** Adds (or replaces) a well-known export at its fixed id. */
  addWellKnown(id: number, segment: Segment, owner: number): Export {
    const known = WELL_KNOWN_EXPORTS[id];
    if (!known) throw new RangeError(`no well-known export ${id}`);
    const { name, rights, slotBytes } = known;
    const e = this.#put(id, segment, owner, name, rights, { nodes: null, pids: null }, true);
    if (slotBytes) (e as { slotPerNode?: number }).slotPerNode = slotBytes;
    return e;
  }

  #put(
    id: number,
    segment: Segment,
    owner: number,
    name: string,
    rights: number,
    o: ExportOptions,
    wellKnown: boolean,
  ): Export {
    const e: Export = {
      id,
      name,
      segment,
      owner,
      rights,
      nodes: o.nodes,
      pids: o.pids,
      genHi: this.incarnation,
      genLo: ++this.#counter,
      inhibited: false,
      wellKnown,
    };
    this.#byId.set(id, e);
    return e;
  }

  get(id: number): Export | undefined {
    return this.#byId.get(id);
  }

  /** The live export of `name` by `owner`, if any. */
  byName(name: string, owner?: number): Export | undefined {
    for (const e of this.#byId.values()) {
      if (e.name === name && (owner === undefined || e.owner === owner)) return e;
    }
    return undefined;
  }

  /** `name` is a system server's from now on (see #serviceNames). */
  reserveForServices(name: string): void {
    this.#serviceNames.add(name);
  }

  /** True if only a system server may export `name` here. */
  reservedForServices(name: string): boolean {
    return this.#serviceNames.has(name);
  }

  remove(id: number): void {
    this.#byId.delete(id);
  }

  /** Every export of a segment (to drop them when it is freed). */
  ofSegment(segment: Segment): Export[] {
    return [...this.#byId.values()].filter((e) => e.segment === segment);
  }

  all(): Export[] {
    return [...this.#byId.values()];
  }
}
