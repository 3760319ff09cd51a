/**
 * The kernel's use of its node's name clerk (000 §4.1): export, import and revoke
 * become requests on the clerk's channel (name_client.ts). The clerk is a server
 * that attaches through the service registry as "names"; until one has (it starts
 * with the node), requests wait for it up to CLERK_WAIT_MS, then fail with EIO.
 * When the clerk dies its waiting requests fail with EIO; a successor is told the
 * node's live exports again before it takes any request.
 */

import { Errno } from "../abi/errors.ts";
import { NameOp } from "../abi/names.ts";
import type { Clock, TimerHandle } from "../host_interface.ts";
import type { ExportTable } from "./export_table.ts";
import { blankRecord, type NameClient, type NameRecord } from "./name_client.ts";

/** How long a name request waits for the node's clerk to start. */
export const CLERK_WAIT_MS = 5_000;

/** The role the name clerk holds in the service registry. */
export const NAMES_SERVICE = "names";

interface Waiting {
  readonly r: NameRecord;
  readonly cb: (a: NameRecord) => void;
  readonly timer: TimerHandle;
}

export class NameService {
  /** The channel to the clerk, while one is attached. */
  client: NameClient | null = null;
  readonly #nodeId: number;
  readonly #exports: ExportTable;
  readonly #clock: Clock;
  /** Requests made before a clerk attached. */
  readonly #backlog: Waiting[] = [];

  constructor(nodeId: number, exports: ExportTable, clock: Clock) {
    this.#nodeId = nodeId;
    this.#exports = exports;
    this.#clock = clock;
  }

  /**
   * Posts a request to the clerk; `cb` gets its answer (status EIO if no clerk
   * attached within CLERK_WAIT_MS). Returns a function that cancels the wait.
   */
  ask(r: NameRecord, cb: (a: NameRecord) => void): () => void {
    if (this.client) return this.client.request(r, cb);
    const item: Waiting = {
      r,
      cb,
      timer: this.#clock.setTimeout(() => {
        this.#drop(item);
        cb({ ...r, status: Errno.EIO });
      }, CLERK_WAIT_MS),
    };
    this.#backlog.push(item);
    return () => this.#drop(item);
  }

  /** Posts a request whose answer nobody waits for (a clerk that is not there misses it). */
  tell(r: NameRecord): void {
    this.client?.request(r, () => {});
  }

  /**
   * A clerk attached: it takes the name service and every request that waited. A
   * clerk that replaces a dead one is told the node's live exports again first.
   */
  attach(client: NameClient): void {
    this.client = client;
    for (const e of this.#exports.all()) {
      if (e.wellKnown) continue;
      const r = blankRecord(NameOp.ADD, e.name);
      Object.assign(r, {
        node: this.#nodeId,
        exportId: e.id,
        genHi: e.genHi,
        genLo: e.genLo,
        rights: e.rights,
        size: e.segment.size,
      });
      client.request(r, () => {});
    }
    for (const item of [...this.#backlog]) {
      this.#drop(item);
      client.request(item.r, item.cb);
    }
  }

  /** The clerk is gone: waiting requests fail, none are taken. */
  detach(): void {
    const client = this.client;
    if (!client) return;
    client.channel.kernelHandler = null;
    client.failAll(Errno.EIO);
    this.client = null;
  }

  /** The node halts: requests still waiting for a clerk are dropped. */
  stop(): void {
    for (const item of [...this.#backlog]) this.#drop(item);
  }

  #drop(item: Waiting): void {
    this.#clock.clearTimeout(item.timer);
    const i = this.#backlog.indexOf(item);
    if (i >= 0) this.#backlog.splice(i, 1);
  }
}
