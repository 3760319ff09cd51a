/**
 * A process's bulk buffer for the file API's large reads and writes (the BULK calls
 * of protocol.ts; servers/files/bulk.ts is the server's side): one segment of
 * MAX_TRANSFER bytes, bound and pinned, exported under `files.bulk.NODE.PID`
 * (bulkBufferName) to the file server's process alone (the export's peer is the server's own `rpc.files`).
 * The server writes a READ_BULK's bytes into it and reads a WRITE_BULK's out of it
 * with remote memory operations.
 */

import { Rights } from "../../../kernel/abi/layout.ts";
import { view } from "../rt/mmu.ts";
import { attach, bind, CreateSegment, release } from "../sys/memory.ts";
import { getpid } from "../sys/process.ts";
import {
  closeDescriptor,
  exportSegment,
  importSegment,
  nodeId,
  pin,
  revoke,
} from "../sys/remote.ts";
import { bulkBufferName, FILES_SERVICE, MAX_TRANSFER } from "./protocol.ts";

export class BulkBuffer {
  readonly name: string;
  /** The buffer's bytes (writable: a write's bytes go here before its call). */
  readonly bytes: Uint8Array;
  readonly #segment: number;
  readonly #server: number;

  /** Makes and exports the buffer for the file server on `serverNode`. */
  constructor(serverNode: number) {
    this.name = bulkBufferName(nodeId(), getpid());
    this.#server = importSegment(`rpc.${FILES_SERVICE}`, { hint: serverNode }).desc;
    try {
      this.#segment = CreateSegment(MAX_TRANSFER);
    } catch (e) {
      closeDescriptor(this.#server);
      throw e;
    }
    let wk = -1;
    try {
      const base = bind(this.#segment);
      pin(base, MAX_TRANSFER);
      this.bytes = view(base, MAX_TRANSFER, true);
      // Attaching the server's well-known channel tells the kernel which process
      // serves it: the export's peer (as the RPC library's channels do).
      wk = attach(this.#server);
      exportSegment(this.#segment, this.name, Rights.READ | Rights.WRITE, { peer: this.#server });
    } catch (e) {
      release(this.#segment);
      closeDescriptor(this.#server);
      throw e;
    } finally {
      if (wk >= 0) release(wk);
    }
  }

  /** Ends the export and frees the buffer (after a failure, a new one is made). */
  close(): void {
    for (const end of [() => revoke(this.name), () => release(this.#segment)]) {
      try {
        end();
      } catch {
        // the export or the server is gone already
      }
    }
    try {
      closeDescriptor(this.#server);
    } catch {
      // stale with the server that went away
    }
  }
}
